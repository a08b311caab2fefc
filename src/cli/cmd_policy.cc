// cairn policy set PATH [--replicas N] [--chunk-size SIZE]
// cairn policy get PATH [--json]
//
// Storage policies of directories (inherited by what is created below them
// afterwards). `set` changes only the fields given; 0 means "the cluster
// default".
#include <cstdio>
#include <memory>
#include <optional>

#include "cli/common.h"
#include "cli/progress.h"

namespace cairn::cli {
namespace {

struct PolicyArgs {
  ClientFlags client;
  std::string path;
  int replicas = -1;       // -1: unchanged
  std::string chunk_size;  // empty: unchanged
  bool json = false;
};

std::string Field(uint64_t stored, uint64_t effective, bool bytes) {
  std::string text =
      bytes ? Progress::Bytes(static_cast<double>(effective)) : std::to_string(effective);
  if (stored == 0) text += " (cluster default)";
  return text;
}

nlohmann::json PolicyJson(const StoragePolicy& p) {
  return {{"replicas", p.replicas}, {"chunk_size", p.chunk_size}};
}

void Print(const std::string& path, const PolicyInfo& info, bool json) {
  if (json) {
    nlohmann::json j = {{"path", path},
                        {"stored", PolicyJson(info.stored)},
                        {"effective", PolicyJson(info.effective)}};
    std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return;
  }
  std::printf("%s\n", path.c_str());
  std::printf("  replicas:   %s\n",
              Field(info.stored.replicas, info.effective.replicas, false).c_str());
  std::printf("  chunk size: %s\n",
              Field(info.stored.chunk_size, info.effective.chunk_size, true).c_str());
}

int RunGet(const PolicyArgs& args) {
  auto path = AbsolutePath(args.path);
  if (!path.ok()) return Report(args.path, path.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  auto info = client->GetPolicy(*path);
  if (!info.ok()) return Report(*path, info.status(), &args.client);
  Print(*path, *info, args.json);
  return kExitOk;
}

int RunSet(const PolicyArgs& args) {
  auto path = AbsolutePath(args.path);
  if (!path.ok()) return Report(args.path, path.status());
  std::optional<uint64_t> chunk_size;
  if (!args.chunk_size.empty()) {
    auto size = ParseSize(args.chunk_size);
    if (!size.ok()) return ReportMessage(std::string(size.status().message()));
    chunk_size = *size;
  }
  if (args.replicas < 0 && !chunk_size.has_value()) {
    return ReportMessage("policy set: nothing to change (give --replicas or --chunk-size)");
  }
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  // A policy is stored whole: keep the fields not given.
  auto current = client->GetPolicy(*path);
  if (!current.ok()) return Report(*path, current.status(), &args.client);
  StoragePolicy policy = current->stored;
  if (args.replicas >= 0) policy.replicas = static_cast<uint32_t>(args.replicas);
  if (chunk_size) policy.chunk_size = *chunk_size;
  auto info = client->SetPolicy(*path, policy);
  if (!info.ok()) {
    if (ErrcOf(info.status()) == Errc::kInvalid) {
      return ReportMessage(*path + ": " + std::string(info.status().message()));
    }
    return Report(*path, info.status(), &args.client);
  }
  Print(*path, *info, args.json);
  return kExitOk;
}

}  // namespace

void AddPolicy(CLI::App& app, Registry& registry) {
  CLI::App* policy = app.add_subcommand("policy", "Storage policies of directories");
  policy->require_subcommand(1);

  auto set = std::make_shared<PolicyArgs>();
  CLI::App* cmd = policy->add_subcommand(
      "set", "Change a directory's policy (what is created below it afterwards follows it)");
  cmd->add_option("PATH", set->path, "Directory")->required();
  cmd->add_option("--replicas", set->replicas, "Copies of each chunk (0: the cluster default)")
      ->check(CLI::Range(0, 16));
  cmd->add_option("--chunk-size", set->chunk_size,
                  "Chunk size: a power of two from 64K to 64M, e.g. 1M (0: the default, 8 MiB)");
  cmd->add_flag("--json", set->json, "Print the result as JSON");
  AddClientFlags(cmd, &set->client);
  registry.Add(cmd, [set] { return RunSet(*set); });

  auto get = std::make_shared<PolicyArgs>();
  cmd = policy->add_subcommand("get", "Show the stored and effective policy of a path");
  cmd->add_option("PATH", get->path, "File or directory")->required();
  cmd->add_flag("--json", get->json,
                "Print {path, stored: {replicas, chunk_size}, effective: {...}}");
  AddClientFlags(cmd, &get->client);
  registry.Add(cmd, [get] { return RunGet(*get); });
}

}  // namespace cairn::cli

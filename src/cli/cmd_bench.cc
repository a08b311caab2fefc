// cairn bench meta: metadata operation rates through the client library.
#include <cstdio>

#include "bench/meta_bench.h"
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct BenchMetaArgs {
  ClientFlags client;
  uint64_t files = 10000;
  int threads = 8;
  bool json = false;
  std::string dir = "/bench";
};

int RunBenchMeta(const BenchMetaArgs& args) {
  auto dir = AbsolutePath(args.dir);
  if (!dir.ok()) return Report(args.dir, dir.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  bench::MetaBenchOptions options;
  options.files = args.files;
  options.threads = args.threads;
  options.dir = *dir;
  auto result = bench::RunMetaBench(*client, options);
  if (!result.ok()) return Report("bench meta", result.status(), &args.client);

  if (args.json) {
    nlohmann::json j;
    nlohmann::json seconds = nlohmann::json::object();
    for (const auto& p : result->phases) {
      j[p.name] = p.ops_per_second;
      seconds[p.name] = p.seconds;
    }
    j["files"] = args.files;
    j["threads"] = args.threads;
    j["connections"] = args.client.connections;
    j["dir"] = *dir;
    j["seconds"] = seconds;
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("cairn bench meta: %llu files, %d threads, one directory (%s), meta %s\n",
              static_cast<unsigned long long>(args.files), args.threads, dir->c_str(),
              args.client.meta.c_str());
  for (const auto& p : result->phases) {
    std::printf("%-8s %10llu ops %9.3f s %12.0f ops/s\n", p.name.c_str(),
                static_cast<unsigned long long>(p.ops), p.seconds, p.ops_per_second);
  }
  return kExitOk;
}

}  // namespace

void AddBench(CLI::App& app, Registry& registry) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks against a running cluster");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchMetaArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "meta", "Create, stat, rename and unlink N files in one directory; print ops/s per phase");
  cmd->add_option("--files", args->files, "Number of files")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->required();
  cmd->add_option("--threads", args->threads, "Client threads sharing one connection")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_flag("--json", args->json,
                "Print one JSON object: {create, stat, rename, unlink} in ops/s plus files, "
                "threads, dir and seconds per phase");
  cmd->add_option("--dir", args->dir,
                  "Working directory (must not exist or be empty; removed afterwards)")
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  cmd->add_option("--connections", args->client.connections,
                  "TCP connections the client spreads its calls over")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  registry.Add(cmd, [args] { return RunBenchMeta(*args); });
}

}  // namespace cairn::cli

// cairn truncate -s SIZE PATH...
#include <cstdint>

#include "cairn/file.h"
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct TruncateArgs {
  ClientFlags client;
  std::string size;
  bool no_create = false;
  std::vector<std::string> paths;
};

int RunTruncate(const TruncateArgs& args) {
  absl::StatusOr<uint64_t> size = ParseSize(args.size);
  if (!size.ok()) return ReportMessage("invalid size '" + args.size + "'");
  uint32_t flags = kOpenWrite | (args.no_create ? 0u : kOpenCreate);
  return ForEachPath(args.client, args.paths,
                     [&](Client& client, const std::string& path) -> absl::Status {
                       absl::StatusOr<std::unique_ptr<File>> file = client.Open(path, flags, 0644);
                       if (!file.ok()) {
                         // Like coreutils: -c on a missing file is not an error.
                         if (args.no_create && ErrcOf(file.status()) == Errc::kNotFound) {
                           return absl::OkStatus();
                         }
                         return file.status();
                       }
                       absl::Status truncated = (*file)->Truncate(*size);
                       absl::Status closed = (*file)->Close();
                       return truncated.ok() ? closed : truncated;
                     });
}

}  // namespace

void AddTruncate(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<TruncateArgs>();
  CLI::App* cmd = app.add_subcommand(
      "truncate",
      "Shrink or extend files to a size (bytes past it are gone; growing reads as zeros)");
  cmd->add_option("-s,--size", args->size, "New size in bytes (suffixes K, M, G: powers of 1024)")
      ->required();
  cmd->add_flag("-c,--no-create", args->no_create, "Do not create missing files");
  cmd->add_option("PATH", args->paths, "Files to resize")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunTruncate(*args); });
}

}  // namespace cairn::cli

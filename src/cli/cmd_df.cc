// cairn df [--json]: capacity and inode counts (statfs).
#include <cstdio>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct DfArgs {
  ClientFlags client;
  bool json = false;
};

int RunDf(const DfArgs& args) {
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  auto fs = client->StatFs();
  if (!fs.ok()) return Report(args.client.meta, fs.status(), &args.client);
  if (args.json) {
    nlohmann::json j = {{"total_bytes", fs->total_bytes}, {"free_bytes", fs->free_bytes},
                        {"avail_bytes", fs->avail_bytes}, {"files", fs->files},
                        {"files_free", fs->files_free},   {"name_max", fs->name_max},
                        {"block_size", fs->block_size}};
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  uint64_t used = fs->total_bytes - std::min(fs->total_bytes, fs->free_bytes);
  uint64_t denom = used + fs->avail_bytes;
  std::string pct = denom == 0 ? "-" : std::to_string((used * 100 + denom - 1) / denom) + "%";
  std::printf("%-12s %12s %12s %12s %5s %10s %10s\n", "Filesystem", "1K-blocks", "Used",
              "Available", "Use%", "Inodes", "IFree");
  std::printf("%-12s %12llu %12llu %12llu %5s %10llu %10llu\n", "cairn",
              static_cast<unsigned long long>(fs->total_bytes / 1024),
              static_cast<unsigned long long>(used / 1024),
              static_cast<unsigned long long>(fs->avail_bytes / 1024), pct.c_str(),
              static_cast<unsigned long long>(fs->files + fs->files_free),
              static_cast<unsigned long long>(fs->files_free));
  return kExitOk;
}

}  // namespace

void AddDf(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<DfArgs>();
  CLI::App* cmd = app.add_subcommand("df", "Show capacity and inode usage (statfs)");
  cmd->alias("statfs");
  cmd->add_flag("--json", args->json,
                "Print a JSON object {total_bytes, free_bytes, avail_bytes, files, files_free, "
                "name_max, block_size}");
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunDf(*args); });
}

}  // namespace cairn::cli

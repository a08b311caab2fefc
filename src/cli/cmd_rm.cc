// cairn rm [-r] [-f] PATH...
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct RmArgs {
  ClientFlags client;
  bool recursive = false;
  bool force = false;
  std::vector<std::string> paths;
};

int RunRm(const RmArgs& args) {
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  int rc = kExitOk;
  for (const std::string& arg : args.paths) {
    auto path = AbsolutePath(arg);
    if (!path.ok()) {
      rc = Report(arg, path.status());
      continue;
    }
    if (*path == "/") {
      rc = ReportMessage("refusing to remove '/'");
      continue;
    }
    absl::Status s = args.recursive ? client->RemoveAll(*path) : client->Unlink(*path);
    if (s.ok() || (args.force && ErrcOf(s) == Errc::kNotFound)) continue;
    rc = Report(*path, s, &args.client);
  }
  return rc;
}

}  // namespace

void AddRm(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<RmArgs>();
  CLI::App* cmd = app.add_subcommand("rm", "Remove files, symlinks and (with -r) directories");
  cmd->add_flag("-r,-R,--recursive", args->recursive,
                "Remove directories and everything below them");
  cmd->add_flag("-f,--force", args->force, "Ignore paths that do not exist");
  cmd->add_option("PATH", args->paths, "Paths to remove")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunRm(*args); });
}

}  // namespace cairn::cli

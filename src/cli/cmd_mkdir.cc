// cairn mkdir [-p] [-m MODE] PATH...
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct MkdirArgs {
  ClientFlags client;
  bool parents = false;
  std::string mode = "755";
  std::vector<std::string> paths;
};

int RunMkdir(const MkdirArgs& args) {
  auto mode = ParseMode(args.mode);
  if (!mode.ok()) return ReportMessage(std::string(mode.status().message()));
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  int rc = kExitOk;
  for (const std::string& arg : args.paths) {
    auto path = AbsolutePath(arg);
    if (!path.ok()) {
      rc = Report(arg, path.status());
      continue;
    }
    absl::Status s =
        args.parents ? client->MkdirAll(*path, *mode) : client->Mkdir(*path, *mode).status();
    if (!s.ok()) rc = Report(*path, s, &args.client);
  }
  return rc;
}

}  // namespace

void AddMkdir(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<MkdirArgs>();
  CLI::App* cmd = app.add_subcommand("mkdir", "Create directories");
  cmd->add_flag("-p,--parents", args->parents,
                "Create missing parent directories; no error if the directory exists");
  cmd->add_option("-m,--mode", args->mode, "Permission bits, in octal")->capture_default_str();
  cmd->add_option("PATH", args->paths, "Directories to create")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunMkdir(*args); });
}

}  // namespace cairn::cli

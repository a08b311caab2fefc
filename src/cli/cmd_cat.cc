// cairn cat PATH...: the files' content to standard output, in order.
#include <unistd.h>

#include <memory>

#include "cli/transfer.h"

namespace cairn::cli {
namespace {

struct CatArgs {
  ClientFlags client;
  std::vector<std::string> paths;
};

int RunCat(const CatArgs& args) {
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  // A meter only when it cannot mix with the output.
  Progress progress(0, Progress::IsTerminal() && ::isatty(STDOUT_FILENO) == 0);
  int rc = kExitOk;
  for (const std::string& arg : args.paths) {
    auto path = AbsolutePath(arg);
    if (!path.ok()) {
      rc = Report(arg, path.status());
      continue;
    }
    if (DownloadToFd(*client, args.client, *path, STDOUT_FILENO, "stdout", &progress) != kExitOk) {
      rc = kExitFailure;
    }
  }
  progress.Finish();
  return rc;
}

}  // namespace

void AddCat(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<CatArgs>();
  CLI::App* cmd = app.add_subcommand("cat", "Write files to standard output");
  cmd->add_option("PATH", args->paths, "Files to print")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunCat(*args); });
}

}  // namespace cairn::cli

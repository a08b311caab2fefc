// `cairn`: the one binary. Servers (`cairn meta`) and the command-line
// client (`cairn ls`, `cairn mkdir`, ...) are subcommands, one file each.
#include <cstdio>

#include "absl/synchronization/mutex.h"
#include "cli/common.h"

int main(int argc, char** argv) {
  using namespace cairn::cli;
  // Debian builds abseil without NDEBUG, which turns on absl::Mutex
  // deadlock detection: a global graph update on every lock, paid by gRPC
  // and the stores on each request. Tests keep it; the binary does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{
      "Cairn: a distributed file system.\n\n"
      "Client commands talk to a metadata server given by --meta HOST:PORT\n"
      "(or the CAIRN_META environment variable; default 127.0.0.1:9400).\n"
      "Paths are absolute; relative ones are taken from '/'.",
      "cairn"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.footer(
      "Run 'cairn COMMAND --help' for a command's options.\n"
      "Exit status: 0 success, 1 an operation failed, 2 bad usage.");

  Registry registry;
  AddCommands(app, registry);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Help prints to stdout and exits 0; usage errors print CLI11's
    // message to stderr and exit 2.
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  int code = registry.RunParsed();
  std::fflush(stdout);
  return code;
}

// cairn shell [--meta HOST:PORT] [--timeout S]: the client commands at an
// interactive prompt (shell.h). On a terminal: line editing, history in
// $CAIRN_HISTORY or ~/.cairn_history, tab completion. Otherwise lines are
// read plainly from stdin, without prompt, for scripts.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/common.h"
#include "cli/shell.h"
#include "cli/shell_input.h"

namespace cairn::cli {
namespace {

struct ShellArgs {
  ClientFlags client;
};

// $CAIRN_HISTORY (empty: no history file), else ~/.cairn_history, else none.
std::string HistoryFile() {
  if (const char* path = std::getenv("CAIRN_HISTORY")) return path;
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return "";
  return std::string(home) + "/.cairn_history";
}

int RunShell(const ShellArgs& args) {
  Shell shell(args.client);
  if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
    auto reader = NewPlainLineReader(std::cin);
    return shell.Run(*reader, /*interactive=*/false);
  }
  EditLineOptions options;
  options.history_file = HistoryFile();
  options.completer = [&shell](const std::vector<std::string>& before, const std::string& partial) {
    return shell.Complete(before, partial);
  };
  auto reader = NewEditLineReader(std::move(options));
  std::printf("Cairn shell on %s. Type 'help' for the commands, 'exit' or Ctrl-D to leave.\n",
              args.client.meta.c_str());
  return shell.Run(*reader, /*interactive=*/true);
}

}  // namespace

void AddShell(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<ShellArgs>();
  CLI::App* cmd = app.add_subcommand(
      "shell", "Interactive prompt for the client commands, with cd, pwd and relative paths");
  AddClientFlags(cmd, &args->client);
  cmd->footer(
      "Offers every client command plus cd, pwd, help [COMMAND] and exit [N].\n"
      "On a terminal: line editing, history in $CAIRN_HISTORY (default ~/.cairn_history),\n"
      "Ctrl-R search and tab completion of commands, options and paths. Otherwise\n"
      "lines are read from stdin without a prompt. Exit status: that of 'exit N',\n"
      "else of the last failing line (0 if none).");
  registry.Add(cmd, [args] { return RunShell(*args); });
}

}  // namespace cairn::cli

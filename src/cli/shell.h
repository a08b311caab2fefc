// `cairn shell`: an interactive prompt offering every client command of
// `cairn` (as registered by AddCommands, so new commands appear without
// changes here) plus the built-ins cd, pwd, help and exit/quit.
//
// Each line is split into words (shell_words.h) and parsed by a fresh
// CLI::App, so no option value leaks from one line into the next. The
// shell's own --meta and --timeout are the defaults of every command; a
// line may still give its own. Relative paths are taken from the shell's
// current directory (WorkingDirectory() in common.h), which `cd` changes.
// Server commands (kNotInShell) are not offered.
//
// Nothing a line does ends the shell but exit/quit and the end of input:
// syntax errors, unknown commands, bad options and failing commands print
// a message and set the status. The shell exits with the status given to
// `exit N`, else that of the last failing line (0 when none failed).
//
// Thread-compatible: one thread drives a Shell. It sets the process-wide
// working directory, so have one Shell per process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/client.h"
#include "cli/common.h"
#include "cli/shell_input.h"

namespace cairn::cli {

class Shell {
 public:
  // `flags`: the defaults of every command run by the shell, and what cd
  // and completion connect to. Resets the working directory to "/".
  explicit Shell(ClientFlags flags);
  ~Shell();

  // Runs one line; returns its status (kExitOk, kExitFailure, kExitUsage).
  int RunLine(std::string_view line);

  // Reads and runs lines until the end of input or exit; returns the exit
  // status. `interactive`: show the prompt and record history.
  int Run(LineReader& reader, bool interactive);

  // True once exit/quit ran.
  bool done() const { return done_; }
  // The status the shell exits with now (see above).
  int exit_status() const { return exit_status_ >= 0 ? exit_status_ : last_failure_; }

  // "cairn:/current/dir> ".
  std::string Prompt() const;

  // Tab completion (see Completer in shell_input.h): command names for the
  // first word, option names for a word starting with '-', subcommand
  // names, else remote paths (directories only for cd).
  std::vector<std::string> Complete(const std::vector<std::string>& before,
                                    const std::string& partial);

 private:
  int RunWords(const std::vector<std::string>& words);
  int RunClientCommand(const std::vector<std::string>& words);
  int Cd(const std::vector<std::string>& args);
  int Pwd(const std::vector<std::string>& args);
  int Help(const std::vector<std::string>& args);
  int Exit(const std::vector<std::string>& args);
  std::vector<std::string> CompletePath(const std::string& partial, bool dirs_only);
  // A client for cd and completion (per-call deadline at most 3 s for
  // completion), connected on first use; null after reporting an error.
  Client* client(bool for_completion);

  ClientFlags flags_;
  std::unique_ptr<Client> client_;
  std::unique_ptr<Client> completion_client_;
  std::string previous_dir_ = "/";  // for `cd -`
  int last_failure_ = kExitOk;
  int exit_status_ = -1;  // set by `exit N`
  bool done_ = false;
};

}  // namespace cairn::cli

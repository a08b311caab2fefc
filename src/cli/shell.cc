#include "cli/shell.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/shell_words.h"
#include "meta/names.h"

namespace cairn::cli {
namespace {

// ---- The client commands, built afresh for every line.

struct CommandTree {
  CLI::App app{"Cairn shell", ""};
  Registry registry;
};

// Server commands run daemons and the shell does not nest: by name, or by
// the options only a server has.
bool OfferedInShell(const CLI::App& command) {
  for (std::string_view name : kNotInShell) {
    if (command.get_name() == name) return false;
  }
  return command.get_option_no_throw("--listen") == nullptr &&
         command.get_option_no_throw("--ready-file") == nullptr;
}

std::vector<CLI::App*> Subcommands(CLI::App& app) {
  // Option groups are unnamed subcommands; leave them out.
  return app.get_subcommands([](CLI::App* s) { return !s->get_name().empty(); });
}

// Makes the shell's --meta and --timeout the defaults of every command
// (shown as such by help), in place of the built-in ones and CAIRN_META
// (already part of the shell's own value).
void ApplyClientDefaults(CLI::App& app, const ClientFlags& flags) {
  if (CLI::Option* meta = app.get_option_no_throw("--meta")) {
    meta->envname("")->run_callback_for_default()->default_val(flags.meta);
  }
  if (CLI::Option* timeout = app.get_option_no_throw("--timeout")) {
    timeout->run_callback_for_default()->default_val(flags.timeout_seconds);
  }
  for (CLI::App* sub : Subcommands(app)) ApplyClientDefaults(*sub, flags);
}

std::unique_ptr<CommandTree> BuildCommands(const ClientFlags& flags) {
  auto tree = std::make_unique<CommandTree>();
  AddCommands(tree->app, tree->registry);
  for (CLI::App* sub : Subcommands(tree->app)) {
    if (OfferedInShell(*sub)) {
      ApplyClientDefaults(*sub, flags);
    } else {
      sub->group("");  // hidden from help
    }
  }
  return tree;
}

// The offered subcommand of `app` called `name`, or null.
CLI::App* FindCommand(CLI::App& app, std::string_view name, bool top_level) {
  for (CLI::App* sub : Subcommands(app)) {
    if (sub->check_name(std::string(name))) {
      return !top_level || OfferedInShell(*sub) ? sub : nullptr;
    }
  }
  return nullptr;
}

// ---- Built-ins.

bool IsBuiltin(std::string_view word) {
  return word == "cd" || word == "pwd" || word == "help" || word == "exit" || word == "quit";
}

struct BuiltinHelp {
  const char* name;
  const char* usage;
  const char* summary;
};

constexpr BuiltinHelp kBuiltins[] = {
    {"cd", "cd [DIR | -]", "Change the current directory (no DIR: /; -: the previous one)"},
    {"pwd", "pwd", "Print the current directory"},
    {"help", "help [COMMAND [SUBCOMMAND]]", "List the commands, or show one command's options"},
    {"exit", "exit [N]", "Leave with status N, else that of the last failing line (Ctrl-D too)"},
    {"quit", "quit [N]", "Same as exit"},
};

const BuiltinHelp* FindBuiltin(std::string_view name) {
  for (const BuiltinHelp& b : kBuiltins) {
    if (name == b.name) return &b;
  }
  return nullptr;
}

// "  NAME  SUMMARY", with the first line of the summary only.
void PrintRow(std::string_view name, std::string_view summary) {
  summary = summary.substr(0, summary.find('\n'));
  std::printf("  %-12.*s %.*s\n", static_cast<int>(name.size()), name.data(),
              static_cast<int>(summary.size()), summary.data());
}

// Prints "cairn: MESSAGE" and returns kExitUsage.
int UsageError(std::string_view message) {
  ReportMessage(message);
  return kExitUsage;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The parent of an absolute normalized path ("/" for "/").
std::string Parent(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : std::string(path.substr(0, slash));
}

}  // namespace

Shell::Shell(ClientFlags flags) : flags_(std::move(flags)) { SetWorkingDirectory("/"); }

Shell::~Shell() = default;

std::string Shell::Prompt() const { return "cairn:" + WorkingDirectory() + "> "; }

int Shell::Run(LineReader& reader, bool interactive) {
  while (!done_) {
    std::optional<std::string> line = reader.ReadLine(Prompt());
    if (!line.has_value()) break;
    if (interactive && line->find_first_not_of(" \t") != std::string::npos) {
      reader.AddHistory(*line);
    }
    RunLine(*line);
  }
  return exit_status();
}

int Shell::RunLine(std::string_view line) {
  int rc = kExitOk;
  auto words = SplitWords(line);
  if (!words.ok()) {
    rc = UsageError(std::string(words.status().message()));
  } else if (!words->empty()) {
    try {
      rc = RunWords(*words);
    } catch (const std::exception& e) {
      // A command must not end the shell, whatever it throws.
      rc = ReportMessage((*words)[0] + ": unexpected error: " + e.what());
    }
  }
  std::fflush(stdout);
  std::cout.flush();
  if (rc != kExitOk) last_failure_ = rc;
  return rc;
}

int Shell::RunWords(const std::vector<std::string>& words) {
  const std::string& name = words[0];
  std::vector<std::string> args(words.begin() + 1, words.end());
  if (name == "cd") return Cd(args);
  if (name == "pwd") return Pwd(args);
  if (name == "help") return Help(args);
  if (name == "exit" || name == "quit") return Exit(args);
  return RunClientCommand(words);
}

int Shell::RunClientCommand(const std::vector<std::string>& words) {
  std::unique_ptr<CommandTree> tree = BuildCommands(flags_);
  const std::string& name = words[0];
  if (FindCommand(tree->app, name, /*top_level=*/true) == nullptr) {
    if (FindCommand(tree->app, name, /*top_level=*/false) != nullptr) {
      return UsageError("'" + name + "' is not available in the shell; run 'cairn " + name +
                        "' outside it");
    }
    return UsageError("unknown command '" + name + "'; type 'help' for the list of commands");
  }
  tree->app.failure_message([name](const CLI::App*, const CLI::Error& e) {
    return "cairn: " + name + ": " + e.what() + "\n(type 'help " + name + "' for its usage)\n";
  });
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 wants them reversed
  try {
    tree->app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    // --help prints the command's help here (exit code 0); errors print
    // the failure message. Neither leaves the shell.
    int code = tree->app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  return tree->registry.RunParsed();
}

Client* Shell::client(bool for_completion) {
  std::unique_ptr<Client>& c = for_completion ? completion_client_ : client_;
  if (c == nullptr) {
    ClientFlags flags = flags_;
    if (for_completion) {
      flags.timeout_seconds = std::min(flags.timeout_seconds, 3.0);
      flags.meta_wait_seconds = std::min(flags.meta_wait_seconds, 3.0);
    }
    ClientOptions options = ClientOptionsOf(flags);
    auto connected = Client::Connect(options);
    if (!connected.ok()) {
      if (!for_completion) {
        ReportMessage("meta server " + flags.meta + ": " +
                      std::string(connected.status().message()));
      }
      return nullptr;
    }
    c = std::move(*connected);
  }
  return c.get();
}

int Shell::Cd(const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageError("cd: too many arguments");
  std::string arg = args.empty() ? "/" : args[0];
  if (arg == "-") arg = previous_dir_;
  auto path = AbsolutePath(arg);
  if (!path.ok()) return Report("cd: " + arg, path.status());
  Client* c = client(false);
  if (c == nullptr) return kExitFailure;
  // Symlinks in the last component are followed (the server follows the
  // others), so the current directory is always a real directory.
  std::string target = *path;
  for (int hops = 0;; ++hops) {
    auto attr = c->Stat(target);
    if (!attr.ok()) return Report("cd: " + target, attr.status(), &flags_);
    if (attr->type == FileType::kDirectory) break;
    if (attr->type != FileType::kSymlink) {
      return Report("cd: " + target, NotDir(target), &flags_);
    }
    if (hops == 40) return Report("cd: " + *path, Error(Errc::kLoop, *path), &flags_);
    auto next = meta::NormalizePath(Parent(target), attr->symlink_target);
    if (!next.ok()) return Report("cd: " + target, next.status());
    target = *next;
  }
  previous_dir_ = WorkingDirectory();
  SetWorkingDirectory(target);
  if (!args.empty() && args[0] == "-") std::printf("%s\n", target.c_str());
  return kExitOk;
}

int Shell::Pwd(const std::vector<std::string>& args) {
  if (!args.empty()) return UsageError("pwd: takes no arguments");
  std::printf("%s\n", WorkingDirectory().c_str());
  return kExitOk;
}

int Shell::Exit(const std::vector<std::string>& args) {
  if (args.size() > 1) return UsageError("exit: too many arguments");
  if (args.size() == 1) {
    const std::string& n = args[0];
    bool numeric = !n.empty() && n.size() <= 3 &&
                   std::all_of(n.begin(), n.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!numeric || std::stoi(n) > 255) {
      return UsageError("exit: '" + n + "' is not a status (0..255)");
    }
    exit_status_ = std::stoi(n);
  }
  done_ = true;
  return kExitOk;
}

int Shell::Help(const std::vector<std::string>& args) {
  std::unique_ptr<CommandTree> tree = BuildCommands(flags_);
  if (args.empty()) {
    std::printf("Commands (relative paths are taken from the current directory):\n");
    for (CLI::App* sub : Subcommands(tree->app)) {
      if (OfferedInShell(*sub)) PrintRow(sub->get_name(), sub->get_description());
    }
    std::printf("\nShell commands:\n");
    for (const BuiltinHelp& b : kBuiltins) PrintRow(b.name, b.summary);
    std::printf(
        "\nEvery command talks to --meta %s with --timeout %g unless the line gives its own.\n"
        "Quote words with '...' or \"...\", or escape a character with \\.\n"
        "Type 'help COMMAND' or 'COMMAND --help' for a command's options.\n",
        flags_.meta.c_str(), flags_.timeout_seconds);
    return kExitOk;
  }
  if (const BuiltinHelp* b = FindBuiltin(args[0])) {
    if (args.size() > 1) return UsageError("help: " + args[0] + " has no subcommands");
    std::printf("Usage: %s\n  %s\n", b->usage, b->summary);
    return kExitOk;
  }
  CLI::App* command = &tree->app;
  std::string prefix;  // the names above the command, for its usage line
  for (size_t i = 0; i < args.size(); ++i) {
    CLI::App* sub = FindCommand(*command, args[i], /*top_level=*/i == 0);
    if (sub == nullptr) {
      return UsageError("help: no command '" + args[i] + "'; type 'help' for the list of commands");
    }
    if (command != &tree->app) prefix += (prefix.empty() ? "" : " ") + command->get_name();
    command = sub;
  }
  std::cout << command->help(prefix) << std::flush;
  return kExitOk;
}

std::vector<std::string> Shell::Complete(const std::vector<std::string>& before,
                                         const std::string& partial) {
  std::vector<std::string> out;
  auto add = [&](const std::string& word) {
    if (StartsWith(word, partial)) out.push_back(word);
  };
  std::unique_ptr<CommandTree> tree = BuildCommands(flags_);
  if (before.empty() || (before.size() == 1 && before[0] == "help")) {
    for (const BuiltinHelp& b : kBuiltins) add(b.name);
    for (CLI::App* sub : Subcommands(tree->app)) {
      if (OfferedInShell(*sub)) add(sub->get_name());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  if (before[0] == "cd") return before.size() == 1 ? CompletePath(partial, true) : out;
  if (IsBuiltin(before[0])) return out;

  // Descend through the subcommands named so far (bench meta ...).
  CLI::App* command = FindCommand(tree->app, before[0], /*top_level=*/true);
  if (command == nullptr) return out;
  for (size_t i = 1; i < before.size(); ++i) {
    if (CLI::App* sub = FindCommand(*command, before[i], false)) command = sub;
  }
  if (StartsWith(partial, "-")) {
    for (const CLI::Option* opt : command->get_options()) {
      for (const std::string& l : opt->get_lnames()) add("--" + l);
      for (const std::string& s : opt->get_snames()) add("-" + s);
    }
    std::sort(out.begin(), out.end());
    return out;
  }
  std::vector<CLI::App*> subs = Subcommands(*command);
  if (!subs.empty()) {
    for (CLI::App* sub : subs) add(sub->get_name());
    return out;
  }
  return CompletePath(partial, false);
}

std::vector<std::string> Shell::CompletePath(const std::string& partial, bool dirs_only) {
  constexpr size_t kMaxCandidates = 1000;
  constexpr int kMaxPages = 20;
  std::vector<std::string> out;
  size_t slash = partial.rfind('/');
  std::string dir_part = slash == std::string::npos ? "" : partial.substr(0, slash + 1);
  std::string prefix = partial.substr(dir_part.size());
  auto dir = AbsolutePath(dir_part.empty() ? "." : dir_part);
  if (!dir.ok()) return out;
  Client* c = client(true);
  if (c == nullptr) return out;
  // Entries come in byte order: stop at the first name past the prefix.
  std::string cursor;
  for (int page = 0; page < kMaxPages && out.size() < kMaxCandidates; ++page) {
    auto entries = c->ReadDirPage(*dir, cursor, 0, false);
    if (!entries.ok()) return out;
    for (const DirEntry& e : entries->entries) {
      if (StartsWith(e.name, prefix)) {
        bool is_dir = e.type == FileType::kDirectory;
        if (dirs_only && !is_dir && e.type != FileType::kSymlink) continue;
        out.push_back(dir_part + e.name + (is_dir ? "/" : ""));
      } else if (e.name > prefix) {
        return out;
      }
    }
    if (entries->eof || entries->next_cursor.empty()) break;
    cursor = entries->next_cursor;
  }
  return out;
}

}  // namespace cairn::cli

// Shared pieces of the `cairn` command line: the command registry, client
// flags, error reporting in the coreutils style, and attribute formatting.
//
// Every subcommand lives in its own file (cmd_*.cc) and registers itself
// through one Add* function declared at the bottom; main.cc calls them all.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/client.h"

namespace cairn::cli {

// Exit codes: 0 success, 1 an operation failed, 2 bad usage.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

// Leaf subcommands and what to run when one was parsed.
class Registry {
 public:
  void Add(CLI::App* command, std::function<int()> run) {
    entries_.push_back({command, std::move(run)});
  }
  // Runs the parsed leaf command; kExitUsage when none was parsed.
  int RunParsed() const;

 private:
  struct Entry {
    CLI::App* command;
    std::function<int()> run;
  };
  std::vector<Entry> entries_;
};

// --meta HOST:PORT (env CAIRN_META) and --timeout, on every client command.
struct ClientFlags {
  std::string meta = "127.0.0.1:9400";
  double timeout_seconds = 30;
  // ClientOptions::meta_retry_deadline, in seconds.
  double meta_wait_seconds = 60;
  // Connections to the meta server (ClientOptions::connections). One is
  // plenty for a command doing one call at a time; `bench` takes more.
  int connections = 1;
  // Chunks one open file uploads at once (ClientOptions::max_chunks_in_flight);
  // `bench data` takes it as a flag.
  int chunks_in_flight = 4;
  // ClientOptions::meta_batch_in_flight; `bench meta` takes it as a flag.
  int meta_batch_in_flight = 2;
};
void AddClientFlags(CLI::App* command, ClientFlags* flags);

// The client options the flags ask for.
ClientOptions ClientOptionsOf(const ClientFlags& flags);

// Connects, or prints the error and returns null.
std::unique_ptr<Client> ConnectOrReport(const ClientFlags& flags);

// Prints "cairn: WHAT: <strerror of ToErrno(status)>" to stderr (an
// unreachable server is reported with its address) and returns kExitFailure.
int Report(std::string_view what, const absl::Status& status, const ClientFlags* flags = nullptr);

// Prints "cairn: MESSAGE" to stderr and returns kExitFailure.
int ReportMessage(std::string_view message);

// A user-given path made absolute and normalized ("." and ".." resolved,
// relative to WorkingDirectory()). Errors are typed (kInvalid, kNameTooLong).
absl::StatusOr<std::string> AbsolutePath(std::string_view arg);

// The directory relative paths are taken from: "/" unless `cairn shell`
// changed it (cd). Process-wide; set it only while no command runs.
const std::string& WorkingDirectory();
// `dir` must be absolute and normalized (an AbsolutePath result).
void SetWorkingDirectory(std::string dir);

// Connects, then runs `op` on each argument made absolute (AbsolutePath),
// reporting every failure in the coreutils style and going on with the
// next. Returns kExitOk when every call succeeded, else kExitFailure.
int ForEachPath(const ClientFlags& flags, const std::vector<std::string>& args,
                const std::function<absl::Status(Client&, const std::string&)>& op);

// The last component of an absolute path ("" for "/").
std::string BaseName(std::string_view path);

// "drwxr-xr-x", with setuid/setgid/sticky as s/S and t/T.
std::string ModeString(FileType type, uint32_t mode);
// "2024-05-01 13:45" in local time, for ls -l.
std::string ShortTime(int64_t ns);
// "2024-05-01 13:45:07.123456789 +0200", for stat.
std::string LongTime(int64_t ns);

// {name, ino, type, mode, nlink, uid, gid, size, mtime_ns, ctime_ns,
// atime_ns, target?}
nlohmann::json AttrJson(std::string_view name, const Attr& attr);

// Parses a byte count: digits with an optional unit, K/KiB, M/MiB, G/GiB,
// T/TiB (powers of 1024, case-insensitive) or B: "65536", "64K", "8MiB".
// kInvalid otherwise (also on overflow).
absl::StatusOr<uint64_t> ParseSize(std::string_view text);

// Parses an octal mode such as "755" or "0644"; kInvalid otherwise.
absl::StatusOr<uint32_t> ParseMode(std::string_view text);

// Registers every subcommand below (commands.cc).
void AddCommands(CLI::App& app, Registry& registry);

// Commands that `cairn shell` does not offer: the servers, and the shell
// itself. Add a new server command here (commands with --listen or
// --ready-file are left out anyway).
inline constexpr std::string_view kNotInShell[] = {"meta", "chunk", "server", "shell"};

// Subcommands, one file each.
void AddMeta(CLI::App& app, Registry& registry);
void AddChunk(CLI::App& app, Registry& registry);
void AddServer(CLI::App& app, Registry& registry);
void AddMkdir(CLI::App& app, Registry& registry);
void AddTouch(CLI::App& app, Registry& registry);
void AddLs(CLI::App& app, Registry& registry);
void AddStat(CLI::App& app, Registry& registry);
void AddMv(CLI::App& app, Registry& registry);
void AddRm(CLI::App& app, Registry& registry);
void AddRmdir(CLI::App& app, Registry& registry);
void AddLn(CLI::App& app, Registry& registry);
void AddReadlink(CLI::App& app, Registry& registry);
void AddDf(CLI::App& app, Registry& registry);
void AddXattr(CLI::App& app, Registry& registry);
void AddBench(CLI::App& app, Registry& registry);
// File data (cmd_put.cc, cmd_get.cc, cmd_cat.cc, cmd_policy.cc, cmd_admin.cc).
void AddPut(CLI::App& app, Registry& registry);
void AddGet(CLI::App& app, Registry& registry);
void AddCat(CLI::App& app, Registry& registry);
void AddPolicy(CLI::App& app, Registry& registry);
void AddAdmin(CLI::App& app, Registry& registry);
void AddShell(CLI::App& app, Registry& registry);
void AddTruncate(CLI::App& app, Registry& registry);
void AddWrite(CLI::App& app, Registry& registry);

}  // namespace cairn::cli

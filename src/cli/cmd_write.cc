// cairn write PATH [--offset N]: standard input into a file, in place.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include "cairn/file.h"
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct WriteArgs {
  ClientFlags client;
  std::string offset = "0";
  bool append = false;
  std::string path;
};

int RunWrite(const WriteArgs& args) {
  absl::StatusOr<uint64_t> offset = ParseSize(args.offset);
  if (!offset.ok()) return ReportMessage("invalid offset '" + args.offset + "'");
  absl::StatusOr<std::string> path = AbsolutePath(args.path);
  if (!path.ok()) return Report(args.path, path.status());
  std::unique_ptr<Client> client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  uint32_t flags = kOpenWrite | kOpenCreate | (args.append ? kOpenAppend : 0u);
  absl::StatusOr<std::unique_ptr<File>> file = client->Open(*path, flags, 0644);
  if (!file.ok()) return Report(*path, file.status(), &args.client);
  (*file)->Seek(*offset);
  std::vector<char> buf(1 << 20);
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ReportMessage(std::string("standard input: ") + std::strerror(errno));
    if (n == 0) break;
    absl::Status written = (*file)->Write(buf.data(), static_cast<size_t>(n));
    if (!written.ok()) return Report(*path, written, &args.client);
  }
  absl::Status closed = (*file)->Close();
  if (!closed.ok()) return Report(*path, closed, &args.client);
  return kExitOk;
}

}  // namespace

void AddWrite(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<WriteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "write",
      "Write standard input into a file at an offset, keeping the rest of the file\n"
      "(creates the file when missing; only the chunks written to are replaced)");
  cmd->add_option("PATH", args->path, "File to write into")->required();
  cmd->add_option("-o,--offset", args->offset, "Where to start writing (bytes; K, M, G suffixes)");
  cmd->add_flag("-a,--append", args->append, "Write at the end of the file");
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunWrite(*args); });
}

}  // namespace cairn::cli

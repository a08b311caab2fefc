// Copying between the local file system and Cairn, shared by `cairn put`,
// `cairn get` and `cairn cat`: one file at a time through the client
// library's File (which keeps several chunks in flight), a job pool for
// copying many files in parallel, and the walk of local and remote trees.
//
// The copy functions report their own errors in the coreutils style
// ("cairn: PATH: No such file or directory", local or remote) and return an
// exit code (common.h).
//
// Thread-safety: the functions are thread-safe when `client` and
// `progress` are (they are).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "cli/progress.h"

namespace cairn::cli {

// Bytes moved per read/write call.
inline constexpr size_t kCopyBuffer = 4 << 20;

// Copies local `local` ("-": standard input) to the remote file `remote`,
// created or truncated, with permission bits `mode`.
int UploadFile(Client& client, const ClientFlags& flags, const std::string& local,
               const std::string& remote, uint32_t mode, Progress* progress);

// Copies the remote file `remote` to `fd` (which stays open).
int DownloadToFd(Client& client, const ClientFlags& flags, const std::string& remote, int fd,
                 const std::string& fd_name, Progress* progress);

// Copies the remote file `remote` to local `local` ("-": standard output),
// created or truncated, with permission bits `mode`.
int DownloadFile(Client& client, const ClientFlags& flags, const std::string& remote,
                 const std::string& local, uint32_t mode, Progress* progress);

// Runs `tasks` on `jobs` threads; returns kExitOk when every task did.
int RunJobs(int jobs, std::vector<std::function<int()>> tasks);

// "cairn: PATH: strerror(err)"; returns kExitFailure.
int ReportLocal(const std::string& path, int err);

// "/" + "a" -> "/a"; "/d" + "a" -> "/d/a"; "d" + "a" -> "d/a".
std::string Join(const std::string& dir, const std::string& name);

}  // namespace cairn::cli

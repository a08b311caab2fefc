// The Cairn client library: the one way into a Cairn file system for every
// frontend (CLI, FUSE, S3 gateway, web UI).
//
// A Client talks to the metadata server over gRPC. Path-based operations
// take absolute paths ("/a/b"); the server resolves them, following
// symlinks in every component but the last, so each operation is one RPC
// (MkdirAll, RemoveAll, ReadDir and Touch may take several). Inode-level
// operations (Lookup, GetAttr) serve the FUSE mount.
//
// Errors are absl::Status values carrying the precise Cairn error code
// (common/errors.h): ErrcOf(status) and ToErrno(status) give the same
// answer as on the server. A server that cannot be reached gives
// Errc::kUnavailable, a call over its deadline Errc::kTimeout.
//
// Thread-safety: a Client is thread-safe; share one among many threads
// (it holds one gRPC channel, or ClientOptions::connections of them,
// created once and reused by every call).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/errors.h"  // Errc, ErrcOf, ToErrno
#include "common/ids.h"     // InodeId

namespace cairn {

enum class FileType { kUnknown = 0, kRegular = 1, kDirectory = 2, kSymlink = 3 };

// "file", "dir", "symlink" ("unknown" otherwise).
std::string_view FileTypeName(FileType type);

struct Attr {
  InodeId ino;
  FileType type = FileType::kUnknown;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  uint32_t nlink = 0;
  int64_t atime_ns = 0;  // times: nanoseconds since the Unix epoch
  int64_t mtime_ns = 0;
  int64_t ctime_ns = 0;
  int64_t crtime_ns = 0;
  std::string symlink_target;  // symlinks only
};

struct DirEntry {
  std::string name;
  InodeId ino;
  FileType type = FileType::kUnknown;
  std::optional<Attr> attr;  // when asked for (with_attrs)
};

struct DirPage {
  std::vector<DirEntry> entries;  // in name (byte) order
  // Pass as `cursor` to get the next page (the last name returned).
  std::string next_cursor;
  bool eof = false;  // no entry after this page
};

struct StatFsInfo {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  uint64_t avail_bytes = 0;
  uint64_t files = 0;  // inodes in use
  uint64_t files_free = 0;
  uint32_t name_max = 0;
  uint32_t block_size = 0;
};

// Attributes to change; unset fields stay as they are.
struct SetAttrArgs {
  std::optional<uint32_t> mode;  // permission bits, 07777
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  std::optional<uint64_t> size;     // regular files only
  std::optional<int64_t> atime_ns;  // kTimeNow = the server's current time
  std::optional<int64_t> mtime_ns;
};
inline constexpr int64_t kTimeNow = -1;

// Rename flags (Linux values).
inline constexpr uint32_t kRenameNoReplace = 1;  // fail with kExists if dst exists
inline constexpr uint32_t kRenameExchange = 2;   // swap src and dst atomically
// SetXattr flags (Linux values).
inline constexpr uint32_t kXattrCreate = 1;   // fail with kExists if it exists
inline constexpr uint32_t kXattrReplace = 2;  // fail with kNoAttr if it does not

struct ClientOptions {
  // Metadata server, "HOST:PORT". Default 127.0.0.1:9400.
  std::string meta_address = "127.0.0.1:9400";
  // Deadline of each call (each RPC of a multi-RPC operation gets its
  // own). Default 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // TCP connections (gRPC channels) to the meta server, created once;
  // calls take them in turn. One multiplexes every thread's calls and was
  // as fast as several in `cairn bench meta` on a 2-core machine (the
  // server spreads one connection's calls over its callback threads);
  // more may help a client on a many-core machine. Default 1 (1..64).
  int connections = 1;
  // Owner recorded on inodes this client creates. Default 0 (root).
  uint32_t uid = 0;
  uint32_t gid = 0;
};

class Client {
 public:
  // Creates a client for options.meta_address. Connecting is lazy: an
  // unreachable server shows as kUnavailable on the first call.
  // kInvalid for an empty address.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  virtual ~Client() = default;

  // ---- Attributes
  // lstat: the last component is not followed.
  virtual absl::StatusOr<Attr> Stat(std::string_view path) = 0;
  virtual absl::StatusOr<Attr> SetAttr(std::string_view path, const SetAttrArgs& args) = 0;
  // Sets atime and mtime to now, creating an empty file (mode 0644) when
  // nothing exists at `path`.
  virtual absl::StatusOr<Attr> Touch(std::string_view path) = 0;
  virtual absl::StatusOr<StatFsInfo> StatFs() = 0;

  // ---- Directories
  virtual absl::StatusOr<Attr> Mkdir(std::string_view path, uint32_t mode) = 0;
  // Creates `path` and any missing parents; OK when it already is a
  // directory (kExists when it is something else).
  virtual absl::Status MkdirAll(std::string_view path, uint32_t mode) = 0;
  virtual absl::Status Rmdir(std::string_view path) = 0;
  // Every entry of the directory (all pages), in name order.
  virtual absl::StatusOr<std::vector<DirEntry>> ReadDir(std::string_view path, bool with_attrs) = 0;
  // One page: entries with names after `cursor` ("" = from the start), at
  // most `limit` (0 = the server's default and cap).
  virtual absl::StatusOr<DirPage> ReadDirPage(std::string_view path, std::string_view cursor,
                                              uint32_t limit, bool with_attrs) = 0;

  // ---- Files and links
  // Creates a regular file. When something exists at `path`: kExists if
  // `exclusive`, else the existing file is returned (kIsDir for a
  // directory).
  virtual absl::StatusOr<Attr> Create(std::string_view path, uint32_t mode, bool exclusive) = 0;
  virtual absl::Status Unlink(std::string_view path) = 0;
  // Removes `path` and, for a directory, everything below it. kNotFound
  // when `path` does not exist; entries that vanish meanwhile are fine.
  // kBusy for "/" (nothing is removed).
  virtual absl::Status RemoveAll(std::string_view path) = 0;
  virtual absl::Status Rename(std::string_view src, std::string_view dst, uint32_t flags) = 0;
  // Hard link: a new name `new_path` for the inode at `existing`.
  virtual absl::StatusOr<Attr> Link(std::string_view existing, std::string_view new_path) = 0;
  virtual absl::StatusOr<Attr> Symlink(std::string_view target, std::string_view link_path) = 0;
  virtual absl::StatusOr<std::string> Readlink(std::string_view path) = 0;

  // ---- Extended attributes
  virtual absl::StatusOr<std::string> GetXattr(std::string_view path, std::string_view name) = 0;
  virtual absl::Status SetXattr(std::string_view path, std::string_view name,
                                std::string_view value, uint32_t flags) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListXattr(std::string_view path) = 0;
  virtual absl::Status RemoveXattr(std::string_view path, std::string_view name) = 0;

  // Makes every metadata change acknowledged so far durable on disk.
  virtual absl::Status Fsync() = 0;

  // ---- Inode level (FUSE)
  virtual absl::StatusOr<Attr> Lookup(InodeId parent, std::string_view name) = 0;
  virtual absl::StatusOr<Attr> GetAttr(InodeId ino) = 0;
};

}  // namespace cairn

// Value types of the Cairn client API: attributes, directory entries,
// file-system statistics and attribute changes. Plain values; thread-safe
// to copy and read.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ids.h"  // InodeId

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

}  // namespace cairn

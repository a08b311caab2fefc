#include "chunkserver/node_id.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>
#include <string_view>

#include "common/errors.h"

namespace cairn::chunkserver {
namespace {

absl::Status IoError(const std::string& what, int err) {
  return Error(Errc::kIo, what + ": " + std::strerror(err));
}

// Parses "<decimal>\n" (the newline optional); nullopt otherwise.
std::optional<uint64_t> ParseId(const std::string& text) {
  std::string_view v = text;
  if (!v.empty() && v.back() == '\n') v.remove_suffix(1);
  if (v.empty() || v.size() > 20) return std::nullopt;
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), id);
  if (ec != std::errc() || end != v.data() + v.size() || id == 0) return std::nullopt;
  return id;
}

absl::Status WriteFully(int fd, const std::string& text, const std::string& path) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return IoError("write " + path, n < 0 ? errno : EIO);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return IoError("open " + dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return IoError("fsync " + dir, err);
  return absl::OkStatus();
}

absl::Status StoreOne(const std::string& dir, NodeId id) {
  const std::string path = dir + "/" + kNodeIdFile;
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("create " + tmp, errno);
  absl::Status st = WriteFully(fd, std::to_string(id.value()) + "\n", tmp);
  if (st.ok() && ::fsync(fd) != 0) st = IoError("fsync " + tmp, errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = IoError("rename " + tmp + " to " + path, errno);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDir(dir);
}

}  // namespace

absl::StatusOr<StoredNodeId> LoadNodeId(const std::vector<std::string>& dirs) {
  StoredNodeId out;
  std::string first_dir;
  for (const std::string& dir : dirs) {
    const std::string path = dir + "/" + kNodeIdFile;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) {
        out.missing.push_back(dir);
        continue;
      }
      return IoError("open " + path, errno);
    }
    std::string text;
    char buf[64];
    while (text.size() < 64) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        int err = errno;
        ::close(fd);
        return IoError("read " + path, err);
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    std::optional<uint64_t> id = ParseId(text);
    if (!id) {
      return Error(Errc::kCorrupt, path +
                                       " does not hold a node id (expected a nonzero decimal "
                                       "number and a newline)");
    }
    if (out.id.valid() && out.id.value() != *id) {
      return Invalid("data directories of different nodes: " + first_dir + " belongs to node " +
                     out.id.ToString() + ", " + dir + " to node " + std::to_string(*id) +
                     "; give one node's directories only");
    }
    if (!out.id.valid()) {
      out.id = NodeId(*id);
      first_dir = dir;
    }
  }
  return out;
}

absl::Status StoreNodeId(const std::vector<std::string>& dirs, NodeId id) {
  if (!id.valid()) return Invalid("node id 0 cannot be stored");
  for (const std::string& dir : dirs) {
    if (absl::Status st = StoreOne(dir, id); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace cairn::chunkserver

// Path resolution. Reads, all with Get: the entry of every component, the
// inode of every symlink followed, and the inode of a directory whose ".."
// a symlink target walks through. Every caller resolves on the store's
// latest-state Reader, outside any transaction; a mutating operation then
// works on the inode ids found (see namespace.cc).
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

// Pushes the components of a symlink target onto `pending` (which is in
// reverse order: back() is the next component).
absl::Status PushTarget(std::string_view target, std::vector<std::string>& pending) {
  std::vector<std::string_view> parts;
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t end = target.find('/', pos);
    if (end == std::string_view::npos) end = target.size();
    std::string_view part = target.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) continue;
    if (part.size() > kMaxNameLength) {
      return Error(Errc::kNameTooLong, "symlink target component longer than 255 bytes");
    }
    parts.push_back(part);
  }
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) pending.emplace_back(*it);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<Resolved> ResolvePath(store::Reader& txn, std::string_view path, bool follow_last) {
  ASSIGN_OR_RETURN(std::vector<std::string_view> parts, SplitPath(path));
  std::vector<std::string> pending(parts.rbegin(), parts.rend());
  Resolved cur{kRootInode, proto::FILE_TYPE_DIRECTORY};
  int follows = 0;
  while (!pending.empty()) {
    std::string name = std::move(pending.back());
    pending.pop_back();
    if (cur.type != proto::FILE_TYPE_DIRECTORY) {
      return Error(Errc::kNotDir, "not a directory in the middle of " + std::string(path));
    }
    if (name == ".") continue;  // only from symlink targets: SplitPath refuses them
    if (name == "..") {
      ASSIGN_OR_RETURN(proto::InodeRecord dir, LoadDir(txn, cur.ino));
      cur.ino = InodeId(dir.parent());
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<proto::DirentRecord> entry, FindDirent(txn, cur.ino, name));
    if (!entry.has_value()) return Error(Errc::kNotFound, "no such entry: " + name);
    const bool last = pending.empty();
    if (entry->type() == proto::FILE_TYPE_SYMLINK && (!last || follow_last)) {
      if (++follows > kMaxSymlinkFollows) {
        return Error(Errc::kLoop, "too many symlinks resolving " + std::string(path));
      }
      ASSIGN_OR_RETURN(proto::InodeRecord link, LoadInode(txn, InodeId(entry->ino())));
      const std::string& target = link.symlink_target();
      if (target.empty()) return Error(Errc::kInternal, "symlink without target");
      RETURN_IF_ERROR(PushTarget(target, pending));
      // A relative target resolves from the directory holding the link.
      if (target[0] == '/') cur = Resolved{kRootInode, proto::FILE_TYPE_DIRECTORY};
      continue;
    }
    cur = Resolved{InodeId(entry->ino()), entry->type()};
  }
  return cur;
}

absl::StatusOr<InodeId> ResolveRef(store::Reader& txn, const Ref& ref, bool follow_last) {
  if (!ref.path.empty()) {
    ASSIGN_OR_RETURN(Resolved r, ResolvePath(txn, ref.path, follow_last));
    return r.ino;
  }
  if (!ref.ino.valid()) return Error(Errc::kInvalid, "reference names no inode");
  return ref.ino;
}

}  // namespace cairn::meta::ops

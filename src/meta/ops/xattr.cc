// Extended attributes: get, set, list, remove. Keys X <ino> <name> hold the
// raw value; InodeRecord.xattr_bytes is the sum of name + value sizes of an
// inode's attributes, checked against kMaxXattrBytesPerInode.
//
// Reads for conflicts: set and remove read (Get) the inode and the
// attribute's key, and write both (the inode: xattr_bytes, ctime), so
// concurrent changes of one inode's attributes conflict and the total stays
// exact; an unlink that deletes the inode also reads the inode, so it
// cannot miss an attribute set concurrently. Get reads the attribute key
// (and the inode only when the key is absent, to tell kNotFound from
// kNoAttr); list reads the inode (Get) then scans the range. Get and list
// are read-only and never committed.
//
// Retry: set and remove recompute xattr_bytes from the values read in the
// attempt, so a retry never counts a change twice.
#include <algorithm>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<std::string> GetXattr(store::Reader& txn, InodeId ino, std::string_view name) {
  RETURN_IF_ERROR(ValidateXattrName(name));
  if (!ino.valid()) return Error(Errc::kInvalid, "inode id 0");
  ASSIGN_OR_RETURN(std::optional<std::string> value, txn.Get(keys::Xattr(ino, name)));
  if (value.has_value()) return std::move(*value);
  RETURN_IF_ERROR(LoadInode(txn, ino).status());
  return Error(Errc::kNoAttr, "no attribute " + std::string(name));
}

absl::Status SetXattr(store::Txn& txn, int64_t now_ns, InodeId ino, std::string_view name,
                      std::string_view value, uint32_t flags) {
  RETURN_IF_ERROR(ValidateXattrName(name));
  if ((flags & ~(kXattrCreate | kXattrReplace)) != 0) {
    return Error(Errc::kInvalid, "unknown setxattr flags");
  }
  if ((flags & kXattrCreate) && (flags & kXattrReplace)) {
    return Error(Errc::kInvalid, "XATTR_CREATE together with XATTR_REPLACE");
  }
  if (value.size() > kMaxXattrValue) return Error(Errc::kTooBig, "xattr value over 64 KiB");
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  const std::string key = keys::Xattr(ino, name);
  ASSIGN_OR_RETURN(std::optional<std::string> old, txn.Get(key));
  if ((flags & kXattrCreate) && old.has_value()) {
    return Error(Errc::kExists, "attribute " + std::string(name) + " exists");
  }
  if ((flags & kXattrReplace) && !old.has_value()) {
    return Error(Errc::kNoAttr, "no attribute " + std::string(name));
  }
  uint64_t total = rec.xattr_bytes();
  if (old.has_value()) total -= std::min<uint64_t>(total, name.size() + old->size());
  total += name.size() + value.size();
  if (total > kMaxXattrBytesPerInode) {
    return Error(Errc::kNoSpace, "extended attributes of one inode over 256 KiB");
  }
  txn.Put(key, value);
  rec.set_xattr_bytes(total);
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListXattr(store::Reader& txn, InodeId ino) {
  RETURN_IF_ERROR(LoadInode(txn, ino).status());
  std::vector<std::string> names;
  ASSIGN_OR_RETURN(std::vector<store::KeyValue> kvs,
                   txn.Scan(keys::XattrBegin(ino), keys::XattrEnd(ino), 0));
  const size_t prefix_size = keys::XattrBegin(ino).size();
  names.reserve(kvs.size());
  for (const store::KeyValue& kv : kvs) {
    if (kv.key.size() <= prefix_size) return Error(Errc::kInternal, "xattr key without name");
    names.push_back(kv.key.substr(prefix_size));
  }
  return names;
}

absl::Status RemoveXattr(store::Txn& txn, int64_t now_ns, InodeId ino, std::string_view name) {
  RETURN_IF_ERROR(ValidateXattrName(name));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  const std::string key = keys::Xattr(ino, name);
  ASSIGN_OR_RETURN(std::optional<std::string> old, txn.Get(key));
  if (!old.has_value()) return Error(Errc::kNoAttr, "no attribute " + std::string(name));
  txn.Delete(key);
  rec.set_xattr_bytes(rec.xattr_bytes() -
                      std::min<uint64_t>(rec.xattr_bytes(), name.size() + old->size()));
  rec.set_ctime_ns(now_ns);
  StoreInode(txn, rec);
  return absl::OkStatus();
}

}  // namespace cairn::meta::ops

// Loading and storing records, shared by every operation.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<proto::InodeRecord> LoadInode(store::Reader& txn, InodeId ino) {
  if (!ino.valid()) return Error(Errc::kInvalid, "inode id 0");
  ASSIGN_OR_RETURN(std::optional<std::string> value, txn.Get(keys::Inode(ino)));
  if (!value.has_value()) return Error(Errc::kNotFound, "no inode " + ino.ToString());
  proto::InodeRecord rec;
  if (!rec.ParseFromString(*value)) {
    return Error(Errc::kInternal, "unparsable inode record " + ino.ToString());
  }
  return rec;
}

absl::StatusOr<proto::InodeRecord> LoadDir(store::Reader& txn, InodeId ino) {
  ASSIGN_OR_RETURN(proto::InodeRecord rec, LoadInode(txn, ino));
  if (rec.type() != proto::FILE_TYPE_DIRECTORY) {
    return Error(Errc::kNotDir, "inode " + ino.ToString() + " is not a directory");
  }
  return rec;
}

void StoreInode(store::Txn& txn, const proto::InodeRecord& rec) {
  txn.Put(keys::Inode(InodeId(rec.ino())), rec.SerializeAsString());
}

absl::StatusOr<std::optional<proto::DirentRecord>> FindDirent(store::Reader& txn, InodeId parent,
                                                              std::string_view name) {
  ASSIGN_OR_RETURN(std::optional<std::string> value, txn.Get(keys::Dirent(parent, name)));
  if (!value.has_value()) return std::optional<proto::DirentRecord>();
  proto::DirentRecord rec;
  if (!rec.ParseFromString(*value) || rec.ino() == 0) {
    return Error(Errc::kInternal, "unparsable entry in directory " + parent.ToString());
  }
  return std::optional<proto::DirentRecord>(std::move(rec));
}

void StoreDirent(store::Txn& txn, InodeId parent, std::string_view name, InodeId ino,
                 proto::FileType type) {
  proto::DirentRecord rec;
  rec.set_ino(ino.value());
  rec.set_type(type);
  txn.Put(keys::Dirent(parent, name), rec.SerializeAsString());
}

void DeleteDirent(store::Txn& txn, InodeId parent, std::string_view name) {
  txn.Delete(keys::Dirent(parent, name));
}

absl::Status DeleteInode(store::Txn& txn, const proto::InodeRecord& rec) {
  InodeId ino(rec.ino());
  if (rec.xattr_bytes() > 0) {
    ASSIGN_OR_RETURN(std::vector<store::KeyValue> xattrs,
                     txn.Scan(keys::XattrBegin(ino), keys::XattrEnd(ino), 0));
    for (const store::KeyValue& kv : xattrs) txn.Delete(kv.key);
  }
  txn.Delete(keys::Inode(ino));
  return absl::OkStatus();
}

absl::Status AddFileCount(store::Txn& txn, InodeId dir, int64_t delta) {
  const std::string key = keys::Counter(kFileCounter, FileCounterShard(dir));
  ASSIGN_OR_RETURN(std::optional<std::string> value, txn.Get(key));
  uint64_t count = 0;
  if (value.has_value()) {
    ASSIGN_OR_RETURN(count, keys::DecodeU64(*value));
  }
  // Two's complement: adding a negative delta wraps, and the sum over all
  // shards wraps back to the true count.
  txn.Put(key, keys::EncodeU64(count + static_cast<uint64_t>(delta)));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> CountFiles(store::Reader& txn) {
  ASSIGN_OR_RETURN(std::vector<store::KeyValue> shards,
                   txn.Scan(keys::CounterBegin(kFileCounter), keys::CounterEnd(kFileCounter), 0));
  uint64_t total = 0;
  for (const store::KeyValue& kv : shards) {
    ASSIGN_OR_RETURN(uint64_t count, keys::DecodeU64(kv.value));
    total += count;
  }
  return total;
}

proto::InodeRecord MakeInode(const NewInode& args, proto::FileType type,
                             const proto::InodeRecord& parent, int64_t now_ns) {
  proto::InodeRecord rec;
  rec.set_ino(args.ino.value());
  rec.set_type(type);
  rec.set_mode(args.mode & 07777);
  rec.set_uid(args.caller.uid);
  rec.set_gid(args.caller.gid);
  rec.set_nlink(type == proto::FILE_TYPE_DIRECTORY ? 2 : 1);
  rec.set_atime_ns(now_ns);
  rec.set_mtime_ns(now_ns);
  rec.set_ctime_ns(now_ns);
  rec.set_crtime_ns(now_ns);
  *rec.mutable_policy() = parent.policy();
  if (type == proto::FILE_TYPE_DIRECTORY) rec.set_parent(parent.ino());
  return rec;
}

}  // namespace cairn::meta::ops

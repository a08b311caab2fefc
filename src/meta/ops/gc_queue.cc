// The GC queue: listing entries in queue order and removing them.
//
// Entries are written by the operations that release chunks (CommitWrite,
// SetAttr, Unlink, Rename), each under a fresh key, so nothing here needs
// conflict checks: ListGcQueue is a Scan on a dropped transaction;
// RemoveGcEntries deletes the keys it is given (deleting an absent key is
// a no-op, so a retry, or two collectors removing one entry, is harmless).
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

absl::Status CheckQueueKey(std::string_view key) {
  absl::StatusOr<keys::DecodedKey> decoded = keys::Decode(key);
  if (!decoded.ok() || decoded->prefix != keys::Prefix::kGcQueue) {
    return Invalid("not a GC queue key");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<GcQueueEntry>> ListGcQueue(store::Reader& txn, std::string_view after,
                                                      uint32_t limit) {
  std::string begin = keys::GcQueueBegin();
  if (!after.empty()) {
    RETURN_IF_ERROR(CheckQueueKey(after));
    begin = std::string(after);
    begin.push_back('\0');  // the smallest key after `after`
  }
  ASSIGN_OR_RETURN(std::vector<store::KeyValue> kvs, txn.Scan(begin, keys::GcQueueEnd(), limit));
  std::vector<GcQueueEntry> out;
  out.reserve(kvs.size());
  for (store::KeyValue& kv : kvs) {
    GcQueueEntry e;
    if (!e.entry.ParseFromString(kv.value) || !CheckQueueKey(kv.key).ok()) {
      return Error(Errc::kInternal, "unparsable GC queue entry");
    }
    e.key = std::move(kv.key);
    out.push_back(std::move(e));
  }
  return out;
}

absl::Status RemoveGcEntries(store::Txn& txn, const std::vector<std::string>& keys) {
  for (const std::string& key : keys) RETURN_IF_ERROR(CheckQueueKey(key));
  for (const std::string& key : keys) txn.Delete(key);
  return absl::OkStatus();
}

}  // namespace cairn::meta::ops

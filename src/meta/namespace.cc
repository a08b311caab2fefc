// Namespace: resolves references, takes the stripe locks of the directories
// an operation modifies, and runs the operation (src/meta/ops/) under
// store::RunTxn. See docs/metadata.md, "Concurrency".
#include "meta/namespace.h"

#include <array>
#include <random>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/inode_allocator.h"
#include "meta/keys.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta {
namespace {

// Format of the records below the kSystem "format" key. Bump only with a
// migration.
constexpr std::string_view kFormat = "1";

// Runs a read-only operation on a Reader of the store's latest state: no
// transaction, so nothing is tracked for conflicts (a caller that writes
// nothing cannot conflict). Each Get sees the latest commit, so a path
// walk may see components from different commits, as a walk through the
// kernel's dentry cache does; every operation checks the ids it acts on.
template <typename Fn>
auto RunRead(store::KvStore& store, Fn&& fn) {
  std::unique_ptr<store::Reader> reader = store.NewReader();
  return fn(*reader);
}

}  // namespace

// Striped mutexes keyed by inode id. A mutating operation holds the stripes
// of the directories it modifies while its transaction runs, so operations
// on one directory take turns instead of failing each other's optimistic
// commits. Stripe = ino mod kStripes; the file counter shard is ino mod 64,
// a divisor, so operations serialized here also share their counter shard.
class Namespace::LockTable {
 public:
  static constexpr size_t kStripes = 1024;
  static_assert(kStripes % ops::kFileCounterShards == 0);
  static constexpr size_t kMaxHeld = 4;

  // Holds up to kMaxHeld stripes, released on destruction.
  class Guard {
   public:
    Guard() = default;
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;
    ~Guard() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      for (size_t i = held_; i > 0; --i) held_mu_[i - 1]->Unlock();
    }

   private:
    friend class LockTable;
    std::array<absl::Mutex*, kMaxHeld> held_mu_{};
    size_t held_ = 0;
  };

  // Locks the stripes of `inos` (invalid ids are skipped) in ascending
  // stripe order, each once: any two callers lock in the same order, so
  // they cannot deadlock.
  void Lock(std::initializer_list<InodeId> inos, Guard& guard) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    // Insertion into a sorted, duplicate-free array (at most kMaxHeld).
    std::array<size_t, kMaxHeld> stripes{};
    size_t n = 0;
    for (InodeId ino : inos) {
      if (!ino.valid() || n == kMaxHeld) continue;
      const size_t stripe = ino.value() % kStripes;
      size_t pos = 0;
      while (pos < n && stripes[pos] < stripe) ++pos;
      if (pos < n && stripes[pos] == stripe) continue;
      for (size_t i = n; i > pos; --i) stripes[i] = stripes[i - 1];
      stripes[pos] = stripe;
      ++n;
    }
    for (size_t i = 0; i < n; ++i) {
      mu_[stripes[i]].Lock();
      guard.held_mu_[guard.held_++] = &mu_[stripes[i]];
    }
  }

 private:
  std::array<absl::Mutex, kStripes> mu_;
};

// The request ids being served. A repeat of a request that is still being
// served (its first copy outlived the client's deadline) waits here for
// it, then finds its outcome recorded: the two never run side by side.
class Namespace::RequestGate {
 public:
  // Holds `id` (when valid) until destroyed.
  class Hold {
   public:
    Hold(RequestGate* gate, const RequestId& id) : gate_(id.valid() ? gate : nullptr), id_(id) {
      if (gate_ != nullptr) gate_->Enter(id_);
    }
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;
    ~Hold() {
      if (gate_ != nullptr) gate_->Leave(id_);
    }

   private:
    RequestGate* const gate_;
    const RequestId id_;
  };

 private:
  void Enter(const RequestId& id) {
    absl::MutexLock l(&mu_);
    while (serving_.contains(id)) left_.Wait(&mu_);
    serving_.insert(id);
  }
  void Leave(const RequestId& id) {
    absl::MutexLock l(&mu_);
    serving_.erase(id);
    left_.SignalAll();  // waiters are rare: only repeats of a request being served
  }

  absl::Mutex mu_;
  absl::CondVar left_;
  absl::flat_hash_set<RequestId> serving_ ABSL_GUARDED_BY(mu_);
};

Namespace::Namespace(store::KvStore* store, const NamespaceOptions& options, Clock* clock)
    : store_(store),
      options_(options),
      clock_(clock),
      allocator_(std::make_unique<InodeAllocator>(store, options.inode_batch, options.retry)),
      locks_(std::make_unique<LockTable>()),
      gc_nonce_((uint64_t{std::random_device()()} << 32) ^ std::random_device()()),
      gate_(std::make_unique<RequestGate>()) {
  if (options_.readdir_max == 0) options_.readdir_max = 1000;
}

Namespace::~Namespace() {
  {
    absl::MutexLock l(&sweep_mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
}

absl::StatusOr<std::unique_ptr<Namespace>> Namespace::Open(store::KvStore* store,
                                                           const NamespaceOptions& options,
                                                           Clock* clock) {
  if (store == nullptr || clock == nullptr) return Error(Errc::kInvalid, "no store or clock");
  std::unique_ptr<Namespace> ns(new Namespace(store, options, clock));
  store::RetryOptions retry = options.retry;
  retry.commit.sync = true;
  const int64_t now = clock->NowNanos();
  // Creates the format record, the root and next_inode on a fresh store.
  // Reads all three with Get, so two servers bootstrapping one store at
  // once conflict and the second finds the work done.
  RETURN_IF_ERROR(store::RunTxn(*store, retry, [&](store::Txn& txn) -> absl::Status {
    ASSIGN_OR_RETURN(std::optional<std::string> format,
                     txn.Get(keys::System(keys::kFormatVersion)));
    ASSIGN_OR_RETURN(std::optional<std::string> root, txn.Get(keys::Inode(kRootInode)));
    if (format.has_value()) {
      if (*format != kFormat) {
        return Error(Errc::kNotSupported, "unknown metadata format " + *format);
      }
      if (!root.has_value()) return Error(Errc::kInternal, "metadata store has no root inode");
      return absl::OkStatus();
    }
    if (root.has_value()) return Error(Errc::kInternal, "root inode without format record");
    proto::InodeRecord rec;
    rec.set_ino(kRootInode.value());
    rec.set_type(proto::FILE_TYPE_DIRECTORY);
    rec.set_mode(0755);
    rec.set_nlink(2);
    rec.set_atime_ns(now);
    rec.set_mtime_ns(now);
    rec.set_ctime_ns(now);
    rec.set_crtime_ns(now);
    rec.set_parent(kRootInode.value());
    ops::StoreInode(txn, rec);
    txn.Put(keys::System(keys::kFormatVersion), kFormat);
    const std::string next_key = keys::System(keys::kNextInode);
    ASSIGN_OR_RETURN(std::optional<std::string> next, txn.Get(next_key));
    if (!next.has_value()) txn.Put(next_key, keys::EncodeU64(kFirstAllocatedInode));
    return ops::AddFileCount(txn, kRootInode, +1);
  }));
  if (options.request_sweep_interval > absl::ZeroDuration()) {
    ns->sweeper_ = std::thread([raw = ns.get()] { raw->SweepLoop(); });
  }
  return ns;
}

// ---- Repeated requests ----

template <typename Body>
absl::StatusOr<proto::InodeRecord> Namespace::Once(const RequestId& request, RequestOp op,
                                                   Body&& body) {
  if (!request.valid()) return body();
  RequestGate::Hold hold(gate_.get(), request);
  auto recorded = [&]() {
    return RunRead(*store_,
                   [&](store::Reader& reader) { return ops::FindOutcome(reader, request, op); });
  };
  // Found before resolving anything: a repeat must not depend on paths
  // that its own first run (or anyone since) may have changed.
  ASSIGN_OR_RETURN(std::optional<proto::InodeRecord> found, recorded());
  if (found.has_value()) return std::move(*found);
  absl::StatusOr<proto::InodeRecord> result = body();
  if (!result.ok()) {
    // Another server of a shared store may have applied it meanwhile.
    absl::StatusOr<std::optional<proto::InodeRecord>> late = recorded();
    if (late.ok() && late->has_value()) return std::move(**late);
  }
  return result;
}

absl::StatusOr<uint64_t> Namespace::ExpireRequests() {
  const int64_t cutoff = clock_->NowNanos() - absl::ToInt64Nanoseconds(options_.request_ttl);
  constexpr size_t kPage = 1000;
  uint64_t deleted = 0;
  std::string from;
  do {
    ASSIGN_OR_RETURN(ops::ExpiredRequests page, RunRead(*store_, [&](store::Reader& reader) {
                       return ops::FindExpiredRequests(reader, from, cutoff, kPage);
                     }));
    if (!page.keys.empty()) {
      RETURN_IF_ERROR(store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
        for (const std::string& key : page.keys) txn.Delete(key);
        return absl::OkStatus();
      }));
      deleted += page.keys.size();
    }
    from = std::move(page.next);
  } while (!from.empty());
  return deleted;
}

void Namespace::SweepLoop() {
  for (;;) {
    {
      absl::MutexLock l(&sweep_mu_);
      if (sweep_mu_.AwaitWithTimeout(absl::Condition(&stopping_),
                                     options_.request_sweep_interval)) {
        return;
      }
    }
    // A failure (a store error) is retried at the next interval.
    (void)ExpireRequests();
  }
}

absl::StatusOr<InodeId> Namespace::ResolveForWrite(const Ref& ref, bool follow_last) {
  if (ref.path.empty()) {
    if (!ref.ino.valid()) return Error(Errc::kInvalid, "reference names no inode");
    return ref.ino;
  }
  // Outside the transaction: the ids found are re-checked by the operation
  // itself (it Gets each inode it works on).
  return RunRead(*store_,
                 [&](store::Reader& reader) { return ops::ResolveRef(reader, ref, follow_last); });
}

// ---- Reads: no locks, no transaction ----

absl::StatusOr<proto::InodeRecord> Namespace::Lookup(const Ref& parent, std::string_view name) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId dir, ops::ResolveRef(reader, parent, /*follow_last=*/true));
    return ops::Lookup(reader, dir, name);
  });
}

absl::StatusOr<proto::InodeRecord> Namespace::GetAttr(const Ref& target) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/false));
    return ops::GetAttr(reader, ino);
  });
}

absl::StatusOr<std::string> Namespace::Readlink(const Ref& target) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/false));
    return ops::Readlink(reader, ino);
  });
}

absl::StatusOr<ReaddirPage> Namespace::Readdir(const Ref& dir, std::string_view after,
                                               uint32_t limit, bool with_attrs) {
  if (limit == 0 || limit > options_.readdir_max) limit = options_.readdir_max;
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<ReaddirPage> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, dir, /*follow_last=*/true));
    return ops::Readdir(reader, ino, after, limit, with_attrs);
  });
}

absl::StatusOr<StatfsInfo> Namespace::Statfs() {
  return RunRead(
      *store_, [&](store::Reader& reader) { return ops::Statfs(reader, options_.capacity_path); });
}

absl::StatusOr<std::string> Namespace::GetXattr(const Ref& target, std::string_view name) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<std::string> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/false));
    return ops::GetXattr(reader, ino, name);
  });
}

absl::StatusOr<std::vector<std::string>> Namespace::ListXattr(const Ref& target) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<std::vector<std::string>> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/false));
    return ops::ListXattr(reader, ino);
  });
}

// ---- Writes: resolve, lock the modified directories' stripes, RunTxn ----

absl::StatusOr<proto::InodeRecord> Namespace::SetAttr(const Ref& target, const SetAttrArgs& args,
                                                      const RequestId& request) {
  constexpr RequestOp kOp = RequestOp::kSetAttr;
  return Once(request, kOp, [&]() -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId ino, ResolveForWrite(target, /*follow_last=*/false));
    LockTable::Guard guard;
    locks_->Lock({ino}, guard);
    const int64_t now = clock_->NowNanos();
    const uint64_t nonce = NextGcNonce();
    return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
      return ops::RunOnce(txn, request, kOp, now,
                          [&] { return ops::SetAttr(txn, now, nonce, ino, args); });
    });
  });
}

template <typename Make>
absl::StatusOr<proto::InodeRecord> Namespace::NewEntry(const Ref& parent, uint32_t mode,
                                                       const Caller& caller,
                                                       const RequestId& request, RequestOp op,
                                                       Make&& make) {
  return Once(request, op, [&]() -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId dir, ResolveForWrite(parent, /*follow_last=*/true));
    ASSIGN_OR_RETURN(InodeId ino, allocator_->Allocate());
    LockTable::Guard guard;
    locks_->Lock({dir}, guard);
    const ops::NewInode args{ino, mode, caller};
    const int64_t now = clock_->NowNanos();
    return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
      return ops::RunOnce(txn, request, op, now, [&] { return make(txn, now, dir, args); });
    });
  });
}

absl::StatusOr<proto::InodeRecord> Namespace::Mkdir(const Ref& parent, std::string_view name,
                                                    uint32_t mode, const Caller& caller,
                                                    const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(name));
  return NewEntry(parent, mode, caller, request, RequestOp::kMkdir,
                  [&](store::Txn& txn, int64_t now, InodeId dir, const ops::NewInode& args) {
                    return ops::Mkdir(txn, now, dir, name, args);
                  });
}

absl::Status Namespace::Rmdir(const Ref& parent, std::string_view name, const RequestId& request) {
  constexpr RequestOp kOp = RequestOp::kRmdir;
  return Once(request, kOp,
              [&]() -> absl::StatusOr<proto::InodeRecord> {
                return RmdirOnce(parent, name, request);
              })
      .status();
}

absl::StatusOr<proto::InodeRecord> Namespace::RmdirOnce(const Ref& parent, std::string_view name,
                                                        const RequestId& request) {
  ASSIGN_OR_RETURN(InodeId dir, ResolveForWrite(parent, /*follow_last=*/true));
  if (name.empty() && dir == kRootInode) return Error(Errc::kBusy, "the root cannot be removed");
  RETURN_IF_ERROR(ValidateName(name));
  // The child directory is modified too (deleted): lock its stripe as well,
  // so creates inside it wait instead of conflicting. Only a hint: if the
  // entry changes before the lock is taken, the transaction still decides.
  InodeId child = RunRead(*store_, [&](store::Reader& reader) {
    absl::StatusOr<std::optional<proto::DirentRecord>> entry = ops::FindDirent(reader, dir, name);
    return entry.ok() && entry->has_value() ? InodeId((*entry)->ino()) : InodeId();
  });
  LockTable::Guard guard;
  locks_->Lock({dir, child}, guard);
  const int64_t now = clock_->NowNanos();
  return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
    return ops::RunOnce(txn, request, RequestOp::kRmdir, now,
                        [&] { return ops::Rmdir(txn, now, dir, name); });
  });
}

absl::StatusOr<proto::InodeRecord> Namespace::Create(const Ref& parent, std::string_view name,
                                                     uint32_t mode, bool exclusive,
                                                     const Caller& caller,
                                                     const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(name));
  return NewEntry(parent, mode, caller, request, RequestOp::kCreate,
                  [&](store::Txn& txn, int64_t now, InodeId dir, const ops::NewInode& args) {
                    return ops::Create(txn, now, dir, name, exclusive, args);
                  });
}

absl::Status Namespace::Unlink(const Ref& parent, std::string_view name, const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(name));
  constexpr RequestOp kOp = RequestOp::kUnlink;
  return Once(request, kOp,
              [&]() -> absl::StatusOr<proto::InodeRecord> {
                ASSIGN_OR_RETURN(InodeId dir, ResolveForWrite(parent, /*follow_last=*/true));
                LockTable::Guard guard;
                locks_->Lock({dir}, guard);
                const int64_t now = clock_->NowNanos();
                const uint64_t nonce = NextGcNonce();
                return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
                  return ops::RunOnce(txn, request, kOp, now,
                                      [&] { return ops::Unlink(txn, now, nonce, dir, name); });
                });
              })
      .status();
}

absl::Status Namespace::Rename(const Ref& src_parent, std::string_view src_name,
                               const Ref& dst_parent, std::string_view dst_name, uint32_t flags,
                               const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(src_name));
  RETURN_IF_ERROR(ValidateName(dst_name));
  constexpr RequestOp kOp = RequestOp::kRename;
  return Once(
             request, kOp,
             [&]() -> absl::StatusOr<proto::InodeRecord> {
               ASSIGN_OR_RETURN(InodeId src_dir, ResolveForWrite(src_parent, /*follow_last=*/true));
               ASSIGN_OR_RETURN(InodeId dst_dir, ResolveForWrite(dst_parent, /*follow_last=*/true));
               LockTable::Guard guard;
               locks_->Lock({src_dir, dst_dir}, guard);
               const int64_t now = clock_->NowNanos();
               const uint64_t nonce = NextGcNonce();
               return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
                 return ops::RunOnce(txn, request, kOp, now, [&] {
                   return ops::Rename(txn, now, nonce, src_dir, src_name, dst_dir, dst_name, flags);
                 });
               });
             })
      .status();
}

absl::StatusOr<proto::InodeRecord> Namespace::Link(const Ref& target, const Ref& new_parent,
                                                   std::string_view new_name,
                                                   const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(new_name));
  constexpr RequestOp kOp = RequestOp::kLink;
  return Once(request, kOp, [&]() -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId ino, ResolveForWrite(target, /*follow_last=*/false));
    ASSIGN_OR_RETURN(InodeId dir, ResolveForWrite(new_parent, /*follow_last=*/true));
    LockTable::Guard guard;
    locks_->Lock({dir}, guard);
    const int64_t now = clock_->NowNanos();
    return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
      return ops::RunOnce(txn, request, kOp, now,
                          [&] { return ops::Link(txn, now, ino, dir, new_name); });
    });
  });
}

absl::StatusOr<proto::InodeRecord> Namespace::Symlink(const Ref& parent, std::string_view name,
                                                      std::string_view target, const Caller& caller,
                                                      const RequestId& request) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(ValidateSymlinkTarget(target));
  return NewEntry(parent, 0777, caller, request, RequestOp::kSymlink,
                  [&](store::Txn& txn, int64_t now, InodeId dir, const ops::NewInode& args) {
                    return ops::Symlink(txn, now, dir, name, target, args);
                  });
}

absl::Status Namespace::SetXattr(const Ref& target, std::string_view name, std::string_view value,
                                 uint32_t flags, const RequestId& request) {
  constexpr RequestOp kOp = RequestOp::kSetXattr;
  return Once(request, kOp,
              [&]() -> absl::StatusOr<proto::InodeRecord> {
                ASSIGN_OR_RETURN(InodeId ino, ResolveForWrite(target, /*follow_last=*/false));
                LockTable::Guard guard;
                locks_->Lock({ino}, guard);
                const int64_t now = clock_->NowNanos();
                return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
                  return ops::RunOnce(txn, request, kOp, now, [&] {
                    return ops::SetXattr(txn, now, ino, name, value, flags);
                  });
                });
              })
      .status();
}

absl::Status Namespace::RemoveXattr(const Ref& target, std::string_view name,
                                    const RequestId& request) {
  constexpr RequestOp kOp = RequestOp::kRemoveXattr;
  return Once(request, kOp,
              [&]() -> absl::StatusOr<proto::InodeRecord> {
                ASSIGN_OR_RETURN(InodeId ino, ResolveForWrite(target, /*follow_last=*/false));
                LockTable::Guard guard;
                locks_->Lock({ino}, guard);
                const int64_t now = clock_->NowNanos();
                return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
                  return ops::RunOnce(txn, request, kOp, now,
                                      [&] { return ops::RemoveXattr(txn, now, ino, name); });
                });
              })
      .status();
}

absl::Status Namespace::Fsync() { return store_->Sync(); }

// ---- File data and policies ----

absl::StatusOr<FileChunks> Namespace::GetChunks(const Ref& target, uint64_t first_slot,
                                                uint32_t max_slots) {
  if (max_slots == 0 || max_slots > kMaxChunksPerReply) max_slots = kMaxChunksPerReply;
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<FileChunks> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/true));
    return ops::GetChunks(reader, ino, first_slot, max_slots);
  });
}

absl::StatusOr<proto::InodeRecord> Namespace::CommitWrite(InodeId ino, const CommitWriteArgs& args,
                                                          const RequestId& request) {
  if (!ino.valid()) return Error(Errc::kInvalid, "inode id 0");
  return Once(request, RequestOp::kCommitWrite,
              [&] { return CommitWriteOnce(ino, args, request); });
}

absl::StatusOr<proto::InodeRecord> Namespace::CommitWriteOnce(InodeId ino,
                                                              const CommitWriteArgs& args,
                                                              const RequestId& request) {
  LockTable::Guard guard;
  locks_->Lock({ino}, guard);
  const int64_t now = clock_->NowNanos();
  const uint64_t nonce = NextGcNonce();
  // An expected-id mismatch is a fact about what the attempt read, not a
  // commit race: report it without the retries RunTxn gives kConflict.
  absl::Status slot_changed;
  absl::StatusOr<proto::InodeRecord> result = store::RunTxn(
      *store_, options_.retry, [&](store::Txn& txn) -> absl::StatusOr<proto::InodeRecord> {
        slot_changed = absl::OkStatus();
        absl::StatusOr<proto::InodeRecord> r =
            ops::RunOnce(txn, request, RequestOp::kCommitWrite, now,
                         [&] { return ops::CommitWrite(txn, now, nonce, ino, args); });
        if (!r.ok() && ops::IsSlotChanged(r.status())) {
          slot_changed = r.status();
          return Error(Errc::kCancelled, "not committed");  // not retried, not committed
        }
        return r;
      });
  if (!slot_changed.ok()) return Error(Errc::kConflict, std::string(slot_changed.message()));
  return result;
}

absl::StatusOr<proto::InodeRecord> Namespace::SetPolicy(const Ref& target,
                                                        const proto::StoragePolicy& policy,
                                                        const RequestId& request) {
  RETURN_IF_ERROR(ops::CheckPolicy(policy));
  constexpr RequestOp kOp = RequestOp::kSetPolicy;
  return Once(request, kOp, [&]() -> absl::StatusOr<proto::InodeRecord> {
    ASSIGN_OR_RETURN(InodeId ino, ResolveForWrite(target, /*follow_last=*/true));
    LockTable::Guard guard;
    locks_->Lock({ino}, guard);
    const int64_t now = clock_->NowNanos();
    return store::RunTxn(*store_, options_.retry, [&](store::Txn& txn) {
      return ops::RunOnce(txn, request, kOp, now,
                          [&] { return ops::SetPolicy(txn, now, ino, policy); });
    });
  });
}

absl::StatusOr<proto::StoragePolicy> Namespace::GetPolicy(const Ref& target) {
  return RunRead(*store_, [&](store::Reader& reader) -> absl::StatusOr<proto::StoragePolicy> {
    ASSIGN_OR_RETURN(InodeId ino, ops::ResolveRef(reader, target, /*follow_last=*/true));
    return ops::GetPolicy(reader, ino);
  });
}

// ---- The GC queue ----

namespace {
constexpr uint32_t kGcBatchMax = 10000;
}  // namespace

absl::StatusOr<std::vector<GcQueueEntry>> Namespace::ListGcQueue(std::string_view after,
                                                                 uint32_t limit) {
  if (limit == 0 || limit > kGcBatchMax) limit = kGcBatchMax;
  return RunRead(*store_,
                 [&](store::Reader& reader) { return ops::ListGcQueue(reader, after, limit); });
}

absl::Status Namespace::RemoveGcEntries(const std::vector<std::string>& keys) {
  if (keys.size() > kGcBatchMax) {
    return Error(Errc::kInvalid, "at most " + std::to_string(kGcBatchMax) + " keys per call");
  }
  if (keys.empty()) return absl::OkStatus();
  return store::RunTxn(*store_, options_.retry,
                       [&](store::Txn& txn) { return ops::RemoveGcEntries(txn, keys); });
}

}  // namespace cairn::meta

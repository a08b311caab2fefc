// FileImpl: state, commits (with conflict handling), truncate, fsync, close
// (file_impl.h).
#include "client/file_impl.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "client/convert.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::client {
namespace {

// Commits retried after kConflict before giving up (each one redoes the
// merge of the slots someone else replaced meanwhile).
constexpr int kCommitAttempts = 8;

}  // namespace

absl::Status AddSlots(const proto::GetChunksReply& reply, std::map<uint64_t, SlotRef>* slots) {
  const uint64_t size = reply.attr().size();
  for (int i = 0; i < reply.chunks_size(); ++i) {
    const proto::ChunkRef& c = reply.chunks(i);
    if (c.id().empty()) continue;  // a hole
    absl::StatusOr<ChunkId> id = cluster::ChunkIdFromBytes(c.id());
    if (!id.ok()) return Error(Errc::kInternal, "meta sent a malformed chunk id");
    const uint64_t slot = reply.first_slot() + static_cast<uint64_t>(i);
    uint64_t valid = ValidLength(slot, c.length(), reply.chunk_size(), size);
    if (valid == 0) continue;  // nothing of it is below the size
    (*slots)[slot] = SlotRef{*id, valid};
  }
  return absl::OkStatus();
}

FileImpl::FileImpl(DataContext* ctx, uint32_t flags, FileState state)
    : ctx_(ctx),
      io_(&ctx->io()),
      flags_(flags),
      ino_(state.attr.ino()),
      chunk_size_(state.chunk_size),
      replicas_(state.replicas) {
  attr_ = std::move(state.attr);
  committed_ = std::move(state.slots);
  committed_size_ = attr_.size();
  size_ = committed_size_;
}

FileImpl::~FileImpl() { (void)Close(); }

uint64_t FileImpl::size() const {
  absl::MutexLock l(&mu_);
  return size_;
}

uint64_t FileImpl::position() const {
  absl::MutexLock l(&mu_);
  return position_;
}

void FileImpl::Seek(uint64_t position) {
  absl::MutexLock l(&mu_);
  position_ = position;
}

absl::StatusOr<size_t> FileImpl::Read(void* buf, size_t n) {
  absl::MutexLock l(&mu_);
  absl::StatusOr<size_t> got = PreadLocked(static_cast<uint8_t*>(buf), n, position_);
  if (got.ok()) position_ += *got;
  return got;
}

absl::StatusOr<size_t> FileImpl::Pread(void* buf, size_t n, uint64_t offset) {
  absl::MutexLock l(&mu_);
  return PreadLocked(static_cast<uint8_t*>(buf), n, offset);
}

absl::Status FileImpl::RefreshEndForAppend() {
  // Appends go after whatever others committed since this handle last
  // looked: refresh the slots from the one holding the end we know, before
  // the first append of each batch (later ones follow our own pending
  // writes). Appenders running at the same moment can still interleave;
  // a commit conflict then re-merges, as for any overlapping writers.
  RETURN_IF_ERROR(CheckOpen());
  if (!pending_.empty() || open_.has_value()) return absl::OkStatus();
  const uint64_t first = size_ / chunk_size_;
  return RefreshSlots(first, first + kAppendRefreshSlots - 1);
}

absl::Status FileImpl::Write(const void* data, size_t n) {
  absl::MutexLock l(&mu_);
  if ((flags_ & kOpenAppend) != 0) RETURN_IF_ERROR(RefreshEndForAppend());
  const uint64_t offset = (flags_ & kOpenAppend) != 0 ? size_ : position_;
  RETURN_IF_ERROR(WriteLocked(static_cast<const uint8_t*>(data), n, offset));
  position_ = offset + n;
  return absl::OkStatus();
}

absl::Status FileImpl::Pwrite(const void* data, size_t n, uint64_t offset) {
  absl::MutexLock l(&mu_);
  if ((flags_ & kOpenAppend) != 0) {
    RETURN_IF_ERROR(RefreshEndForAppend());
    offset = size_;
  }
  return WriteLocked(static_cast<const uint8_t*>(data), n, offset);
}

absl::Status FileImpl::CheckOpen() const {
  if (closed_) return Error(Errc::kBadFd, "file is closed");
  return absl::OkStatus();
}

std::optional<SlotRef> FileImpl::CommittedRef(uint64_t slot) const {
  auto it = committed_.find(slot);
  if (it == committed_.end()) return std::nullopt;
  return it->second;
}

std::optional<SlotRef> FileImpl::View(uint64_t slot) const {
  auto it = pending_.find(slot);
  if (it != pending_.end() && it->second.ref.has_value()) return it->second.ref;
  return CommittedRef(slot);
}

void FileImpl::Committed(const proto::Attr& attr) {
  attr_ = attr;
  committed_size_ = attr.size();
  size_ = std::max(size_, committed_size_);
  written_end_ = 0;
}

absl::Status FileImpl::CommitLocked() {
  RETURN_IF_ERROR(FlushLocked());
  if (pending_.empty() && written_end_ <= committed_size_) return absl::OkStatus();
  for (int attempt = 1;; ++attempt) {
    proto::CommitWriteRequest req;
    req.set_ino(ino_.value());
    for (const auto& [slot, p] : pending_) {
      if (!p.ref.has_value()) return Error(Errc::kInternal, "commit of a slot never uploaded");
      proto::SlotUpdate* u = req.add_updates();
      u->set_slot(slot);
      if (p.expected.has_value()) u->set_expected_id(cluster::ChunkIdToBytes(*p.expected));
      u->mutable_chunk()->set_id(cluster::ChunkIdToBytes(p.ref->id));
      u->mutable_chunk()->set_length(p.ref->length);
    }
    // Only our own writes extend the file: a size we saw earlier may have
    // been cut since by a truncate, and must not come back.
    req.set_min_size(written_end_);
    // How old our oldest chunk is: meta refuses chunks GC may have taken.
    if (std::optional<Clock::time_point> oldest = OldestUpload()) {
      const auto age =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *oldest);
      req.set_upload_age_ms(static_cast<uint64_t>(std::max<int64_t>(age.count(), 1)));
    }
    proto::CommitWriteReply reply;
    absl::Status s = ctx_->rpc().Meta(&Rpc::MetaStub::CommitWrite, req, &reply);
    if (s.ok()) {
      for (auto& [slot, p] : pending_) committed_[slot] = *p.ref;
      pending_.clear();
      Committed(reply.attr());
      return absl::OkStatus();
    }
    if (ErrcOf(s) != Errc::kConflict || attempt >= kCommitAttempts || pending_.empty()) {
      broken_ = s;
      return s;
    }
    // Someone replaced slots we wrote: put our bytes on top of theirs.
    s = RefreshSlots(pending_.begin()->first, pending_.rbegin()->first);
    for (auto& [slot, p] : pending_) {
      if (!s.ok()) break;
      s = Remerge(slot, p);
    }
    if (!s.ok()) {
      broken_ = s;
      return s;
    }
  }
}

absl::Status AddRemainingPages(Rpc& rpc, InodeId ino, uint64_t last, proto::GetChunksReply* reply,
                               std::map<uint64_t, SlotRef>* slots) {
  const uint64_t chunk_size = reply->chunk_size();
  for (;;) {
    const uint64_t got = static_cast<uint64_t>(reply->chunks_size());
    const uint64_t size = reply->attr().size();
    const uint64_t file_slots = size == 0 || chunk_size == 0 ? 0 : (size - 1) / chunk_size + 1;
    const uint64_t next = reply->first_slot() + got;
    if (got == 0 || next > last || next >= file_slots) return absl::OkStatus();
    proto::GetChunksRequest req;
    req.mutable_target()->set_ino(ino.value());
    req.set_first_slot(next);
    req.set_max_slots(static_cast<uint32_t>(std::min<uint64_t>(last - next + 1, UINT32_MAX)));
    reply->Clear();
    RETURN_IF_ERROR(rpc.Meta(&Rpc::MetaStub::GetChunks, req, reply));
    if (reply->chunk_size() != chunk_size) {
      return Error(Errc::kInternal, "the file's chunk size changed while reading its chunk list");
    }
    RETURN_IF_ERROR(AddSlots(*reply, slots));
  }
}

absl::Status FileImpl::RefreshSlots(uint64_t first, uint64_t last) {
  proto::GetChunksRequest req;
  req.mutable_target()->set_ino(ino_.value());
  req.set_first_slot(first);
  req.set_max_slots(static_cast<uint32_t>(std::min<uint64_t>(last - first + 1, UINT32_MAX)));
  proto::GetChunksReply reply;
  RETURN_IF_ERROR(ctx_->rpc().Meta(&Rpc::MetaStub::GetChunks, req, &reply));
  if (reply.chunk_size() != chunk_size_) {
    return Error(Errc::kInternal, "the file's chunk size changed under an open handle");
  }
  committed_.erase(committed_.lower_bound(first), committed_.upper_bound(last));
  RETURN_IF_ERROR(AddSlots(reply, &committed_));
  RETURN_IF_ERROR(AddRemainingPages(ctx_->rpc(), ino_, last, &reply, &committed_));
  attr_ = reply.attr();
  committed_size_ = reply.attr().size();
  // Cut what we know of the other slots at the (maybe smaller) size.
  for (auto it = committed_.begin(); it != committed_.end();) {
    uint64_t valid = ValidLength(it->first, it->second.length, chunk_size_, committed_size_);
    if (valid == 0) {
      it = committed_.erase(it);
    } else {
      it->second.length = valid;
      ++it;
    }
  }
  size_ = std::max(committed_size_, written_end_);
  cache_.clear();
  ctx_->maps().NoteEpoch(reply.cluster_epoch());
  return absl::OkStatus();
}

absl::Status FileImpl::Remerge(uint64_t slot, Pending& p) {
  std::optional<SlotRef> now = CommittedRef(slot);
  std::optional<ChunkId> now_id;
  if (now) now_id = now->id;
  if (now_id == p.expected) return absl::OkStatus();  // not this slot
  const uint64_t valid = now ? now->length : 0;       // cut at the size by RefreshSlots
  MergePlan plan = PlanMerge(p.dirty, valid);
  if (plan.from_old.empty() && plan.zeros.empty() && plan.length == p.ref->length) {
    p.expected = now_id;  // we rewrote the whole slot: our chunk stands
    return absl::OkStatus();
  }
  AlignedBuffer buf(plan.length);
  for (const Range& r : plan.from_old)
    RETURN_IF_ERROR(io_->ReadInto(now->id, r, buf.data() + r.begin));
  for (const Range& r : plan.zeros) std::memset(buf.data() + r.begin, 0, r.size());
  for (const Range& r : p.dirty.ranges()) {
    RETURN_IF_ERROR(io_->ReadInto(p.ref->id, r, buf.data() + r.begin));
  }
  SlotRef ref{ChunkId::Random(), plan.length};
  const Clock::time_point started = Clock::now();
  RETURN_IF_ERROR(io_->Write(ref.id, buf.span(), replicas_));
  p.ref = ref;
  p.started = started;
  p.expected = now_id;
  return absl::OkStatus();
}

absl::Status FileImpl::Truncate(uint64_t size) {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOpen());
  if ((flags_ & kOpenWrite) == 0) return Error(Errc::kBadFd, "file not open for writing");
  RETURN_IF_ERROR(CommitLocked());
  proto::SetAttrRequest req;
  req.mutable_target()->set_ino(ino_.value());
  req.set_size(size);
  proto::AttrReply reply;
  RETURN_IF_ERROR(ctx_->rpc().Meta(&Rpc::MetaStub::SetAttr, req, &reply));
  attr_ = reply.attr();
  committed_size_ = size_ = reply.attr().size();
  TruncatePlan plan = PlanTruncate(committed_size_, chunk_size_);
  committed_.erase(committed_.lower_bound(plan.first_dropped), committed_.end());
  if (committed_size_ > 0) {
    auto it = committed_.find(plan.cut_slot);
    if (it != committed_.end()) it->second.length = std::min(it->second.length, plan.keep);
  }
  cache_.clear();
  return absl::OkStatus();
}

absl::Status FileImpl::Fsync() {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOpen());
  if ((flags_ & kOpenWrite) != 0) RETURN_IF_ERROR(CommitLocked());
  proto::FsyncRequest req;
  proto::FsyncReply reply;
  return ctx_->rpc().Meta(&Rpc::MetaStub::Fsync, req, &reply);
}

absl::Status FileImpl::Close() {
  absl::Status s;
  bool known;
  {
    absl::MutexLock l(&mu_);
    if (closed_) return absl::OkStatus();
    if ((flags_ & kOpenWrite) != 0) s = CommitLocked();
    closed_ = true;
    cache_.clear();
    known = committer_knows_;
  }
  // Without mu_: the Committer may be waiting for it in CommitDue().
  if (known) ctx_->committer().Unregister(this);
  return s;
}

std::optional<Committable::TimePoint> FileImpl::CommitDue() {
  absl::MutexLock l(&mu_);
  if (closed_ || !broken_.ok()) return std::nullopt;
  std::optional<Clock::time_point> due = OldestDue();
  if (!due.has_value()) return std::nullopt;  // committed meanwhile
  if (*due > Clock::now()) return due;        // a newer upload: committed since
  absl::Status s = CommitLocked();
  if (!s.ok()) {
    // Remembered: the next Write, Fsync or Close returns it.
    if (broken_.ok()) broken_ = s;
    return std::nullopt;
  }
  return OldestDue();  // nullopt: CommitLocked waited for every upload
}

absl::StatusOr<Attr> FileImpl::Stat() {
  absl::MutexLock l(&mu_);
  RETURN_IF_ERROR(CheckOpen());
  proto::GetAttrRequest req;
  req.mutable_target()->set_ino(ino_.value());
  proto::AttrReply reply;
  RETURN_IF_ERROR(ctx_->rpc().Meta(&Rpc::MetaStub::GetAttr, req, &reply));
  Attr attr = FromProto(reply.attr());
  if (!pending_.empty() || open_.has_value() || !inflight_.empty()) {
    attr.size = std::max(attr.size, size_);
  }
  return attr;
}

}  // namespace cairn::client

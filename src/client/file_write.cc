// FileImpl, the write side: slot buffers, copy-on-write merges and the
// background uploads (file_impl.h).
#include <algorithm>
#include <cstring>

#include "client/file_impl.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::client {
namespace {

constexpr uint64_t kMinBuffer = 256 << 10;  // first buffer of slot 0
constexpr uint64_t kPage = AlignedBuffer::kAlignment;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

// A buffer of `capacity` bytes holding the `dirty` bytes of `old`.
AlignedBuffer Regrow(const AlignedBuffer& old, const RangeSet& dirty, uint64_t capacity) {
  AlignedBuffer grown(capacity);
  for (const Range& r : dirty.ranges()) {
    std::memcpy(grown.data() + r.begin, old.data() + r.begin, r.size());
  }
  return grown;
}

}  // namespace

absl::Status FileImpl::WriteLocked(const uint8_t* data, size_t n, uint64_t offset) {
  RETURN_IF_ERROR(CheckOpen());
  if ((flags_ & kOpenWrite) == 0) return Error(Errc::kBadFd, "file not open for writing");
  if (!broken_.ok()) return broken_;
  if (n == 0) return absl::OkStatus();
  if (offset + n < offset || offset + n > (uint64_t{1} << 62)) {
    return Error(Errc::kInvalid, "write past the largest file size");
  }
  for (const SlotSpan& span : SplitBySlot(offset, n, chunk_size_)) {
    if (!open_.has_value() || open_->slot != span.slot) RETURN_IF_ERROR(OpenSlotFor(span.slot));
    Reserve(span.in_slot.end);
    std::memcpy(open_->buf.data() + span.in_slot.begin, data + span.buffer, span.in_slot.size());
    open_->dirty.Add(span.in_slot);
    cache_.erase(span.slot);
    // A full slot goes at once; the next write opens the next slot.
    if (open_->dirty.Covers({0, chunk_size_})) {
      RETURN_IF_ERROR(UploadOpen(false));
      // Commit as we go: one commit carries a bounded number of slots.
      const uint64_t end = span.slot * chunk_size_ + span.in_slot.end;
      size_ = std::max(size_, end);
      written_end_ = std::max(written_end_, end);
      if (pending_.size() >= static_cast<size_t>(ctx_->options().commit_every_chunks)) {
        RETURN_IF_ERROR(CommitLocked());
      }
    }
  }
  size_ = std::max(size_, offset + n);
  written_end_ = std::max(written_end_, offset + n);
  if (pending_.size() >= static_cast<size_t>(ctx_->options().commit_every_chunks)) {
    return CommitLocked();
  }
  return absl::OkStatus();
}

absl::Status FileImpl::OpenSlotFor(uint64_t slot) {
  if (open_.has_value()) RETURN_IF_ERROR(UploadOpen(false));
  // The slot's newest upload is the base of what comes now.
  RETURN_IF_ERROR(WaitUploads(slot));
  OpenSlot o;
  o.slot = slot;
  o.base = View(slot);
  o.base_valid = o.base ? ValidLength(slot, o.base->length, chunk_size_, size_) : 0;
  open_ = std::move(o);
  return absl::OkStatus();
}

void FileImpl::Reserve(uint64_t bytes) {
  OpenSlot& o = *open_;
  if (o.buf.size() >= bytes) return;
  uint64_t capacity;
  if (o.slot > 0 || bytes >= chunk_size_ / 2) {
    capacity = chunk_size_;  // a large file: whole slots from the start
  } else {
    capacity =
        std::min(chunk_size_, RoundUp(std::max({bytes, 2 * o.buf.size(), kMinBuffer}), kPage));
  }
  o.buf = Regrow(o.buf, o.dirty, capacity);
}

absl::Status FileImpl::UploadOpen(bool inline_ok) {
  OpenSlot o = std::move(*open_);
  open_.reset();
  if (o.dirty.empty()) return absl::OkStatus();
  const uint64_t slot = o.slot;
  auto [it, fresh] = pending_.try_emplace(slot);
  Pending& p = it->second;
  if (fresh) {
    std::optional<SlotRef> committed = CommittedRef(slot);
    if (committed) p.expected = committed->id;
  }
  for (const Range& r : o.dirty.ranges()) p.dirty.Add(r);
  const Clock::time_point started = Clock::now();
  NoteUpload(started);
  if (inline_ok && inflight_.empty()) {
    absl::StatusOr<SlotRef> ref = BuildAndUpload(io_, replicas_, std::move(o));
    if (!ref.ok()) {
      broken_ = ref.status();
      return broken_;
    }
    p.ref = *ref;
    p.started = started;
    return absl::OkStatus();
  }
  while (inflight_.size() >= static_cast<size_t>(ctx_->options().max_chunks_in_flight)) {
    RETURN_IF_ERROR(ReapOne());
  }
  Upload u;
  u.slot = slot;
  u.dirty = o.dirty;
  u.started = started;
  u.result = ctx_->pool().Submit([io = io_, replicas = replicas_, o = std::move(o)]() mutable {
    return BuildAndUpload(io, replicas, std::move(o));
  });
  inflight_.push_back(std::move(u));
  return absl::OkStatus();
}

absl::Status FileImpl::ReapOne() {
  Upload u = std::move(inflight_.front());
  inflight_.pop_front();
  absl::StatusOr<SlotRef> ref = u.result.get();
  if (!ref.ok()) {
    if (broken_.ok()) broken_ = ref.status();
    return broken_;
  }
  Pending& p = pending_[u.slot];
  p.ref = *ref;
  p.started = u.started;
  return absl::OkStatus();
}

std::optional<FileImpl::Clock::time_point> FileImpl::OldestUpload() const {
  std::optional<Clock::time_point> oldest;
  auto older = [&](Clock::time_point t) {
    if (!oldest.has_value() || t < *oldest) oldest = t;
  };
  for (const auto& [slot, p] : pending_) {
    if (p.ref.has_value()) older(p.started);
  }
  for (const Upload& u : inflight_) older(u.started);
  return oldest;
}

FileImpl::Clock::time_point FileImpl::DueAt(Clock::time_point started) const {
  return started + absl::ToChronoNanoseconds(ctx_->options().max_uncommitted_age);
}

std::optional<FileImpl::Clock::time_point> FileImpl::OldestDue() const {
  std::optional<Clock::time_point> oldest = OldestUpload();
  if (!oldest.has_value()) return std::nullopt;
  return DueAt(*oldest);
}

void FileImpl::NoteUpload(Clock::time_point started) {
  committer_knows_ = true;
  ctx_->committer().Due(this, DueAt(started));
}

absl::Status FileImpl::WaitUploads(std::optional<uint64_t> slot) {
  if (!slot.has_value()) {
    // Every upload, even after one failed: none may outlive the handle.
    absl::Status first;
    while (!inflight_.empty()) {
      absl::Status s = ReapOne();
      if (first.ok()) first = s;
    }
    return first;
  }
  while (std::any_of(inflight_.begin(), inflight_.end(),
                     [&](const Upload& u) { return u.slot == *slot; })) {
    RETURN_IF_ERROR(ReapOne());
  }
  return absl::OkStatus();
}

absl::Status FileImpl::FlushLocked() {
  absl::Status s;
  if (open_.has_value()) s = UploadOpen(/*inline_ok=*/true);
  absl::Status waited = WaitUploads(std::nullopt);
  if (!s.ok()) return s;
  if (!waited.ok()) return waited;
  return broken_;
}

absl::StatusOr<SlotRef> FileImpl::BuildAndUpload(ChunkIo* io, uint32_t replicas, OpenSlot o) {
  MergePlan plan = PlanMerge(o.dirty, o.base_valid);
  if (o.buf.size() < plan.length) o.buf = Regrow(o.buf, o.dirty, RoundUp(plan.length, kPage));
  if (!plan.from_old.empty()) {
    // One request for every untouched part of the old chunk.
    Range hull{plan.from_old.front().begin, plan.from_old.back().end};
    absl::StatusOr<AlignedBuffer> old = io->ReadRange(o.base->id, hull);
    if (!old.ok()) return old.status();
    for (const Range& r : plan.from_old) {
      std::memcpy(o.buf.data() + r.begin, old->data() + (r.begin - hull.begin), r.size());
    }
  }
  for (const Range& r : plan.zeros) std::memset(o.buf.data() + r.begin, 0, r.size());
  SlotRef ref{ChunkId::Random(), plan.length};
  RETURN_IF_ERROR(io->Write(ref.id, {o.buf.data(), plan.length}, replicas));
  return ref;
}

}  // namespace cairn::client

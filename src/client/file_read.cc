// FileImpl, the read side: slot reads, zero fill, read-ahead (file_impl.h).
#include <algorithm>
#include <cstring>
#include <string>

#include "client/file_impl.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::client {

absl::StatusOr<size_t> FileImpl::PreadLocked(uint8_t* buf, size_t n, uint64_t offset) {
  RETURN_IF_ERROR(CheckOpen());
  if ((flags_ & kOpenRead) == 0) return Error(Errc::kBadFd, "file not open for reading");
  n = ReadableLength(offset, n, size_);
  if (n == 0) return size_t{0};
  const bool sequential = offset == last_read_end_;
  std::vector<SlotSpan> spans = SplitBySlot(offset, n, chunk_size_);
  for (const SlotSpan& span : spans) {
    absl::Status s = ReadSlot(span, buf + span.buffer, sequential);
    // The chunk is gone: someone replaced the slot and its old chunk was
    // collected. Read the slot table again and retry once.
    if (ErrcOf(s) == Errc::kNotFound && pending_.count(span.slot) == 0 &&
        !(open_.has_value() && open_->slot == span.slot)) {
      RETURN_IF_ERROR(RefreshSlots(span.slot, span.slot));
      s = ReadSlot(span, buf + span.buffer, false);
    }
    if (ErrcOf(s) == Errc::kNotFound) {
      // Still listed, yet no holder has it: the data is gone, not the file.
      return Error(Errc::kIo, "the chunk at offset " + std::to_string(span.slot * chunk_size_) +
                                  " is missing on every holder (" + std::string(s.message()) + ")");
    }
    RETURN_IF_ERROR(s);
  }
  if (sequential && ctx_->options().readahead_chunks > 0) {
    // Slots behind the reader are done with.
    cache_.erase(cache_.begin(), cache_.lower_bound(spans.front().slot));
    ReadAhead(spans.back().slot);
  }
  last_read_end_ = offset + n;
  return n;
}

absl::Status FileImpl::ReadSlot(const SlotSpan& span, uint8_t* dst, bool sequential) {
  if (open_.has_value() && open_->slot == span.slot) {
    // The slot being written: its written bytes from the buffer, the rest
    // from the chunk it was opened on, zeros past that.
    const OpenSlot& o = *open_;
    for (const Range& r : o.dirty.Inside(span.in_slot)) {
      std::memcpy(dst + (r.begin - span.in_slot.begin), o.buf.data() + r.begin, r.size());
    }
    for (const Range& gap : o.dirty.Gaps(span.in_slot)) {
      SlotRead plan = PlanSlotRead(gap, o.base_valid);
      uint8_t* out = dst + (gap.begin - span.in_slot.begin);
      if (!plan.fetch.empty()) RETURN_IF_ERROR(io_->ReadInto(o.base->id, plan.fetch, out));
      std::memset(out + plan.fetch.size(), 0, plan.zeros.size());
    }
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(WaitUploads(span.slot));
  std::optional<SlotRef> ref = View(span.slot);
  const uint64_t valid = ref ? ValidLength(span.slot, ref->length, chunk_size_, size_) : 0;
  SlotRead plan = PlanSlotRead(span.in_slot, valid);
  std::memset(dst + (plan.zeros.begin - span.in_slot.begin), 0, plan.zeros.size());
  if (plan.fetch.empty()) return absl::OkStatus();
  uint8_t* out = dst + (plan.fetch.begin - span.in_slot.begin);
  auto cached = cache_.find(span.slot);
  const bool use_cache = (cached != cache_.end() && cached->second.ref == *ref &&
                          cached->second.read->range().end >= plan.fetch.end) ||
                         (sequential && ctx_->options().readahead_chunks > 0);
  if (!use_cache) return io_->ReadInto(ref->id, plan.fetch, out);
  std::shared_ptr<PendingRead> read = CachedSlot(span.slot, *ref, valid, /*start_async=*/false);
  absl::Status s = read->CopyTo(plan.fetch, out);
  if (!s.ok()) cache_.erase(span.slot);  // do not keep a failed read
  return s;
}

void FileImpl::ReadAhead(uint64_t slot) {
  const uint64_t last = slot + static_cast<uint64_t>(ctx_->options().readahead_chunks);
  for (uint64_t s = slot + 1; s <= last; ++s) {
    if (s >= SlotCount(size_, chunk_size_)) break;
    if (open_.has_value() && open_->slot == s) continue;
    if (std::any_of(inflight_.begin(), inflight_.end(),
                    [&](const Upload& u) { return u.slot == s; })) {
      continue;
    }
    std::optional<SlotRef> ref = View(s);
    if (!ref) continue;
    const uint64_t valid = ValidLength(s, ref->length, chunk_size_, size_);
    if (valid == 0) continue;
    CachedSlot(s, *ref, valid, /*start_async=*/true);
  }
}

std::shared_ptr<PendingRead> FileImpl::CachedSlot(uint64_t slot, const SlotRef& ref, uint64_t valid,
                                                  bool start_async) {
  auto it = cache_.find(slot);
  if (it != cache_.end() && it->second.ref == ref && it->second.read->range().end >= valid) {
    return it->second.read;
  }
  const Range whole{0, valid};
  std::shared_ptr<PendingRead> read;
  if (!start_async && valid < ctx_->options().parallel_read_min) {
    // Small and wanted now: on this thread, no hand-off.
    read = PendingRead::Done(whole, io_->ReadRange(ref.id, whole));
  } else {
    read = io_->StartRead(ref.id, whole);
  }
  cache_[slot] = Cached{ref, read};
  return read;
}

}  // namespace cairn::client

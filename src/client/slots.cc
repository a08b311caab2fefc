#include "client/slots.h"

#include <algorithm>

namespace cairn::client {

Range Intersect(const Range& a, const Range& b) {
  uint64_t begin = std::max(a.begin, b.begin);
  uint64_t end = std::min(a.end, b.end);
  if (end < begin) end = begin;
  return {begin, end};
}

std::vector<SlotSpan> SplitBySlot(uint64_t offset, uint64_t length, uint64_t chunk_size) {
  std::vector<SlotSpan> out;
  uint64_t done = 0;
  while (done < length) {
    uint64_t pos = offset + done;
    uint64_t slot = pos / chunk_size;
    uint64_t in = pos % chunk_size;
    uint64_t n = std::min(chunk_size - in, length - done);
    out.push_back({slot, {in, in + n}, done});
    done += n;
  }
  return out;
}

uint64_t ReadableLength(uint64_t offset, uint64_t length, uint64_t file_size) {
  if (offset >= file_size) return 0;
  return std::min(length, file_size - offset);
}

uint64_t SlotCount(uint64_t size, uint64_t chunk_size) {
  return size / chunk_size + (size % chunk_size != 0 ? 1 : 0);
}

uint64_t ValidLength(uint64_t slot, uint64_t chunk_length, uint64_t chunk_size,
                     uint64_t file_size) {
  // slot * chunk_size cannot overflow for a slot below SlotCount(size).
  uint64_t start = slot * chunk_size;
  if (slot != 0 && start / slot != chunk_size) return 0;
  if (start >= file_size) return 0;
  return std::min({chunk_length, chunk_size, file_size - start});
}

SlotRead PlanSlotRead(const Range& want, uint64_t valid) {
  SlotRead out;
  out.fetch = Intersect(want, {0, valid});
  if (out.fetch.empty()) {
    out.fetch = {want.begin, want.begin};
    out.zeros = want;
  } else {
    out.zeros = {out.fetch.end, want.end};
  }
  return out;
}

void RangeSet::Add(const Range& r) {
  if (r.empty()) return;
  // First range that ends at or after r.begin (may touch it).
  auto first = std::lower_bound(ranges_.begin(), ranges_.end(), r.begin,
                                [](const Range& x, uint64_t v) { return x.end < v; });
  auto last = first;
  Range merged = r;
  while (last != ranges_.end() && last->begin <= r.end) {
    merged.begin = std::min(merged.begin, last->begin);
    merged.end = std::max(merged.end, last->end);
    ++last;
  }
  first = ranges_.erase(first, last);
  ranges_.insert(first, merged);
}

bool RangeSet::Covers(const Range& r) const {
  if (r.empty()) return true;
  auto it = std::upper_bound(ranges_.begin(), ranges_.end(), r.begin,
                             [](uint64_t v, const Range& x) { return v < x.begin; });
  if (it == ranges_.begin()) return false;
  --it;
  return it->begin <= r.begin && it->end >= r.end;
}

std::vector<Range> RangeSet::Gaps(const Range& within) const {
  std::vector<Range> out;
  uint64_t pos = within.begin;
  for (const Range& x : ranges_) {
    if (x.end <= pos) continue;
    if (x.begin >= within.end) break;
    if (x.begin > pos) out.push_back({pos, x.begin});
    pos = std::max(pos, x.end);
    if (pos >= within.end) break;
  }
  if (pos < within.end) out.push_back({pos, within.end});
  return out;
}

std::vector<Range> RangeSet::Inside(const Range& within) const {
  std::vector<Range> out;
  for (const Range& x : ranges_) {
    Range i = Intersect(x, within);
    if (!i.empty()) out.push_back(i);
  }
  return out;
}

MergePlan PlanMerge(const RangeSet& dirty, uint64_t old_valid) {
  MergePlan plan;
  plan.length = std::max(old_valid, dirty.end());
  for (const Range& gap : dirty.Gaps({0, plan.length})) {
    Range old = Intersect(gap, {0, old_valid});
    if (!old.empty()) plan.from_old.push_back(old);
    Range zero = Intersect(gap, {old_valid, plan.length});
    if (!zero.empty()) plan.zeros.push_back(zero);
  }
  return plan;
}

TruncatePlan PlanTruncate(uint64_t new_size, uint64_t chunk_size) {
  TruncatePlan plan;
  plan.cut_slot = new_size / chunk_size;
  plan.keep = new_size % chunk_size;
  if (plan.keep == 0) {
    // A slot boundary: the slot starting here goes entirely.
    plan.first_dropped = plan.cut_slot;
    plan.keep = chunk_size;
    plan.cut_slot = plan.cut_slot == 0 ? 0 : plan.cut_slot - 1;
  } else {
    plan.first_dropped = plan.cut_slot + 1;
  }
  return plan;
}

std::vector<Range> SplitAligned(const Range& r, uint32_t parts, uint64_t align) {
  std::vector<Range> out;
  if (r.empty()) return out;
  if (parts <= 1) return {r};
  uint64_t step = r.size() / parts;
  step = std::max<uint64_t>(align, (step + align - 1) / align * align);
  uint64_t pos = r.begin;
  for (uint32_t i = 0; i < parts && pos < r.end; ++i) {
    uint64_t end;
    if (i + 1 == parts) {
      end = r.end;
    } else {
      // Next boundary: a multiple of `align` at least `step` past pos.
      end = (pos + step) / align * align;
      if (end <= pos) end = pos + align;
      end = std::min(end, r.end);
    }
    out.push_back({pos, end});
    pos = end;
  }
  if (pos < r.end) out.back().end = r.end;
  return out;
}

}  // namespace cairn::client

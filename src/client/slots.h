// Slot arithmetic of the file data path, as pure functions over plain
// values (no I/O), so every corner is unit-tested (slots_test.cc).
//
// A file is a row of slots of `chunk_size` bytes (proto/meta.proto, "File
// data"); slot i covers file bytes [i*chunk_size, (i+1)*chunk_size) and
// holds at most one immutable chunk of `length` <= chunk_size bytes. A
// reader sees, for each byte below the file size, the chunk's byte when the
// slot has a chunk and the byte lies within its length, else zero.
//
// Thread-safety: pure functions; RangeSet is a plain value.
#pragma once

#include <cstdint>
#include <vector>

namespace cairn::client {

// Bytes [begin, end); begin <= end.
struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
  uint64_t size() const { return end - begin; }
  bool empty() const { return begin >= end; }
  friend bool operator==(const Range&, const Range&) = default;
};

// The intersection of two ranges (empty, at a.begin or b.begin, when they
// do not meet).
Range Intersect(const Range& a, const Range& b);

// The part of a file range that falls into one slot.
struct SlotSpan {
  uint64_t slot = 0;
  Range in_slot;        // slot-relative bytes
  uint64_t buffer = 0;  // offset of in_slot.begin from the range's start
  friend bool operator==(const SlotSpan&, const SlotSpan&) = default;
};

// Splits file bytes [offset, offset + length) into per-slot pieces, in
// order. chunk_size > 0; nothing for length 0.
std::vector<SlotSpan> SplitBySlot(uint64_t offset, uint64_t length, uint64_t chunk_size);

// How many of `length` bytes at `offset` lie below `file_size`.
uint64_t ReadableLength(uint64_t offset, uint64_t length, uint64_t file_size);

// Number of slots a file of `size` bytes spans.
uint64_t SlotCount(uint64_t size, uint64_t chunk_size);

// The slot-relative bytes of `slot` a reader takes from its chunk: the
// chunk's length cut at the slot end and at the file size. Past it the slot
// reads as zeros (up to the file size).
uint64_t ValidLength(uint64_t slot, uint64_t chunk_length, uint64_t chunk_size, uint64_t file_size);

// A read of slot-relative bytes `want` from a slot whose chunk supplies
// [0, valid): the part to fetch and the part to fill with zeros.
struct SlotRead {
  Range fetch;  // within [0, valid); may be empty
  Range zeros;  // the rest of `want`; may be empty
};
SlotRead PlanSlotRead(const Range& want, uint64_t valid);

// A set of disjoint, non-adjacent ranges kept sorted: the bytes of a slot
// a writer changed.
class RangeSet {
 public:
  // Adds [r.begin, r.end), merging with overlapping or touching ranges.
  void Add(const Range& r);
  bool empty() const { return ranges_.empty(); }
  void clear() { ranges_.clear(); }
  // The end of the last range (0 when empty).
  uint64_t end() const { return ranges_.empty() ? 0 : ranges_.back().end; }
  // True when every byte of `r` is in the set (an empty `r` is covered).
  bool Covers(const Range& r) const;
  // The parts of `within` not in the set, in order.
  std::vector<Range> Gaps(const Range& within) const;
  // The parts of the set inside `within`, in order.
  std::vector<Range> Inside(const Range& within) const;
  const std::vector<Range>& ranges() const { return ranges_; }
  friend bool operator==(const RangeSet&, const RangeSet&) = default;

 private:
  std::vector<Range> ranges_;
};

// How to build the new chunk of a slot written copy-on-write: the dirty
// bytes come from the writer, the rest of [0, length) from the old chunk
// (its first `old_valid` bytes, see ValidLength) and zeros past those.
struct MergePlan {
  uint64_t length = 0;          // of the new chunk: max(old_valid, dirty end)
  std::vector<Range> from_old;  // not dirty, below old_valid: copy from the old chunk
  std::vector<Range> zeros;     // not dirty, at or past old_valid: zero
};
MergePlan PlanMerge(const RangeSet& dirty, uint64_t old_valid);

// What Truncate(new_size) does to the slots: slots from `first_dropped` on
// lose their chunk; the slot `new_size` falls in keeps [0, keep) bytes of
// its chunk (keep == chunk_size when the size is a slot boundary: nothing
// to cut).
struct TruncatePlan {
  uint64_t first_dropped = 0;
  uint64_t cut_slot = 0;
  uint64_t keep = 0;
};
TruncatePlan PlanTruncate(uint64_t new_size, uint64_t chunk_size);

// Splits slot-relative bytes `r` into `parts` pieces of nearly equal size
// whose inner boundaries are multiples of `align` (so each piece covers
// whole CRC blocks), dropping empty pieces. parts >= 1, align >= 1.
std::vector<Range> SplitAligned(const Range& r, uint32_t parts, uint64_t align);

}  // namespace cairn::client

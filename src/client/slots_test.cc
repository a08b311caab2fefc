#include "client/slots.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace cairn::client {
namespace {

constexpr uint64_t kCs = 100;  // a small slot size keeps the numbers readable

TEST(SplitBySlot, EmptyRangeHasNoSpans) { EXPECT_TRUE(SplitBySlot(250, 0, kCs).empty()); }

TEST(SplitBySlot, InsideOneSlot) {
  auto spans = SplitBySlot(110, 20, kCs);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], (SlotSpan{1, {10, 30}, 0}));
}

TEST(SplitBySlot, ExactlyOneSlot) {
  auto spans = SplitBySlot(200, 100, kCs);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0], (SlotSpan{2, {0, 100}, 0}));
}

TEST(SplitBySlot, AcrossSlots) {
  auto spans = SplitBySlot(90, 230, kCs);  // [90, 320)
  ASSERT_EQ(spans.size(), 4u);
  EXPECT_EQ(spans[0], (SlotSpan{0, {90, 100}, 0}));
  EXPECT_EQ(spans[1], (SlotSpan{1, {0, 100}, 10}));
  EXPECT_EQ(spans[2], (SlotSpan{2, {0, 100}, 110}));
  EXPECT_EQ(spans[3], (SlotSpan{3, {0, 20}, 210}));
}

TEST(SplitBySlot, ChunkSizeBoundaries) {
  // chunk-1, chunk, chunk+1 bytes from 0.
  EXPECT_EQ(SplitBySlot(0, kCs - 1, kCs).size(), 1u);
  EXPECT_EQ(SplitBySlot(0, kCs, kCs).size(), 1u);
  auto spans = SplitBySlot(0, kCs + 1, kCs);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[1], (SlotSpan{1, {0, 1}, kCs}));
}

TEST(SplitBySlot, FarOffsets) {
  const uint64_t big = uint64_t{1} << 50;
  auto spans = SplitBySlot(big - 1, 2, 1 << 20);
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0].slot, (big >> 20) - 1);
  EXPECT_EQ(spans[1].slot, big >> 20);
}

TEST(ReadableLength, ClampsAtTheSize) {
  EXPECT_EQ(ReadableLength(0, 10, 0), 0u);
  EXPECT_EQ(ReadableLength(5, 10, 5), 0u);
  EXPECT_EQ(ReadableLength(6, 10, 5), 0u);
  EXPECT_EQ(ReadableLength(0, 10, 5), 5u);
  EXPECT_EQ(ReadableLength(2, 2, 5), 2u);
}

TEST(SlotCount, RoundsUp) {
  EXPECT_EQ(SlotCount(0, kCs), 0u);
  EXPECT_EQ(SlotCount(1, kCs), 1u);
  EXPECT_EQ(SlotCount(kCs, kCs), 1u);
  EXPECT_EQ(SlotCount(kCs + 1, kCs), 2u);
}

TEST(ValidLength, CutAtChunkSlotAndFileSize) {
  EXPECT_EQ(ValidLength(0, 50, kCs, 1000), 50u);    // short chunk
  EXPECT_EQ(ValidLength(0, 150, kCs, 1000), 100u);  // never past the slot
  EXPECT_EQ(ValidLength(2, 100, kCs, 230), 30u);    // file ends inside the slot
  EXPECT_EQ(ValidLength(2, 100, kCs, 200), 0u);     // file ends before the slot
  EXPECT_EQ(ValidLength(2, 0, kCs, 1000), 0u);
}

TEST(PlanSlotRead, FetchThenZeros) {
  SlotRead r = PlanSlotRead({10, 90}, 50);
  EXPECT_EQ(r.fetch, (Range{10, 50}));
  EXPECT_EQ(r.zeros, (Range{50, 90}));
}

TEST(PlanSlotRead, AllFetched) {
  SlotRead r = PlanSlotRead({10, 40}, 50);
  EXPECT_EQ(r.fetch, (Range{10, 40}));
  EXPECT_TRUE(r.zeros.empty());
}

TEST(PlanSlotRead, HoleIsAllZeros) {
  SlotRead r = PlanSlotRead({10, 40}, 0);
  EXPECT_TRUE(r.fetch.empty());
  EXPECT_EQ(r.zeros, (Range{10, 40}));
  // Entirely past the chunk's end.
  r = PlanSlotRead({60, 80}, 50);
  EXPECT_TRUE(r.fetch.empty());
  EXPECT_EQ(r.zeros, (Range{60, 80}));
}

TEST(RangeSet, MergesOverlappingAndTouching) {
  RangeSet s;
  s.Add({10, 20});
  s.Add({30, 40});
  EXPECT_EQ(s.ranges().size(), 2u);
  s.Add({20, 30});  // touches both
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], (Range{10, 40}));
  s.Add({0, 5});
  s.Add({50, 60});
  s.Add({3, 55});
  ASSERT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.ranges()[0], (Range{0, 60}));
  s.Add({70, 70});  // empty: nothing
  EXPECT_EQ(s.ranges().size(), 1u);
  EXPECT_EQ(s.end(), 60u);
}

TEST(RangeSet, CoversAndGaps) {
  RangeSet s;
  s.Add({10, 20});
  s.Add({30, 40});
  EXPECT_TRUE(s.Covers({12, 18}));
  EXPECT_TRUE(s.Covers({10, 20}));
  EXPECT_FALSE(s.Covers({15, 35}));
  EXPECT_FALSE(s.Covers({0, 5}));
  EXPECT_TRUE(s.Covers({5, 5}));
  EXPECT_EQ(s.Gaps({0, 50}), (std::vector<Range>{{0, 10}, {20, 30}, {40, 50}}));
  EXPECT_EQ(s.Gaps({12, 35}), (std::vector<Range>{{20, 30}}));
  EXPECT_TRUE(s.Gaps({10, 20}).empty());
  EXPECT_EQ(s.Inside({15, 35}), (std::vector<Range>{{15, 20}, {30, 35}}));
}

TEST(RangeSet, RandomAgainstABitmap) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    RangeSet s;
    std::vector<bool> bits(200);
    for (int i = 0; i < 8; ++i) {
      uint64_t a = rng() % 200, b = rng() % 200;
      if (a > b) std::swap(a, b);
      s.Add({a, b});
      for (uint64_t x = a; x < b; ++x) bits[x] = true;
    }
    // Sorted, disjoint, not touching.
    for (size_t i = 1; i < s.ranges().size(); ++i) {
      ASSERT_LT(s.ranges()[i - 1].end, s.ranges()[i].begin);
    }
    std::vector<bool> from_set(200), from_gaps(200, true);
    for (const Range& r : s.ranges()) {
      for (uint64_t x = r.begin; x < r.end; ++x) from_set[x] = true;
    }
    for (const Range& r : s.Gaps({0, 200})) {
      for (uint64_t x = r.begin; x < r.end; ++x) from_gaps[x] = false;
    }
    ASSERT_EQ(from_set, bits);
    ASSERT_EQ(from_gaps, bits);
  }
}

TEST(PlanMerge, NewSlotWrittenFromZero) {
  RangeSet d;
  d.Add({0, 40});
  MergePlan p = PlanMerge(d, 0);
  EXPECT_EQ(p.length, 40u);
  EXPECT_TRUE(p.from_old.empty());
  EXPECT_TRUE(p.zeros.empty());
}

TEST(PlanMerge, OverwriteInTheMiddleKeepsTheRest) {
  RangeSet d;
  d.Add({30, 50});
  MergePlan p = PlanMerge(d, 100);
  EXPECT_EQ(p.length, 100u);
  EXPECT_EQ(p.from_old, (std::vector<Range>{{0, 30}, {50, 100}}));
  EXPECT_TRUE(p.zeros.empty());
}

TEST(PlanMerge, WritePastAShortChunkZeroFillsTheGap) {
  RangeSet d;
  d.Add({70, 90});
  MergePlan p = PlanMerge(d, 40);  // old chunk holds 40 bytes
  EXPECT_EQ(p.length, 90u);
  EXPECT_EQ(p.from_old, (std::vector<Range>{{0, 40}}));
  EXPECT_EQ(p.zeros, (std::vector<Range>{{40, 70}}));
}

TEST(PlanMerge, HoleWithAWriteInTheMiddle) {
  RangeSet d;
  d.Add({20, 30});
  MergePlan p = PlanMerge(d, 0);
  EXPECT_EQ(p.length, 30u);
  EXPECT_TRUE(p.from_old.empty());
  EXPECT_EQ(p.zeros, (std::vector<Range>{{0, 20}}));
}

TEST(PlanMerge, SeveralWritesAcrossTheOldEnd) {
  RangeSet d;
  d.Add({10, 20});
  d.Add({45, 55});
  d.Add({80, 90});
  MergePlan p = PlanMerge(d, 50);
  EXPECT_EQ(p.length, 90u);
  EXPECT_EQ(p.from_old, (std::vector<Range>{{0, 10}, {20, 45}}));
  EXPECT_EQ(p.zeros, (std::vector<Range>{{55, 80}}));
}

// The merge applied to bytes gives what a reader of the old slot plus the
// writes must see.
TEST(PlanMerge, RandomAgainstAModel) {
  std::mt19937 rng(11);
  for (int round = 0; round < 300; ++round) {
    const uint64_t old_valid = rng() % (kCs + 1);
    std::string old_chunk(kCs, '\0');
    for (auto& c : old_chunk) c = static_cast<char>('a' + rng() % 26);
    // The reader's view: old bytes below old_valid, zeros after.
    std::string model(kCs, '\0');
    std::memcpy(model.data(), old_chunk.data(), old_valid);
    uint64_t model_len = old_valid;
    RangeSet dirty;
    std::string written(kCs, '?');
    for (int i = 0, n = 1 + rng() % 4; i < n; ++i) {
      uint64_t a = rng() % kCs, b = a + 1 + rng() % (kCs - a);
      dirty.Add({a, b});
      for (uint64_t x = a; x < b; ++x) written[x] = model[x] = static_cast<char>('A' + rng() % 26);
      model_len = std::max(model_len, b);
    }
    MergePlan p = PlanMerge(dirty, old_valid);
    ASSERT_EQ(p.length, model_len);
    std::string built(p.length, '#');
    for (const Range& r : dirty.ranges()) {
      for (uint64_t x = r.begin; x < r.end; ++x) built[x] = written[x];
    }
    for (const Range& r : p.from_old) {
      ASSERT_LE(r.end, old_valid);
      for (uint64_t x = r.begin; x < r.end; ++x) built[x] = old_chunk[x];
    }
    for (const Range& r : p.zeros) {
      ASSERT_GE(r.begin, old_valid);
      for (uint64_t x = r.begin; x < r.end; ++x) built[x] = '\0';
    }
    ASSERT_EQ(built, model.substr(0, model_len)) << "round " << round;
  }
}

TEST(PlanTruncate, InsideASlot) {
  TruncatePlan p = PlanTruncate(250, kCs);
  EXPECT_EQ(p.first_dropped, 3u);
  EXPECT_EQ(p.cut_slot, 2u);
  EXPECT_EQ(p.keep, 50u);
}

TEST(PlanTruncate, AtASlotBoundary) {
  TruncatePlan p = PlanTruncate(200, kCs);
  EXPECT_EQ(p.first_dropped, 2u);
  EXPECT_EQ(p.cut_slot, 1u);
  EXPECT_EQ(p.keep, kCs);
  p = PlanTruncate(0, kCs);
  EXPECT_EQ(p.first_dropped, 0u);
}

TEST(SplitAligned, EvenPiecesOnBlockBoundaries) {
  auto parts = SplitAligned({0, 8 << 20}, 3, 64 << 10);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts.front().begin, 0u);
  EXPECT_EQ(parts.back().end, uint64_t{8 << 20});
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    EXPECT_EQ(parts[i].end, parts[i + 1].begin);
    EXPECT_EQ(parts[i].end % (64 << 10), 0u);
  }
}

TEST(SplitAligned, SmallRangesStayWhole) {
  auto parts = SplitAligned({0, 1000}, 3, 64 << 10);
  ASSERT_EQ(parts.size(), 1u);
  EXPECT_EQ(parts[0], (Range{0, 1000}));
  EXPECT_TRUE(SplitAligned({5, 5}, 3, 4).empty());
  EXPECT_EQ(SplitAligned({3, 17}, 1, 4), (std::vector<Range>{{3, 17}}));
}

TEST(SplitAligned, CoversUnalignedRanges) {
  for (uint64_t begin : {0, 1, 4095, 70000}) {
    for (uint64_t len : {1, 65536, 200000, 1 << 20}) {
      for (uint32_t parts : {1, 2, 3, 5}) {
        auto out = SplitAligned({begin, begin + len}, parts, 65536);
        ASSERT_FALSE(out.empty());
        ASSERT_LE(out.size(), parts);
        EXPECT_EQ(out.front().begin, begin);
        EXPECT_EQ(out.back().end, begin + len);
        for (size_t i = 0; i + 1 < out.size(); ++i) {
          EXPECT_EQ(out[i].end, out[i + 1].begin);
          EXPECT_FALSE(out[i].empty());
          EXPECT_EQ(out[i].end % 65536, 0u);
        }
      }
    }
  }
}

}  // namespace
}  // namespace cairn::client

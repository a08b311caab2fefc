#include "chunk/chunk_format.h"

#include <vector>

#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

std::vector<uint8_t> Prefix(ChunkId id, uint64_t length, std::vector<uint32_t>* crcs_out) {
  std::vector<uint8_t> data(length);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i ^ (i >> 9));
  *crcs_out = crc32c::BlockCrcs(data, kBlockSize);
  std::vector<uint8_t> prefix(DataOffset(crcs_out->size()));
  EncodePrefix(id, length, *crcs_out, prefix);
  return prefix;
}

TEST(ChunkFormatTest, DataOffsetIsPageAligned) {
  EXPECT_EQ(DataOffset(0), 4096u);
  EXPECT_EQ(DataOffset(1), 4096u);
  EXPECT_EQ(DataOffset(128), 4096u);   // 8 MiB chunk
  EXPECT_EQ(DataOffset(1008), 4096u);  // 64 + 4 * 1008 == 4096
  EXPECT_EQ(DataOffset(1009), 8192u);
  EXPECT_EQ(DataOffset(kMaxBlocks), 8192u);
}

TEST(ChunkFormatTest, RoundTrip) {
  ChunkId id{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  for (uint64_t len : {uint64_t{0}, uint64_t{1}, uint64_t{kBlockSize}, uint64_t{kBlockSize + 1},
                       uint64_t{3 * kBlockSize + 17}}) {
    std::vector<uint32_t> crcs;
    std::vector<uint8_t> prefix = Prefix(id, len, &crcs);
    auto h = DecodeHeader(prefix);
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->id, id);
    EXPECT_EQ(h->data_length, len);
    EXPECT_EQ(h->num_blocks, crcs.size());
    EXPECT_EQ(h->data_offset, DataOffset(crcs.size()));
    std::vector<uint32_t> table(h->num_blocks);
    ASSERT_TRUE(
        DecodeTable(*h, std::span(prefix.data() + kHeaderSize, 4 * crcs.size()), table).ok());
    EXPECT_EQ(table, crcs);
    // Padding is zero.
    for (size_t i = kHeaderSize + 4 * crcs.size(); i < prefix.size(); ++i) ASSERT_EQ(prefix[i], 0);
  }
}

// The byte layout promised by docs/chunk-format.md.
TEST(ChunkFormatTest, ExactLayout) {
  ChunkId id{0x1122334455667788ULL, 0x99aabbccddeeff00ULL};
  std::vector<uint32_t> crcs;
  std::vector<uint8_t> p = Prefix(id, 70000, &crcs);
  EXPECT_EQ(std::string(p.begin(), p.begin() + 8), "CAIRNCHK");
  EXPECT_EQ(le::Get16(&p[8]), 1);
  EXPECT_EQ(le::Get16(&p[10]), 0);
  EXPECT_EQ(le::Get32(&p[12]), 65536u);
  EXPECT_EQ(p[16], 0x88);  // id.hi little-endian
  EXPECT_EQ(le::Get64(&p[16]), id.hi);
  EXPECT_EQ(le::Get64(&p[24]), id.lo);
  EXPECT_EQ(le::Get64(&p[32]), 70000u);
  EXPECT_EQ(le::Get32(&p[40]), 2u);
  EXPECT_EQ(le::Get32(&p[44]), 4096u);
  EXPECT_EQ(le::Get32(&p[48]), crc32c::Value(&p[64], 8));
  EXPECT_EQ(le::Get64(&p[52]), 0u);
  EXPECT_EQ(le::Get32(&p[60]), crc32c::Value(p.data(), 60));
  EXPECT_EQ(le::Get32(&p[64]), crcs[0]);
  EXPECT_EQ(le::Get32(&p[68]), crcs[1]);
}

TEST(ChunkFormatTest, EveryHeaderByteIsProtected) {
  std::vector<uint32_t> crcs;
  std::vector<uint8_t> p = Prefix(ChunkId{1, 2}, 100, &crcs);
  for (size_t i = 0; i < kHeaderSize; ++i) {
    for (uint8_t bit = 1; bit != 0; bit <<= 1) {
      std::vector<uint8_t> q = p;
      q[i] ^= bit;
      auto h = DecodeHeader(q);
      ASSERT_FALSE(h.ok()) << "byte " << i;
      EXPECT_EQ(ErrcOf(h.status()), Errc::kCorrupt);
    }
  }
  EXPECT_FALSE(DecodeHeader(std::span(p.data(), kHeaderSize - 1)).ok());
}

TEST(ChunkFormatTest, TableCrcChecked) {
  std::vector<uint32_t> crcs;
  std::vector<uint8_t> p = Prefix(ChunkId{1, 2}, 200000, &crcs);
  auto h = DecodeHeader(p);
  ASSERT_TRUE(h.ok());
  p[kHeaderSize + 5] ^= 1;
  std::vector<uint32_t> table(h->num_blocks);
  absl::Status s = DecodeTable(*h, std::span(p.data() + kHeaderSize, 4 * table.size()), table);
  EXPECT_EQ(ErrcOf(s), Errc::kCorrupt);
}

// A header whose CRC is right but whose fields break a rule (as a buggy or
// hostile writer would produce) is still refused.
TEST(ChunkFormatTest, InconsistentFieldsRejected) {
  auto reseal = [](std::vector<uint8_t>& q) { le::Put32(&q[60], crc32c::Value(q.data(), 60)); };
  std::vector<uint32_t> crcs;
  const std::vector<uint8_t> p = Prefix(ChunkId{1, 2}, 100, &crcs);
  struct Case {
    const char* name;
    void (*edit)(std::vector<uint8_t>&);
  } cases[] = {
      {"version", [](std::vector<uint8_t>& q) { le::Put16(&q[8], 2); }},
      {"flags", [](std::vector<uint8_t>& q) { le::Put16(&q[10], 1); }},
      {"block size", [](std::vector<uint8_t>& q) { le::Put32(&q[12], 4096); }},
      {"zero id",
       [](std::vector<uint8_t>& q) {
         le::Put64(&q[16], 0);
         le::Put64(&q[24], 0);
       }},
      {"length", [](std::vector<uint8_t>& q) { le::Put64(&q[32], kMaxChunkSize + 1); }},
      {"blocks", [](std::vector<uint8_t>& q) { le::Put32(&q[40], 2); }},
      {"offset", [](std::vector<uint8_t>& q) { le::Put32(&q[44], 64); }},
      {"reserved", [](std::vector<uint8_t>& q) { q[55] = 1; }},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> q = p;
    c.edit(q);
    reseal(q);
    auto h = DecodeHeader(q);
    EXPECT_EQ(ErrcOf(h.status()), Errc::kCorrupt) << c.name;
  }
}

TEST(ChunkIdTest, HexRoundTrip) {
  ChunkId id{0x0123456789abcdefULL, 0x00000000000000ffULL};
  EXPECT_EQ(id.ToString(), "0123456789abcdef00000000000000ff");
  EXPECT_EQ(ChunkId::Parse(id.ToString()), id);
  EXPECT_EQ(ChunkId::Parse("0123456789ABCDEF00000000000000FF"), id);
  EXPECT_FALSE(ChunkId::Parse("0123").has_value());
  EXPECT_FALSE(ChunkId::Parse("0123456789abcdef00000000000000fg").has_value());
  EXPECT_FALSE(ChunkId::Parse("0123456789abcdef00000000000000fff").has_value());
  ChunkId a = ChunkId::Random(), b = ChunkId::Random();
  EXPECT_NE(a, b);
  EXPECT_TRUE(a.valid());
  EXPECT_LT((ChunkId{1, 5}), (ChunkId{2, 0}));
  EXPECT_LT((ChunkId{1, 5}), (ChunkId{1, 6}));
  EXPECT_NE(std::hash<ChunkId>()(a), std::hash<ChunkId>()(b));
}

}  // namespace
}  // namespace cairn::chunk

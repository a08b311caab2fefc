#include "chunk/crc32c.h"

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cairn::crc32c {
namespace {

uint32_t Of(const std::string& s) { return Value(s.data(), s.size()); }

// Check values from RFC 3720 (iSCSI), appendix B.4, and the common
// "123456789" check value of CRC-32C.
TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Of("123456789"), 0xE3069283u);
  EXPECT_EQ(Of(""), 0u);
  std::vector<uint8_t> zeros(32, 0x00);
  EXPECT_EQ(Value(zeros.data(), zeros.size()), 0x8A9136AAu);
  std::vector<uint8_t> ones(32, 0xFF);
  EXPECT_EQ(Value(ones.data(), ones.size()), 0x62A8AB43u);
  std::vector<uint8_t> inc(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<uint8_t>(i);
  EXPECT_EQ(Value(inc.data(), inc.size()), 0x46DD794Eu);
  std::vector<uint8_t> dec(32);
  for (int i = 0; i < 32; ++i) dec[i] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Value(dec.data(), dec.size()), 0x113FDB5Cu);
  EXPECT_EQ(Of("The quick brown fox jumps over the lazy dog"), 0x22620404u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string s = "hello, chunk servers and replication chains";
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t a = Of(s.substr(0, cut));
    EXPECT_EQ(Extend(a, s.data() + cut, s.size() - cut), Of(s)) << cut;
  }
}

TEST(Crc32cTest, BlockCrcs) {
  std::vector<uint8_t> data(3 * 1000 + 7);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
  std::vector<uint32_t> crcs = BlockCrcs(data, 1000);
  ASSERT_EQ(crcs.size(), 4u);
  EXPECT_EQ(crcs[0], Value(data.data(), 1000));
  EXPECT_EQ(crcs[3], Value(data.data() + 3000, 7));
  EXPECT_TRUE(BlockCrcs({}, 1000).empty());
  EXPECT_EQ(NumBlocks(0, 64), 0u);
  EXPECT_EQ(NumBlocks(1, 64), 1u);
  EXPECT_EQ(NumBlocks(64, 64), 1u);
  EXPECT_EQ(NumBlocks(65, 64), 2u);
}

}  // namespace
}  // namespace cairn::crc32c

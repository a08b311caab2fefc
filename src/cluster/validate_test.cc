#include "cluster/validate.h"

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::cluster {
namespace {

TEST(ValidateTest, HostPort) {
  for (const char* ok :
       {"127.0.0.1:80", "localhost:65535", "a-b.example.com:1", "[::1]:7000", "[fe80::1]:9"}) {
    EXPECT_TRUE(CheckHostPort(ok, "f", true).ok()) << ok;
  }
  for (const char* bad :
       {"", "host", ":80", "host:", "host:0", "host:65536", "host:080", "host:-1", "host:8a",
        "ho st:80", "-host:80", "[::1:80", "[zz]:80", "host:123456", "h\n:1", "[]:80"}) {
    EXPECT_EQ(ErrcOf(CheckHostPort(bad, "f", true)), Errc::kInvalid) << bad;
  }
  EXPECT_TRUE(CheckHostPort("", "f", false).ok());
  EXPECT_EQ(ErrcOf(CheckHostPort(std::string(254, 'a') + ":1", "f", true)), Errc::kInvalid);
  EXPECT_TRUE(CheckHostPort(std::string(253, 'a') + ":1", "f", true).ok());
}

TEST(ValidateTest, ZoneReasonNode) {
  EXPECT_TRUE(CheckZone("").ok());
  EXPECT_TRUE(CheckZone("rack-1.row_2").ok());
  EXPECT_EQ(ErrcOf(CheckZone("a b")), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(CheckZone(std::string(65, 'a'))), Errc::kInvalid);
  EXPECT_TRUE(CheckReason("read timed out").ok());
  EXPECT_EQ(ErrcOf(CheckReason(std::string(1025, 'a'))), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(CheckReason("a\x01")), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(CheckNodeId(0, "node_id")), Errc::kInvalid);
  EXPECT_TRUE(CheckNodeId(1, "node_id").ok());
}

TEST(ValidateTest, ChunkIdBytes) {
  ChunkId id{0x0102030405060708ULL, 0x090a0b0c0d0e0f10ULL};
  std::string bytes = ChunkIdToBytes(id);
  ASSERT_EQ(bytes.size(), 16u);
  EXPECT_EQ(bytes[0], 1);
  EXPECT_EQ(bytes[15], 0x10);
  auto back = ChunkIdFromBytes(bytes);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, id);
  EXPECT_EQ(ErrcOf(ChunkIdFromBytes(std::string(16, '\0')).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(ChunkIdFromBytes("short").status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(ChunkIdFromBytes(std::string(17, 'a')).status()), Errc::kInvalid);
}

}  // namespace
}  // namespace cairn::cluster

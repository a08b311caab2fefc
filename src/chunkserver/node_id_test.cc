#include "chunkserver/node_id.h"

#include <filesystem>
#include <fstream>

#include "chunk/test_util.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::ScratchDir;

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

class NodeIdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* d : {"a", "b"}) {
      std::filesystem::create_directories(scratch_.Sub(d));
      dirs_.push_back(scratch_.Sub(d));
    }
  }
  ScratchDir scratch_;
  std::vector<std::string> dirs_;
};

TEST_F(NodeIdTest, NoneStoredThenStoredInEveryDirectory) {
  auto none = LoadNodeId(dirs_);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->id.valid());
  EXPECT_EQ(none->missing, dirs_);

  ASSERT_TRUE(StoreNodeId(dirs_, NodeId(42)).ok());
  auto got = LoadNodeId(dirs_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, NodeId(42));
  EXPECT_TRUE(got->missing.empty());
  // The exact bytes, and no temporary file left behind.
  std::ifstream in(dirs_[0] + "/node_id");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "42\n");
  EXPECT_FALSE(std::filesystem::exists(dirs_[0] + "/node_id.tmp"));
  // Overwriting is allowed (meta gave a new id).
  ASSERT_TRUE(StoreNodeId(dirs_, NodeId(43)).ok());
  EXPECT_EQ(LoadNodeId(dirs_)->id, NodeId(43));
  EXPECT_EQ(ErrcOf(StoreNodeId(dirs_, NodeId())), Errc::kInvalid);
}

TEST_F(NodeIdTest, ADirectoryWithoutTheFileIsReportedMissing) {
  ASSERT_TRUE(StoreNodeId({dirs_[1]}, NodeId(7)).ok());
  auto got = LoadNodeId(dirs_);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->id, NodeId(7));
  EXPECT_EQ(got->missing, std::vector<std::string>{dirs_[0]});
}

TEST_F(NodeIdTest, DirectoriesOfDifferentNodesAreRefused) {
  ASSERT_TRUE(StoreNodeId({dirs_[0]}, NodeId(1)).ok());
  ASSERT_TRUE(StoreNodeId({dirs_[1]}, NodeId(2)).ok());
  auto got = LoadNodeId(dirs_);
  EXPECT_EQ(ErrcOf(got.status()), Errc::kInvalid);
  EXPECT_NE(got.status().message().find("different nodes"), std::string_view::npos) << got.status();
}

TEST_F(NodeIdTest, MalformedFilesAreCorrupt) {
  for (const char* bad :
       {"", "\n", "0\n", "abc\n", "12x\n", "-3\n", " 5\n", "99999999999999999999999\n", "5\n\n"}) {
    WriteFile(dirs_[0] + "/node_id", bad);
    EXPECT_EQ(ErrcOf(LoadNodeId(dirs_).status()), Errc::kCorrupt) << "'" << bad << "'";
  }
  WriteFile(dirs_[0] + "/node_id", "18446744073709551615");  // no newline: accepted
  EXPECT_EQ(LoadNodeId({dirs_[0]})->id, NodeId(18446744073709551615ull));
}

}  // namespace
}  // namespace cairn::chunkserver

#include "client/paths.h"

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::client {
namespace {

void ExpectSplit(std::string_view path, std::string_view parent, std::string_view name) {
  auto pn = SplitParent(path);
  ASSERT_TRUE(pn.ok()) << path;
  EXPECT_EQ(pn->parent, parent) << path;
  EXPECT_EQ(pn->name, name) << path;
}

TEST(SplitParent, Forms) {
  ExpectSplit("/", "/", "");
  ExpectSplit("//", "/", "");
  ExpectSplit("/a", "/", "a");
  ExpectSplit("/a/", "/", "a");
  ExpectSplit("/a/b", "/a", "b");
  ExpectSplit("/a/b///", "/a", "b");
  ExpectSplit("/a//b", "/a", "b");
  ExpectSplit("//a", "/", "a");
}

TEST(SplitParent, Errors) {
  EXPECT_EQ(ErrcOf(SplitParent("").status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(SplitParent("a/b").status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(SplitParent("/" + std::string(5000, 'a')).status()), Errc::kNameTooLong);
}

TEST(JoinPath, Forms) {
  EXPECT_EQ(JoinPath("/", "a"), "/a");
  EXPECT_EQ(JoinPath("/d", "a"), "/d/a");
  EXPECT_EQ(JoinPath("/d/", "a"), "/d/a");
}

}  // namespace
}  // namespace cairn::client

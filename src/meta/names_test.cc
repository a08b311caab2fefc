#include "meta/names.h"

#include <random>

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::meta {
namespace {

Errc CodeOf(const absl::Status& s) { return ErrcOf(s); }
template <typename T>
Errc CodeOf(const absl::StatusOr<T>& s) {
  return ErrcOf(s.status());
}

TEST(NamesTest, ValidateName) {
  EXPECT_TRUE(ValidateName("a").ok());
  EXPECT_TRUE(ValidateName("...").ok());
  EXPECT_TRUE(ValidateName(".hidden").ok());
  EXPECT_TRUE(ValidateName("\xff\xfe utf-8 or not").ok());
  EXPECT_TRUE(ValidateName(std::string(255, 'x')).ok());
  EXPECT_EQ(CodeOf(ValidateName(std::string(256, 'x'))), Errc::kNameTooLong);
  EXPECT_EQ(CodeOf(ValidateName("")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateName(".")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateName("..")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateName("a/b")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateName("/")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateName(std::string("a\0b", 3))), Errc::kInvalid);
}

TEST(NamesTest, SplitPath) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(*SplitPath("/"), V{});
  EXPECT_EQ(*SplitPath("///"), V{});
  EXPECT_EQ(*SplitPath("/a"), V{"a"});
  EXPECT_EQ(*SplitPath("/a//b/"), (V{"a", "b"}));
  EXPECT_EQ(*SplitPath("/...//.x"), (V{"...", ".x"}));
  EXPECT_EQ(CodeOf(SplitPath("")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(SplitPath("a/b")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(SplitPath("/a/./b")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(SplitPath("/a/..")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(SplitPath(std::string("/a\0b", 4))), Errc::kInvalid);
  EXPECT_TRUE(SplitPath("/" + std::string(255, 'x')).ok());
  EXPECT_EQ(CodeOf(SplitPath("/" + std::string(256, 'x'))), Errc::kNameTooLong);
}

TEST(NamesTest, SplitPathLimits) {
  // 4096 bytes is the longest path.
  std::string longest = "/" + std::string(200, 'a');
  while (longest.size() + 201 <= kMaxPathLength) longest += "/" + std::string(200, 'a');
  longest += "/" + std::string(kMaxPathLength - longest.size() - 1, 'b');
  ASSERT_EQ(longest.size(), kMaxPathLength);
  EXPECT_TRUE(SplitPath(longest).ok());
  EXPECT_EQ(CodeOf(SplitPath(longest + "c")), Errc::kNameTooLong);

  // 1024 components is the deepest path.
  std::string deep;
  for (size_t i = 0; i < kMaxPathDepth; ++i) deep += "/d";
  auto parts = SplitPath(deep);
  ASSERT_TRUE(parts.ok());
  EXPECT_EQ(parts->size(), kMaxPathDepth);
  EXPECT_EQ(CodeOf(SplitPath(deep + "/d")), Errc::kLoop);
}

TEST(NamesTest, NormalizePath) {
  EXPECT_EQ(*NormalizePath("/", "a"), "/a");
  EXPECT_EQ(*NormalizePath("/x/y", "a/b"), "/x/y/a/b");
  EXPECT_EQ(*NormalizePath("/x/y", "../a"), "/x/a");
  EXPECT_EQ(*NormalizePath("/x/y", "../../../../a"), "/a");
  EXPECT_EQ(*NormalizePath("/x/y", "."), "/x/y");
  EXPECT_EQ(*NormalizePath("/x/y", ".."), "/x");
  EXPECT_EQ(*NormalizePath("/x", "/"), "/");
  EXPECT_EQ(*NormalizePath("/x", "//a//./b/../c/"), "/a/c");
  EXPECT_EQ(*NormalizePath("/x/./y/../z", "w"), "/x/z/w");
  EXPECT_EQ(*NormalizePath("relative", "/abs"), "/abs");  // cwd unused
  EXPECT_EQ(*NormalizePath("/", "..."), "/...");
  EXPECT_EQ(CodeOf(NormalizePath("relative", "a")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(NormalizePath("", "a")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(NormalizePath("/", "")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(NormalizePath("/", std::string("a\0", 2))), Errc::kInvalid);
  EXPECT_EQ(CodeOf(NormalizePath("/", std::string(256, 'x'))), Errc::kNameTooLong);
  // Components removed by ".." do not count towards the limits.
  std::string path;
  for (int i = 0; i < 3000; ++i) path += "a/../";
  EXPECT_EQ(*NormalizePath("/", path + "b"), "/b");
  std::string deep;
  for (size_t i = 0; i <= kMaxPathDepth; ++i) deep += "/d";
  EXPECT_EQ(CodeOf(NormalizePath("/", deep)), Errc::kLoop);
  std::string big;
  for (int i = 0; i < 20; ++i) big += "/" + std::string(255, 'c');
  EXPECT_EQ(CodeOf(NormalizePath("/", big)), Errc::kNameTooLong);
}

TEST(NamesTest, NormalizedPathsSplit) {
  std::mt19937 rng(99);
  const std::string_view pieces[] = {"a", "b", ".", "..", "/", "//", "xyz", "\xff"};
  for (int i = 0; i < 5000; ++i) {
    std::string cwd = "/", path;
    for (int j = rng() % 8; j > 0; --j) cwd += std::string(pieces[rng() % 8]) + "/";
    for (int j = rng() % 10; j > 0; --j) path += pieces[rng() % 8];
    if (path.empty()) continue;
    auto norm = NormalizePath(cwd, path);
    ASSERT_TRUE(norm.ok()) << cwd << " " << path << ": " << norm.status();
    EXPECT_TRUE(SplitPath(*norm).ok()) << *norm;
    EXPECT_EQ(*NormalizePath("/", *norm), *norm);  // idempotent
  }
}

TEST(NamesTest, SymlinkTarget) {
  EXPECT_TRUE(ValidateSymlinkTarget("a").ok());
  EXPECT_TRUE(ValidateSymlinkTarget("../x/./y").ok());
  EXPECT_TRUE(ValidateSymlinkTarget(std::string(4095, 'x')).ok());
  EXPECT_EQ(CodeOf(ValidateSymlinkTarget(std::string(4096, 'x'))), Errc::kNameTooLong);
  EXPECT_EQ(CodeOf(ValidateSymlinkTarget("")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateSymlinkTarget(std::string("a\0", 2))), Errc::kInvalid);
}

TEST(NamesTest, XattrName) {
  EXPECT_TRUE(ValidateXattrName("user.a").ok());
  EXPECT_TRUE(ValidateXattrName("trusted.x").ok());
  EXPECT_TRUE(ValidateXattrName("security.selinux").ok());
  EXPECT_TRUE(ValidateXattrName("system.posix_acl_access").ok());
  EXPECT_TRUE(ValidateXattrName("user." + std::string(250, 'x')).ok());
  EXPECT_EQ(CodeOf(ValidateXattrName("user." + std::string(251, 'x'))), Errc::kRange);
  EXPECT_EQ(CodeOf(ValidateXattrName("")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateXattrName("user.")), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateXattrName(std::string("user.a\0", 7))), Errc::kInvalid);
  EXPECT_EQ(CodeOf(ValidateXattrName("other.a")), Errc::kNotSupported);
  EXPECT_EQ(CodeOf(ValidateXattrName("usera")), Errc::kNotSupported);
}

}  // namespace
}  // namespace cairn::meta

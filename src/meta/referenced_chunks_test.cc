// ListReferencedChunks: the read-only scan of chunk references that GC
// reconciliation relies on. Runs against every store.
#include <set>

#include "meta/namespace_fixture.h"

namespace cairn::meta {
namespace {

class ReferencedChunksTest : public NamespaceTest {
 protected:
  static std::string Id(uint64_t n) { return keys::EncodeU64(0x5ca7'0000) + keys::EncodeU64(n); }
  void Put(const proto::InodeRecord& file, std::vector<std::pair<uint64_t, uint64_t>> slots) {
    CommitWriteArgs args;
    uint64_t size = 0;
    for (auto [slot, n] : slots) {
      SlotUpdate u;
      u.slot = slot;
      u.chunk.set_id(Id(n));
      u.chunk.set_length(100);
      size = std::max(size, slot * kDefaultChunkSize + 100);
      args.updates.push_back(std::move(u));
    }
    args.min_size = size;
    auto r = ns_->CommitWrite(InodeId(file.ino()), args);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  // Every id referenced, as numbers, scanning `page` inodes at a time.
  std::multiset<uint64_t> All(uint32_t page, int* calls = nullptr) {
    std::multiset<uint64_t> out;
    InodeId after;
    for (int i = 0; i < 10000; ++i) {
      auto p = ns_->ListReferencedChunks(after, page);
      EXPECT_TRUE(p.ok()) << p.status();
      if (!p.ok()) break;
      if (calls != nullptr) ++*calls;
      for (const std::string& id : p->ids) {
        EXPECT_EQ(id.size(), kChunkIdBytes);
        out.insert(*keys::DecodeU64(id.substr(8)));
      }
      EXPECT_LE(p->inodes, page == 0 ? kReferencedScanMax : page);
      if (p->done) break;
      EXPECT_GT(p->next_after.value(), after.value());
      after = p->next_after;
    }
    return out;
  }
};

INSTANTIATE_TEST_SUITE_P(Stores, ReferencedChunksTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

TEST_P(ReferencedChunksTest, EmptyNamespaceReferencesNothing) {
  Mkdir("/", "d");
  EXPECT_TRUE(All(0).empty());
}

TEST_P(ReferencedChunksTest, FindsEveryReferenceAcrossPagesAndSkipsHoles) {
  Mkdir("/", "d");
  auto a = Create("/d", "a");
  auto b = Create("/", "b");
  auto c = Create("/d", "c");  // stays empty
  Create("/", "e");
  ASSERT_TRUE(ns_->Symlink(P("/"), "s", "/d/a", kUser).ok());
  Put(a, {{0, 1}, {2, 2}});  // slot 1 is a hole
  Put(b, {{0, 3}});
  const std::multiset<uint64_t> want = {1, 2, 3};
  EXPECT_EQ(All(0), want);
  int calls = 0;
  EXPECT_EQ(All(1, &calls), want);  // one inode per page
  EXPECT_GE(calls, 6);              // root, d, a, b, c, e, s
  EXPECT_EQ(All(2), want);
  (void)c;
  CheckConsistency();
}

TEST_P(ReferencedChunksTest, ReplacedAndUnlinkedChunksAreNoLongerReferenced) {
  auto a = Create("/", "a");
  auto b = Create("/", "b");
  Put(a, {{0, 1}, {1, 2}});
  Put(b, {{0, 3}});
  // Overwrite slot 0 of a: 1 is released (queued), 4 referenced.
  CommitWriteArgs args;
  SlotUpdate u;
  u.slot = 0;
  u.expected_id = Id(1);
  u.chunk.set_id(Id(4));
  u.chunk.set_length(100);
  args.updates.push_back(u);
  ASSERT_TRUE(ns_->CommitWrite(InodeId(a.ino()), args).ok());
  EXPECT_EQ(All(0), (std::multiset<uint64_t>{2, 3, 4}));
  ASSERT_TRUE(ns_->Unlink(P("/"), "b").ok());
  EXPECT_EQ(All(0), (std::multiset<uint64_t>{2, 4}));
  // A hard link does not duplicate the record: each id once.
  ASSERT_TRUE(ns_->Link(R(a), P("/"), "a2").ok());
  EXPECT_EQ(All(0), (std::multiset<uint64_t>{2, 4}));
  CheckConsistency();
}

TEST_P(ReferencedChunksTest, AfterTheLastInodeIsDone) {
  auto a = Create("/", "a");
  Put(a, {{0, 7}});
  auto p = ns_->ListReferencedChunks(InodeId(a.ino()), 0);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->ids.empty());
  EXPECT_TRUE(p->done);
  p = ns_->ListReferencedChunks(InodeId(UINT64_MAX), 0);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_TRUE(p->done);
}

TEST_P(ReferencedChunksTest, UnparsableRecordIsAnInternalError) {
  auto a = Create("/", "a");
  Put(a, {{0, 7}});
  auto txn = store_->Begin();
  txn->Put(keys::Inode(InodeId(a.ino())), std::string("\xff\xff\xff garbage", 12));
  ASSERT_TRUE(txn->Commit({}).ok());
  auto p = ns_->ListReferencedChunks(InodeId(), 0);
  EXPECT_EQ(E(p), Errc::kInternal);
}

}  // namespace
}  // namespace cairn::meta

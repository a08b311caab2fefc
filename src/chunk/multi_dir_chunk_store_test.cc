// MultiDirChunkStore: spreading, fallback when a directory is full, finding
// chunks wherever they are, and stats. (The ChunkStore contract itself runs
// in chunk_store_test.cc with the "multi" parameter.)
#include "chunk/multi_dir_chunk_store.h"

#include <filesystem>

#include "chunk/memory_chunk_store.h"
#include "chunk/test_util.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;

std::vector<uint8_t> Read(ChunkStore& s, ChunkId id) {
  auto r = s.Get(id, 0, kToEnd);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  return std::vector<uint8_t>(r->data(), r->data() + r->size());
}

// Memory stores of `capacity` bytes each.
std::unique_ptr<MultiDirChunkStore> MemoryStores(int n, uint64_t capacity) {
  std::vector<std::unique_ptr<ChunkStore>> stores;
  for (int i = 0; i < n; ++i) stores.push_back(std::make_unique<MemoryChunkStore>(capacity));
  return std::make_unique<MultiDirChunkStore>(std::move(stores));
}

TEST(MultiDirChunkStoreTest, SpreadsChunksByIdHash) {
  auto m = MemoryStores(3, uint64_t{1} << 30);
  std::vector<ChunkId> ids;
  for (int i = 0; i < 300; ++i) {
    ChunkId id = ChunkId::Random();
    ASSERT_TRUE(m->PutComputingCrcs(id, TestBytes(100, i)).ok());
    // Deterministic: it is in the primary store and only there.
    size_t p = m->Primary(id);
    for (size_t s = 0; s < m->size(); ++s) EXPECT_EQ(m->store(s)->Has(id), s == p);
    ids.push_back(id);
  }
  for (size_t s = 0; s < m->size(); ++s) {
    auto st = m->store(s)->Stat();
    ASSERT_TRUE(st.ok());
    EXPECT_GT(st->chunk_count, 60u) << "store " << s;  // ~100 each
  }
  auto total = m->Stat();
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->chunk_count, 300u);
  EXPECT_EQ(total->chunk_bytes, 300u * 100);
  EXPECT_EQ(total->capacity_bytes, 3 * (uint64_t{1} << 30));
  EXPECT_EQ(total->available_bytes, 3 * (uint64_t{1} << 30) - 300 * 100);
}

TEST(MultiDirChunkStoreTest, FullDirectoryFallsBackToTheOthers) {
  // Three stores of 1000 bytes (ten 100-byte chunks each). Ten chunks whose
  // primary is store 0 fill it; the next ten go elsewhere.
  auto m = MemoryStores(3, 1000);
  std::vector<ChunkId> ids;
  while (ids.size() < 20) {
    ChunkId id = ChunkId::Random();
    if (m->Primary(id) == 0) ids.push_back(id);
  }
  for (int i = 0; i < 20; ++i) {
    ASSERT_TRUE(m->PutComputingCrcs(ids[i], TestBytes(100, i)).ok()) << i;
    EXPECT_EQ(m->store(0)->Has(ids[i]), i < 10) << i;
  }
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Read(*m, ids[i]), TestBytes(100, i));
  // Fill the rest: 10 more chunks, wherever their primary is.
  for (int i = 20; i < 30; ++i) {
    ids.push_back(ChunkId::Random());
    ASSERT_TRUE(m->PutComputingCrcs(ids[i], TestBytes(100, i)).ok()) << i;
  }
  // Everything is full now.
  absl::Status full = m->PutComputingCrcs(ChunkId::Random(), TestBytes(100, 99));
  EXPECT_EQ(ErrcOf(full), Errc::kNoSpace) << full;
  // A retry of a stored chunk is still an idempotent success, other bytes
  // are kExists, wherever the chunk went.
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(m->PutComputingCrcs(ids[i], TestBytes(100, i)).ok());
    EXPECT_EQ(ErrcOf(m->PutComputingCrcs(ids[i], TestBytes(100, i + 1000))), Errc::kExists);
  }
  auto listed = m->List(std::nullopt, 1000);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 30u);
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end(),
                             [](const ChunkInfo& a, const ChunkInfo& b) { return a.id < b.id; }));
  // Deleting frees room in that store and the chunk is gone everywhere.
  ASSERT_TRUE(m->Delete(ids[0]).ok());
  EXPECT_EQ(ErrcOf(m->Lookup(ids[0]).status()), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(m->Delete(ids[0])), Errc::kNotFound);
}

TEST(MultiDirChunkStoreTest, FindsChunksWhateverTheDirectoryOrder) {
  ScratchDir scratch;
  std::vector<ChunkId> ids;
  {
    MultiDirChunkStoreOptions o;
    o.dirs = {scratch.Sub("a"), scratch.Sub("b")};
    auto m = MultiDirChunkStore::Open(o);
    ASSERT_TRUE(m.ok()) << m.status();
    for (int i = 0; i < 20; ++i) {
      ids.push_back(ChunkId::Random());
      ASSERT_TRUE((*m)->PutComputingCrcs(ids.back(), TestBytes(5000, i)).ok());
    }
    auto st = (*m)->Stat();
    ASSERT_TRUE(st.ok());
    EXPECT_EQ(st->chunk_count, 20u);
    EXPECT_EQ(st->chunk_bytes, 20u * 5000);
    // Both directories are on one file system: its size is counted once.
    auto one = (*m)->store(0)->Stat();
    ASSERT_TRUE(one.ok());
    EXPECT_EQ(st->capacity_bytes, one->capacity_bytes);
  }
  // Reopened with the directories swapped and a third added.
  MultiDirChunkStoreOptions o;
  o.dirs = {scratch.Sub("c"), scratch.Sub("b"), scratch.Sub("a")};
  auto m = MultiDirChunkStore::Open(o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Read(**m, ids[i]), TestBytes(5000, i));
  auto st = (*m)->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunk_count, 20u);
}

TEST(MultiDirChunkStoreTest, RefusesBadDirectoryLists) {
  ScratchDir scratch;
  MultiDirChunkStoreOptions o;
  EXPECT_EQ(ErrcOf(MultiDirChunkStore::Open(o).status()), Errc::kInvalid);
  o.dirs = {scratch.Sub("a"), scratch.Sub("a")};
  EXPECT_EQ(ErrcOf(MultiDirChunkStore::Open(o).status()), Errc::kInvalid);
  // A directory another store holds is busy.
  o.dirs = {scratch.Sub("a")};
  auto first = MultiDirChunkStore::Open(o);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(ErrcOf(MultiDirChunkStore::Open(o).status()), Errc::kBusy);
}

}  // namespace
}  // namespace cairn::chunk

// TieredChunkStore beyond the shared contract (chunk_store_test.cc):
// routing by size, ids already stored in the other tier, merged listing.
#include "chunk/tiered_chunk_store.h"

#include <algorithm>

#include "chunk/memory_chunk_store.h"
#include "chunk/test_util.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

using ::cairn::testing::TestBytes;

class TieredChunkStoreTest : public ::testing::Test {
 protected:
  TieredChunkStoreTest() {
    TieredChunkStoreOptions o;
    o.small_limit = 1000;
    store_ = std::make_unique<TieredChunkStore>(std::make_unique<MemoryChunkStore>(),
                                                std::make_unique<MemoryChunkStore>(), o);
  }
  std::unique_ptr<TieredChunkStore> store_;
};

TEST_F(TieredChunkStoreTest, RoutesBySize) {
  ChunkId small = ChunkId::Random(), edge = ChunkId::Random(), large = ChunkId::Random();
  ASSERT_TRUE(store_->PutComputingCrcs(small, TestBytes(10, 1)).ok());
  ASSERT_TRUE(store_->PutComputingCrcs(edge, TestBytes(1000, 2)).ok());
  ASSERT_TRUE(store_->PutComputingCrcs(large, TestBytes(1001, 3)).ok());
  EXPECT_TRUE(store_->small()->Has(small));
  EXPECT_TRUE(store_->small()->Has(edge));
  EXPECT_FALSE(store_->large()->Has(edge));
  EXPECT_TRUE(store_->large()->Has(large));
  EXPECT_FALSE(store_->small()->Has(large));
  EXPECT_EQ(store_->Get(large, 0, kToEnd)->size(), 1001u);
  EXPECT_EQ(store_->Lookup(edge)->length, 1000u);
  EXPECT_TRUE(store_->ModifiedNs(large).ok());
  auto st = store_->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunk_count, 3u);
  EXPECT_EQ(st->chunk_bytes, 2011u);
}

TEST_F(TieredChunkStoreTest, IdInTheOtherTierStaysThere) {
  // A small chunk stored in the large tier (another routing in an earlier
  // run): a retry is idempotent there, other bytes are Exists, nothing is
  // stored twice.
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(store_->large()->PutComputingCrcs(id, TestBytes(50, 1)).ok());
  EXPECT_TRUE(store_->PutComputingCrcs(id, TestBytes(50, 1)).ok());
  EXPECT_EQ(ErrcOf(store_->PutComputingCrcs(id, TestBytes(50, 2))), Errc::kExists);
  EXPECT_FALSE(store_->small()->Has(id));
  EXPECT_EQ(store_->Stat()->chunk_count, 1u);
  ASSERT_TRUE(store_->Delete(id).ok());
  EXPECT_FALSE(store_->Has(id));
  EXPECT_EQ(ErrcOf(store_->Delete(id)), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(store_->Quarantine(id)), Errc::kNotFound);
}

TEST_F(TieredChunkStoreTest, DeleteRemovesACopyInEachTier) {
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(store_->small()->PutComputingCrcs(id, TestBytes(50, 1)).ok());
  ASSERT_TRUE(store_->large()->PutComputingCrcs(id, TestBytes(50, 1)).ok());
  auto page = store_->List(std::nullopt, 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->size(), 1u);  // listed once
  ASSERT_TRUE(store_->Delete(id).ok());
  EXPECT_FALSE(store_->small()->Has(id));
  EXPECT_FALSE(store_->large()->Has(id));
}

TEST_F(TieredChunkStoreTest, ListMergesBothTiersInIdOrder) {
  std::vector<ChunkInfo> want;
  for (int i = 0; i < 40; ++i) {
    ChunkId id = ChunkId::Random();
    uint64_t len = i % 2 == 0 ? 10 + i : 2000 + i;
    ASSERT_TRUE(store_->PutComputingCrcs(id, TestBytes(len, i)).ok());
    want.push_back({id, len});
  }
  std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.id < b.id; });
  for (size_t limit : {size_t{1}, size_t{3}, size_t{7}, size_t{100}}) {
    std::vector<ChunkInfo> got;
    std::optional<ChunkId> after;
    while (true) {
      auto page = store_->List(after, limit);
      ASSERT_TRUE(page.ok());
      if (page->empty()) break;
      EXPECT_LE(page->size(), limit);
      got.insert(got.end(), page->begin(), page->end());
      after = page->back().id;
    }
    EXPECT_EQ(got, want) << limit;
  }
}

}  // namespace
}  // namespace cairn::chunk

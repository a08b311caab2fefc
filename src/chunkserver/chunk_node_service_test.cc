#include "chunkserver/chunk_node_service.h"

#include <set>
#include <vector>

#include "chunk/memory_chunk_store.h"
#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

std::vector<ChunkId> Fill(chunk::ChunkStore& store, int n) {
  std::vector<ChunkId> ids;
  for (int i = 0; i < n; ++i) {
    ChunkId id = ChunkId::Random();
    std::vector<uint8_t> data(100 + i, static_cast<uint8_t>(i));
    EXPECT_TRUE(store.PutComputingCrcs(id, data).ok());
    ids.push_back(id);
  }
  return ids;
}

TEST(ListChunks, PagesThroughEverythingInOrder) {
  chunk::MemoryChunkStore store(1 << 30);
  std::vector<ChunkId> ids = Fill(store, 25);
  std::set<ChunkId> want(ids.begin(), ids.end());
  std::vector<ChunkId> got;
  proto::ListChunksRequest req;
  req.set_limit(7);
  req.set_with_times(true);
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 10);
    proto::ListChunksReply reply;
    ASSERT_TRUE(ListChunksOf(store, req, &reply).ok());
    for (const auto& e : reply.chunks()) {
      got.push_back(*cluster::ChunkIdFromBytes(e.id()));
      EXPECT_GT(e.modified_ns(), 0);
      EXPECT_GE(e.length(), 100u);
    }
    if (reply.done()) break;
    req.set_after(reply.next_after());
  }
  EXPECT_EQ(got, std::vector<ChunkId>(want.begin(), want.end()));
}

TEST(ListChunks, FiltersByPlacementGroup) {
  chunk::MemoryChunkStore store(1 << 30);
  std::vector<ChunkId> ids = Fill(store, 60);
  constexpr uint32_t kPgs = 4;
  size_t total = 0;
  for (uint32_t pg = 0; pg < kPgs; ++pg) {
    proto::ListChunksRequest req;
    req.set_pg_count(kPgs);
    req.set_pg(pg);
    req.set_limit(5);
    for (int pages = 0;; ++pages) {
      ASSERT_LT(pages, 20);
      proto::ListChunksReply reply;
      ASSERT_TRUE(ListChunksOf(store, req, &reply).ok());
      for (const auto& e : reply.chunks()) {
        EXPECT_EQ(cluster::PgOf(*cluster::ChunkIdFromBytes(e.id()), kPgs).value(), pg);
        ++total;
      }
      if (reply.done()) break;
      req.set_after(reply.next_after());
    }
  }
  EXPECT_EQ(total, ids.size());
}

TEST(ListChunks, RefusesBadRequests) {
  chunk::MemoryChunkStore store(1 << 30);
  proto::ListChunksReply reply;
  proto::ListChunksRequest req;
  req.set_limit(kListChunksMaxLimit + 1);
  EXPECT_EQ(ErrcOf(ListChunksOf(store, req, &reply)), Errc::kInvalid);
  req = {};
  req.set_pg_count(4);
  req.set_pg(4);
  EXPECT_EQ(ErrcOf(ListChunksOf(store, req, &reply)), Errc::kInvalid);
  req = {};
  req.set_after("short");
  EXPECT_EQ(ErrcOf(ListChunksOf(store, req, &reply)), Errc::kInvalid);
}

TEST(DeleteChunks, DeletesCountsMissingAndRefusesBadIdsWholesale) {
  chunk::MemoryChunkStore store(1 << 30);
  std::vector<ChunkId> ids = Fill(store, 3);
  proto::DeleteChunksRequest req;
  req.add_ids(cluster::ChunkIdToBytes(ids[0]));
  req.add_ids(cluster::ChunkIdToBytes(ids[1]));
  req.add_ids(std::string(15, 'x'));  // bad: nothing may be deleted
  proto::DeleteChunksReply reply;
  EXPECT_EQ(ErrcOf(DeleteChunksIn(store, req, &reply)), Errc::kInvalid);
  EXPECT_TRUE(store.Has(ids[0]));
  EXPECT_TRUE(store.Has(ids[1]));

  req.mutable_ids()->RemoveLast();
  req.add_ids(cluster::ChunkIdToBytes(ChunkId::Random()));  // never stored
  reply.Clear();
  ASSERT_TRUE(DeleteChunksIn(store, req, &reply).ok());
  EXPECT_EQ(reply.deleted(), 2u);
  EXPECT_EQ(reply.not_found(), 1u);
  EXPECT_EQ(reply.failed_ids_size(), 0);
  EXPECT_FALSE(store.Has(ids[0]));
  EXPECT_FALSE(store.Has(ids[1]));
  EXPECT_TRUE(store.Has(ids[2]));

  req.Clear();
  reply.Clear();
  EXPECT_EQ(ErrcOf(DeleteChunksIn(store, req, &reply)), Errc::kInvalid);  // empty
}

}  // namespace
}  // namespace cairn::chunkserver

// One suite, run against every ChunkStore implementation: the contract of
// chunk/chunk_store.h.
#include <algorithm>
#include <fstream>
#include <memory>
#include <thread>

#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "chunk/file_chunk_store.h"
#include "chunk/memory_chunk_store.h"
#include "chunk/multi_dir_chunk_store.h"
#include "chunk/test_util.h"
#include "chunk/tiered_chunk_store.h"
#include "chunk/volume_chunk_store.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;

class ChunkStoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryChunkStore>();
    } else if (GetParam() == "multi") {
      MultiDirChunkStoreOptions o;
      o.dirs = {scratch_.Sub("d0"), scratch_.Sub("d1")};
      auto s = MultiDirChunkStore::Open(o);
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
    } else if (GetParam() == "volume" || GetParam() == "tiered") {
      VolumeChunkStoreOptions vo;
      vo.dir = scratch_.Sub("volumes");
      vo.volume_bytes = 4 << 20;  // small, so the suite crosses rollovers
      auto v = VolumeChunkStore::Open(vo);
      ASSERT_TRUE(v.ok()) << v.status();
      if (GetParam() == "volume") {
        store_ = std::move(*v);
      } else {
        FileChunkStoreOptions o;
        o.dirs = {scratch_.Sub("d0")};
        auto f = FileChunkStore::Open(o);
        ASSERT_TRUE(f.ok()) << f.status();
        TieredChunkStoreOptions to;
        to.small_limit = 100000;  // both tiers see chunks of the suite
        store_ = std::make_unique<TieredChunkStore>(std::move(*v), std::move(*f), to);
      }
    } else {
      FileChunkStoreOptions o;
      o.dirs = {scratch_.Sub("d0"), scratch_.Sub("d1")};
      auto s = FileChunkStore::Open(o);
      ASSERT_TRUE(s.ok()) << s.status();
      store_ = std::move(*s);
    }
  }

  absl::Status Put(ChunkId id, const std::vector<uint8_t>& data) {
    return store_->PutComputingCrcs(id, data);
  }
  std::vector<uint8_t> Read(ChunkId id, uint64_t off = 0, uint64_t len = kToEnd) {
    auto r = store_->Get(id, off, len);
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return std::vector<uint8_t>(r->data(), r->data() + r->size());
  }

  // Flips bits of stored data byte `offset` of chunk `id`, behind the
  // store's back (a bad disk, a stray write).
  void CorruptByte(ChunkId id, uint64_t offset) {
    if (auto* mem = dynamic_cast<MemoryChunkStore*>(store_.get())) {
      ASSERT_TRUE(mem->CorruptByteForTest(id, offset));
      return;
    }
    ChunkStore* holder = store_.get();
    if (auto* multi = dynamic_cast<MultiDirChunkStore*>(holder)) {
      for (size_t i = 0; i < multi->size(); ++i) {
        if (multi->store(i)->Has(id)) holder = multi->store(i);
      }
    }
    if (auto* tiered = dynamic_cast<TieredChunkStore*>(holder)) {
      holder = tiered->small()->Has(id) ? tiered->small() : tiered->large();
    }
    std::string path;
    uint64_t pos = 0;
    if (auto* volume = dynamic_cast<VolumeChunkStore*>(holder)) {
      auto place = volume->Locate(id);
      ASSERT_TRUE(place.ok()) << place.status();
      path = place->path;
      pos = place->data_offset + offset;
    } else {
      auto* file = dynamic_cast<FileChunkStore*>(holder);
      ASSERT_NE(file, nullptr);
      path = file->ChunkPath(id);
      uint64_t length = store_->Lookup(id)->length;
      pos = DataOffset(crc32c::NumBlocks(length, kBlockSize)) + offset;
    }
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << path;
    f.seekg(static_cast<std::streamoff>(pos));
    char c;
    f.read(&c, 1);
    c ^= 0x5a;
    f.seekp(static_cast<std::streamoff>(pos));
    f.write(&c, 1);
  }

  ScratchDir scratch_;
  std::unique_ptr<ChunkStore> store_;
};

INSTANTIATE_TEST_SUITE_P(All, ChunkStoreTest,
                         ::testing::Values("memory", "file", "multi", "volume", "tiered"),
                         [](const auto& info) { return info.param; });

TEST_P(ChunkStoreTest, PutGetRoundTrip) {
  for (size_t len : {size_t{1}, size_t{100}, size_t{kBlockSize}, size_t{kBlockSize + 1},
                     size_t{5 * kBlockSize + 333}}) {
    ChunkId id = ChunkId::Random();
    auto data = TestBytes(len, len);
    ASSERT_TRUE(Put(id, data).ok());
    EXPECT_EQ(Read(id), data) << len;
    auto info = store_->Lookup(id);
    ASSERT_TRUE(info.ok());
    EXPECT_EQ(info->length, len);
    EXPECT_TRUE(store_->Has(id));
  }
}

TEST_P(ChunkStoreTest, EmptyChunk) {
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(Put(id, {}).ok());
  EXPECT_TRUE(Read(id).empty());
  EXPECT_EQ(store_->Lookup(id)->length, 0u);
  EXPECT_EQ(ErrcOf(store_->Get(id, 1, 0).status()), Errc::kRange);
}

TEST_P(ChunkStoreTest, LargeChunk8MiB) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(8 << 20, 8);
  ASSERT_TRUE(Put(id, data).ok());
  EXPECT_EQ(Read(id), data);
}

TEST_P(ChunkStoreTest, RangeReads) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(3 * kBlockSize + 1000, 3);
  ASSERT_TRUE(Put(id, data).ok());
  struct R {
    uint64_t off, len;
  } ranges[] = {{0, 1},
                {0, kBlockSize},
                {1, kBlockSize},
                {kBlockSize - 1, 2},
                {kBlockSize, kBlockSize},
                {100, 2 * kBlockSize + 7},
                {3 * kBlockSize, 1000},
                {3 * kBlockSize + 999, 1},
                {data.size(), 0},
                {12345, 0}};
  for (const R& r : ranges) {
    auto got = Read(id, r.off, r.len);
    std::vector<uint8_t> want(data.begin() + r.off, data.begin() + r.off + r.len);
    EXPECT_EQ(got, want) << r.off << "+" << r.len;
  }
  EXPECT_EQ(Read(id, kBlockSize + 5, kToEnd),
            std::vector<uint8_t>(data.begin() + kBlockSize + 5, data.end()));
  EXPECT_EQ(ErrcOf(store_->Get(id, data.size() + 1, 0).status()), Errc::kRange);
  EXPECT_EQ(ErrcOf(store_->Get(id, 10, data.size()).status()), Errc::kRange);
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd - 1).status()), Errc::kRange);
}

TEST_P(ChunkStoreTest, CorruptedByteDetectedOnEveryReadThatTouchesIt) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(4 * kBlockSize, 4);
  ASSERT_TRUE(Put(id, data).ok());
  const uint64_t bad = 2 * kBlockSize + 100;  // in block 2
  CorruptByte(id, bad);
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd).status()), Errc::kCorrupt);
  EXPECT_EQ(ErrcOf(store_->Get(id, bad, 1).status()), Errc::kCorrupt);
  // A partial read of the block that does not include the bad byte still
  // touches the block, so it is still verified.
  EXPECT_EQ(ErrcOf(store_->Get(id, 2 * kBlockSize, 10).status()), Errc::kCorrupt);
  EXPECT_EQ(ErrcOf(store_->Get(id, kBlockSize + 10, kBlockSize).status()), Errc::kCorrupt);
  // Reads of other blocks are fine.
  EXPECT_EQ(Read(id, 0, 2 * kBlockSize),
            std::vector<uint8_t>(data.begin(), data.begin() + 2 * kBlockSize));
  EXPECT_EQ(Read(id, 3 * kBlockSize, kBlockSize),
            std::vector<uint8_t>(data.begin() + 3 * kBlockSize, data.end()));
}

TEST_P(ChunkStoreTest, IdempotentPutAndConflict) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(200000, 1);
  ASSERT_TRUE(Put(id, data).ok());
  EXPECT_TRUE(Put(id, data).ok());
  auto other = data;
  other[150000] ^= 1;
  EXPECT_EQ(ErrcOf(Put(id, other)), Errc::kExists);
  EXPECT_EQ(ErrcOf(Put(id, TestBytes(10, 1))), Errc::kExists);
  EXPECT_EQ(Read(id), data);
  EXPECT_EQ(store_->Stat()->chunk_count, 1u);
}

TEST_P(ChunkStoreTest, PutValidatesArguments) {
  auto data = TestBytes(100000, 2);
  auto crcs = crc32c::BlockCrcs(data, kBlockSize);
  EXPECT_EQ(ErrcOf(store_->Put(ChunkId{}, data, crcs)), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(store_->Put(ChunkId::Random(), data, std::span(crcs).first(1))), Errc::kInvalid);
  auto bad = crcs;
  bad[1] ^= 1;
  ChunkId id = ChunkId::Random();
  EXPECT_EQ(ErrcOf(store_->Put(id, data, bad)), Errc::kCorrupt);
  EXPECT_FALSE(store_->Has(id));
  std::vector<uint8_t> huge(kMaxChunkSize + 1);
  EXPECT_EQ(ErrcOf(store_->PutComputingCrcs(ChunkId::Random(), huge)), Errc::kInvalid);
}

TEST_P(ChunkStoreTest, DeleteAndNotFound) {
  ChunkId id = ChunkId::Random();
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd).status()), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(store_->Delete(id)), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(store_->Lookup(id).status()), Errc::kNotFound);
  ASSERT_TRUE(Put(id, TestBytes(10, 1)).ok());
  ASSERT_TRUE(store_->Delete(id).ok());
  EXPECT_FALSE(store_->Has(id));
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd).status()), Errc::kNotFound);
  // Put again after delete (GC then rewrite) works.
  ASSERT_TRUE(Put(id, TestBytes(20, 2)).ok());
  EXPECT_EQ(Read(id), TestBytes(20, 2));
}

TEST_P(ChunkStoreTest, ListPagesInIdOrder) {
  std::vector<ChunkInfo> want;
  for (int i = 0; i < 25; ++i) {
    ChunkId id = ChunkId::Random();
    ASSERT_TRUE(Put(id, TestBytes(i, i)).ok());
    want.push_back({id, static_cast<uint64_t>(i)});
  }
  std::sort(want.begin(), want.end(), [](auto& a, auto& b) { return a.id < b.id; });
  std::vector<ChunkInfo> got;
  std::optional<ChunkId> after;
  while (true) {
    auto page = store_->List(after, 7);
    ASSERT_TRUE(page.ok());
    if (page->empty()) break;
    EXPECT_LE(page->size(), 7u);
    got.insert(got.end(), page->begin(), page->end());
    after = page->back().id;
  }
  EXPECT_EQ(got, want);
  auto stats = store_->Stat();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->chunk_count, 25u);
  EXPECT_EQ(stats->chunk_bytes, 24u * 25u / 2u);
  EXPECT_GT(stats->capacity_bytes, 0u);
  EXPECT_LE(stats->available_bytes, stats->capacity_bytes);
}

TEST_P(ChunkStoreTest, ConcurrentPuts) {
  constexpr int kThreads = 8, kPerThread = 20;
  std::vector<std::thread> threads;
  std::vector<std::vector<ChunkId>> ids(kThreads);
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        ChunkId id = ChunkId::Random();
        ids[t].push_back(id);
        if (!Put(id, TestBytes(1000 + i * 5000, t * 1000 + i)).ok()) ++failures;
      }
    });
  }
  // The same id from several threads at once: all succeed, one copy.
  ChunkId shared = ChunkId::Random();
  auto shared_data = TestBytes(300000, 99);
  std::vector<std::thread> same;
  for (int t = 0; t < 4; ++t) {
    same.emplace_back([&] {
      if (!Put(shared, shared_data).ok()) ++failures;
    });
  }
  for (auto& th : threads) th.join();
  for (auto& th : same) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      EXPECT_EQ(Read(ids[t][i]), TestBytes(1000 + i * 5000, t * 1000 + i));
    }
  }
  EXPECT_EQ(Read(shared), shared_data);
  EXPECT_EQ(store_->Stat()->chunk_count, uint64_t{kThreads * kPerThread + 1});
}

}  // namespace
}  // namespace cairn::chunk

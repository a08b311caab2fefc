// Recovery (backfill) in one process: real chunk servers (store, data
// protocol, ChunkNode gRPC) against an in-process Cluster service.
#include "chunkserver/recovery.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <random>
#include <thread>

#include "chunk/test_util.h"
#include "chunkserver/chunk_node_service.h"
#include "chunkserver/chunk_server.h"
#include "chunkserver/test_meta.h"
#include "cluster/placement.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::ScratchDir;
using testing::TestMeta;

constexpr absl::Duration kWait = absl::Seconds(20);

cluster::ClusterOptions MetaOptions(uint32_t bootstrap) {
  cluster::ClusterOptions o;
  o.replicas = 2;
  o.bootstrap_nodes = bootstrap;
  o.max_moves = 0;
  o.tick_interval = absl::Milliseconds(100);
  return o;
}

class RecoveryTest : public ::testing::Test {
 protected:
  explicit RecoveryTest(cluster::ClusterOptions meta = MetaOptions(2)) : meta_(meta) {}
  void SetUp() override {
    meta_.Start();
    meta_.manager()->Start();
  }
  void TearDown() override {
    servers_.clear();
    meta_.manager()->Stop();
  }
  ChunkServer* Start(const std::string& name, RecoveryOptions recovery = {}) {
    ChunkServerOptions o;
    o.meta_address = meta_.address();
    o.dirs = {scratch_.Sub(name)};
    o.heartbeat_interval = absl::Milliseconds(100);
    o.retry_min = absl::Milliseconds(20);
    o.retry_max = absl::Milliseconds(200);
    o.shutdown_grace = absl::Seconds(5);
    o.scrub_interval = absl::ZeroDuration();
    recovery.poll_interval = absl::Milliseconds(100);
    o.recovery = recovery;
    auto s = ChunkServer::Start(o);
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->WaitRegistered(kWait));
    servers_.push_back(std::move(*s));
    return servers_.back().get();
  }
  // Random chunk ids and contents; `pg` >= 0 keeps only ids of that PG.
  std::vector<std::pair<ChunkId, std::string>> Chunks(int n, size_t size, int pg = -1) {
    std::vector<std::pair<ChunkId, std::string>> out;
    while (static_cast<int>(out.size()) < n) {
      ChunkId id(rng_(), rng_());
      if (pg >= 0 && cluster::PgOf(id, 16).value() != static_cast<uint32_t>(pg)) continue;
      std::string data(size, '\0');
      for (char& c : data) c = static_cast<char>(rng_());
      out.emplace_back(id, data);
    }
    std::sort(out.begin(), out.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    return out;
  }
  static void Put(ChunkServer* s, const std::pair<ChunkId, std::string>& c) {
    ASSERT_TRUE(s->store()
                    ->PutComputingCrcs(c.first, {reinterpret_cast<const uint8_t*>(c.second.data()),
                                                 c.second.size()})
                    .ok());
  }
  static bool Holds(ChunkServer* s, const std::pair<ChunkId, std::string>& c) {
    auto got = s->store()->Get(c.first, 0, chunk::kToEnd);
    return got.ok() &&
           std::string(reinterpret_cast<const char*>(got->data()), got->size()) == c.second;
  }
  // Every PG's pass from `to`'s point of view; sums of the stats.
  PassStats PassAll(ChunkServer* to) {
    PassStats sum;
    auto map = to->link()->map();
    EXPECT_NE(map, nullptr);
    for (uint32_t pg = 0; pg < map->pg_count(); ++pg) {
      auto st = to->recovery()->BackfillPass(*map, pg);
      EXPECT_TRUE(st.ok()) << st.status();
      if (!st.ok()) continue;
      sum.listed += st->listed;
      sum.copied += st->copied;
      sum.copied_bytes += st->copied_bytes;
      sum.vanished += st->vanished;
      sum.failed += st->failed;
    }
    return sum;
  }
  // Waits until both servers' maps have every PG with both members.
  void WaitPlaced(ChunkServer* a, ChunkServer* b) {
    const absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      bool ok = true;
      for (ChunkServer* s : {a, b}) {
        auto map = s->link()->map();
        ok = ok && map != nullptr && map->pgs_size() > 0 &&
             std::all_of(map->pgs().begin(), map->pgs().end(),
                         [](const proto::PgChain& c) { return c.nodes_size() == 2; });
      }
      if (ok) return;
      absl::SleepFor(absl::Milliseconds(20));
    }
    FAIL() << "chains never filled";
  }

  TestMeta meta_;
  ScratchDir scratch_;
  std::vector<std::unique_ptr<ChunkServer>> servers_;
  std::mt19937_64 rng_{42};
};

TEST_F(RecoveryTest, CopiesOnlyMissingChunks) {
  ChunkServer* a = Start("a");
  ChunkServer* b = Start("b");
  WaitPlaced(a, b);
  auto chunks = Chunks(20, 100'000);
  for (auto& c : chunks) Put(a, c);
  for (int i = 0; i < 5; ++i) Put(b, chunks[i]);
  PassStats st = PassAll(b);
  EXPECT_EQ(st.listed, 20u);
  EXPECT_EQ(st.copied, 15u);
  EXPECT_EQ(st.copied_bytes, 15u * 100'000);
  EXPECT_EQ(st.failed, 0u);
  for (auto& c : chunks) EXPECT_TRUE(Holds(b, c));
  EXPECT_EQ(b->recovery()->chunks_copied(), 15u);
  EXPECT_EQ(b->recovery()->bytes_copied(), 15u * 100'000);
  // Nothing missing any more: a second pass copies nothing.
  EXPECT_EQ(PassAll(b).copied, 0u);
}

TEST_F(RecoveryTest, CorruptSourceCopyIsNotStored) {
  ChunkServer* a = Start("a");
  ChunkServer* b = Start("b");
  WaitPlaced(a, b);
  auto chunks = Chunks(3, 70'000);
  for (auto& c : chunks) Put(a, c);
  // Damage one chunk file's data on a.
  const std::string name = chunks[1].first.ToString();
  bool flipped = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(scratch_.Sub("a"))) {
    if (e.path().filename() != name) continue;
    std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 + 100);
    char x = 0x5a;
    f.write(&x, 1);
    flipped = true;
  }
  ASSERT_TRUE(flipped) << name;
  PassStats st = PassAll(b);
  EXPECT_EQ(st.copied, 2u);
  EXPECT_EQ(st.failed, 1u);
  EXPECT_FALSE(b->store()->Lookup(chunks[1].first).ok());
  EXPECT_TRUE(Holds(b, chunks[0]));
  EXPECT_TRUE(Holds(b, chunks[2]));
  EXPECT_GE(b->recovery()->errors(), 1u);
}

TEST_F(RecoveryTest, ChunkDeletedOnSourceIsSkippedAndRateIsHonoured) {
  ChunkServer* a = Start("a");
  RecoveryOptions slow;
  slow.rate_bytes_per_sec = 1'000'000;
  ChunkServer* b = Start("b", slow);
  WaitPlaced(a, b);
  // Ten chunks of one PG, 100 kB each: at 1 MB/s the pass takes >= 0.9 s
  // (the first chunk goes at once). The last one is deleted on the source
  // after the listing.
  auto chunks = Chunks(10, 100'000, 3);
  for (auto& c : chunks) Put(a, c);
  auto map = b->link()->map();
  ASSERT_NE(map, nullptr);
  std::thread deleter([&] {
    absl::SleepFor(absl::Milliseconds(300));
    EXPECT_TRUE(a->store()->Delete(chunks.back().first).ok());
  });
  const absl::Time t0 = absl::Now();
  auto st = b->recovery()->BackfillPass(*map, 3);
  const absl::Duration took = absl::Now() - t0;
  deleter.join();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->listed, 10u);
  EXPECT_EQ(st->copied, 9u);
  EXPECT_EQ(st->vanished, 1u);
  EXPECT_EQ(st->failed, 0u);
  EXPECT_GE(took, absl::Milliseconds(800));
  EXPECT_LE(took, absl::Seconds(4));
  EXPECT_EQ(b->recovery()->errors(), 0u);
}

// Issue 4, finding 5: the listing is the union of every healthy member's,
// so a chunk that only one of them holds (a member that was away missed
// it, or lost it) is copied too, read from a member that has it.
TEST_F(RecoveryTest, ListsEveryHealthyMemberAndReadsFromAHolder) {
  ChunkServer* a = Start("a");
  ChunkServer* b = Start("b");
  WaitPlaced(a, b);
  ChunkServer* c = Start("c");  // every chain is full: c joins none
  auto chunks = Chunks(6, 40'000, 5);
  Put(a, chunks[0]);  // only on a
  Put(a, chunks[1]);
  Put(b, chunks[2]);  // only on b
  Put(b, chunks[3]);
  for (int i = 4; i < 6; ++i) {  // on both
    Put(a, chunks[i]);
    Put(b, chunks[i]);
  }
  auto map = c->link()->map();
  ASSERT_NE(map, nullptr);
  ASSERT_EQ(map->pgs(5).nodes_size(), 2);
  auto st = c->recovery()->BackfillPass(*map, 5);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->listed, 6u);
  EXPECT_EQ(st->copied, 6u);
  EXPECT_EQ(st->failed, 0u);
  EXPECT_EQ(st->vanished, 0u);
  EXPECT_EQ(st->unlisted, 0u);
  EXPECT_TRUE(st->Clean());
  for (auto& ch : chunks) EXPECT_TRUE(Holds(c, ch));
}

class RecoveryRoundTest : public RecoveryTest {
 protected:
  RecoveryRoundTest() : RecoveryTest(MetaOptions(1)) {}
};

// A node joining chains that hold data is recovering; its job copies
// everything, catches a chunk that lands on the source after its first
// listing in the final pass, and claims every PG.
TEST_F(RecoveryRoundTest, JoinerBackfillsFinalPassAndClaims) {
  ChunkServer* a = Start("a");
  auto chunks = Chunks(30, 50'000);
  for (auto& c : chunks) Put(a, c);
  RecoveryOptions o;
  o.final_pass_delay = absl::Seconds(2);
  ChunkServer* b = Start("b", o);
  // The first pass copies the 30; then, before the final pass, a late
  // write lands on the source only.
  const absl::Time deadline = absl::Now() + kWait;
  while (b->recovery()->chunks_copied() < 30 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(b->recovery()->chunks_copied(), 30u);
  auto late = Chunks(1, 50'000);
  Put(a, late[0]);
  // Recovered: no PG has a recovering member any more.
  for (;;) {
    proto::ClusterMap map = meta_.manager()->Map();
    bool any = false;
    for (const auto& pg : map.pgs()) any = any || pg.recovering_size() > 0;
    if (!any) break;
    ASSERT_LT(absl::Now(), deadline) << "still recovering";
    absl::SleepFor(absl::Milliseconds(50));
  }
  for (auto& c : chunks) EXPECT_TRUE(Holds(b, c));
  EXPECT_TRUE(Holds(b, late[0]));
  EXPECT_EQ(b->recovery()->chunks_copied(), 31u);
  EXPECT_EQ(b->recovery()->pgs_recovered(), 16u);
  EXPECT_TRUE(b->recovery()->Progress().empty());
}

// Finding 7: a chunk a healthy member lists but that no member can serve
// (its file vanished behind the index) is not a clean backfill: its PG is
// never claimed, while the other PGs are.
TEST_F(RecoveryRoundTest, ListedButUnreadableChunkKeepsItsPgRecovering) {
  ChunkServer* a = Start("a");
  auto chunks = Chunks(20, 20'000);
  for (auto& c : chunks) Put(a, c);
  const ChunkId lost = chunks[7].first;
  const uint32_t lost_pg = cluster::PgOf(lost, 16).value();
  int removed = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(scratch_.Sub("a"))) {
    if (e.path().filename() == lost.ToString()) removed += std::filesystem::remove(e.path());
  }
  ASSERT_EQ(removed, 1);
  ASSERT_TRUE(a->store()->Lookup(lost).ok());  // still listed
  RecoveryOptions o;
  o.final_pass_delay = absl::Milliseconds(100);
  ChunkServer* b = Start("b", o);
  const absl::Time deadline = absl::Now() + kWait;
  while (b->recovery()->pgs_recovered() < 15 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_EQ(b->recovery()->pgs_recovered(), 15u);
  absl::SleepFor(absl::Seconds(2));  // several more rounds
  EXPECT_EQ(b->recovery()->pgs_recovered(), 15u);
  proto::ClusterMap map = meta_.manager()->Map();
  for (const auto& pg : map.pgs()) {
    EXPECT_EQ(pg.recovering_size(), pg.pg() == lost_pg ? 1 : 0) << "pg " << pg.pg();
  }
  for (auto& c : chunks) {
    if (c.first == lost) continue;
    EXPECT_TRUE(Holds(b, c));
  }
  EXPECT_FALSE(b->store()->Lookup(lost).ok());
}

// The clean-up of extra copies: a, b hold every chain (R = 2), c joins
// none, so every chunk c holds is an extra copy of a PG whose healthy
// members are a and b. Meta's down_after is long so a stopped member stays
// UP (and the epoch unchanged) while a test runs.
class CleanupTest : public RecoveryTest {
 protected:
  CleanupTest() : RecoveryTest(LongDownAfter()) {}
  static cluster::ClusterOptions LongDownAfter() {
    cluster::ClusterOptions o = MetaOptions(2);
    o.down_after = absl::Minutes(10);
    return o;
  }
  void SetUp() override {
    RecoveryTest::SetUp();
    a_ = Start("a");
    b_ = Start("b");
    WaitPlaced(a_, b_);
  }
  // c, with `grace`; its own thread never cleans up during a test.
  ChunkServer* StartExtraHolder(absl::Duration grace) {
    RecoveryOptions o;
    o.extra_copy_grace = grace;
    o.cleanup_interval = absl::Hours(1);
    ChunkServer* c = Start("c", o);
    if (c != nullptr) {
      auto map = c->link()->map();
      EXPECT_NE(map, nullptr);
      for (const auto& pg : map->pgs()) {
        EXPECT_EQ(std::count(pg.nodes().begin(), pg.nodes().end(), c->node_id().value()), 0);
      }
    }
    return c;
  }
  // A map fetched from meta at the epoch `s` caches (what the thread uses).
  static proto::ClusterMap FreshMap(ChunkServer* s) {
    const absl::Time deadline = absl::Now() + kWait;
    for (;;) {
      auto map = s->link()->FreshMap();
      if (map.ok() && map->epoch() == s->link()->epoch()) return *map;
      if (absl::Now() > deadline) {
        ADD_FAILURE() << "no fresh map at the cached epoch";
        return {};
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  }
  // Stores `chunks` on each of `on`, then waits past a 1 ms grace.
  void PutOn(const std::vector<std::pair<ChunkId, std::string>>& chunks,
             std::initializer_list<ChunkServer*> on) {
    for (ChunkServer* s : on) {
      for (const auto& c : chunks) Put(s, c);
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  int Held(ChunkServer* s, const std::vector<std::pair<ChunkId, std::string>>& chunks) {
    return static_cast<int>(
        std::count_if(chunks.begin(), chunks.end(), [&](const auto& c) { return Holds(s, c); }));
  }

  ChunkServer* a_ = nullptr;
  ChunkServer* b_ = nullptr;
};

TEST_F(CleanupTest, ChunkEveryHealthyMemberHoldsIsDeleted) {
  ChunkServer* c = StartExtraHolder(absl::Milliseconds(1));
  auto chunks = Chunks(12, 30'000);  // over several PGs
  PutOn(chunks, {a_, b_, c});
  auto deleted = c->recovery()->CleanupPass(FreshMap(c));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 12u);
  EXPECT_EQ(c->recovery()->extra_deleted(), 12u);
  EXPECT_EQ(Held(c, chunks), 0);
  EXPECT_EQ(Held(a_, chunks), 12);
  EXPECT_EQ(Held(b_, chunks), 12);
}

// The map says a and b are healthy, but b lacks two chunks (a write that
// reached only the old member, a copy b lost): c keeps those two.
TEST_F(CleanupTest, ChunkAHealthyMemberLacksIsKept) {
  ChunkServer* c = StartExtraHolder(absl::Milliseconds(1));
  auto chunks = Chunks(6, 30'000, 5);
  PutOn(chunks, {a_, c});
  std::vector<std::pair<ChunkId, std::string>> on_b(chunks.begin(), chunks.begin() + 4);
  PutOn(on_b, {b_});
  auto deleted = c->recovery()->CleanupPass(FreshMap(c));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 4u);
  for (size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(Holds(c, chunks[i]), i >= 4) << i;
  }
  // Once b holds them too, the next pass deletes them.
  PutOn({chunks[4], chunks[5]}, {b_});
  deleted = c->recovery()->CleanupPass(FreshMap(c));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 2u);
  EXPECT_EQ(Held(c, chunks), 0);
}

// b is stopped but still UP in the map: its listing fails, so nothing of
// its PGs is deleted.
TEST_F(CleanupTest, ChunksOfAMemberThatCannotBeListedAreKept) {
  ChunkServer* c = StartExtraHolder(absl::Milliseconds(1));
  auto chunks = Chunks(8, 30'000);
  PutOn(chunks, {a_, b_, c});
  const uint64_t b_id = b_->node_id().value();
  b_->Stop();
  proto::ClusterMap map = FreshMap(c);
  for (const auto& n : map.nodes()) {
    if (n.id() == b_id) {
      EXPECT_EQ(n.state(), proto::NODE_UP);
    }
  }
  auto deleted = c->recovery()->CleanupPass(map);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(c->recovery()->extra_deleted(), 0u);
  EXPECT_EQ(Held(c, chunks), 8);
}

TEST_F(CleanupTest, ChunkYoungerThanTheGraceIsKept) {
  ChunkServer* c = StartExtraHolder(absl::Hours(1));
  auto chunks = Chunks(8, 30'000);
  PutOn(chunks, {a_, b_, c});
  auto deleted = c->recovery()->CleanupPass(FreshMap(c));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(Held(c, chunks), 8);
}

// The map changes (a node joins) after the pass's map was fetched: the
// cached epoch no longer matches, so the pass deletes nothing; a pass
// with the new map does.
TEST_F(CleanupTest, EpochChangeBeforeThePassDeletesNothing) {
  ChunkServer* c = StartExtraHolder(absl::Milliseconds(1));
  auto chunks = Chunks(8, 30'000);
  PutOn(chunks, {a_, b_, c});
  proto::ClusterMap before = FreshMap(c);
  ASSERT_NE(Start("d"), nullptr);
  ASSERT_TRUE(c->link()->WaitEpoch(before.epoch() + 1, kWait));
  auto deleted = c->recovery()->CleanupPass(before);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(Held(c, chunks), 8);
  deleted = c->recovery()->CleanupPass(FreshMap(c));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 8u);
  EXPECT_EQ(Held(c, chunks), 0);
}

// A ChunkNode that answers ListChunks from `store` after running `before`
// (once): a member whose listing a test interleaves with a map change.
class HookedMember final : public proto::ChunkNode::Service {
 public:
  HookedMember(chunk::ChunkStore* store, std::function<void()> before)
      : store_(store), before_(std::move(before)) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~HookedMember() override { server_->Shutdown(std::chrono::system_clock::now()); }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  grpc::Status ListChunks(grpc::ServerContext*, const proto::ListChunksRequest* req,
                          proto::ListChunksReply* reply) override {
    std::call_once(once_, before_);
    absl::Status st = ListChunksOf(*store_, *req, reply);
    return st.ok() ? grpc::Status::OK
                   : grpc::Status(grpc::StatusCode::INTERNAL, std::string(st.message()));
  }

 private:
  chunk::ChunkStore* const store_;
  const std::function<void()> before_;
  std::once_flag once_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// The map changes while the members are being listed (after the pass
// began with the cached epoch equal to the map's): every chunk is
// confirmed, yet nothing is deleted, since the check before the deletion
// sees the new epoch.
TEST_F(CleanupTest, EpochChangeDuringTheListingStopsThePass) {
  ChunkServer* c = StartExtraHolder(absl::Milliseconds(1));
  auto chunks = Chunks(8, 30'000);
  PutOn(chunks, {a_, b_, c});
  proto::ClusterMap map = FreshMap(c);
  const uint64_t epoch = map.epoch();
  bool moved = false;
  HookedMember hooked(b_->store(), [&] {
    // A new node registers: a new epoch, which c's link picks up.
    cluster::RegisterInfo info;
    info.data_address = "127.0.0.1:1";
    info.grpc_address = "127.0.0.1:1";
    EXPECT_TRUE(meta_.manager()->Register(info).ok());
    moved = c->link()->WaitEpoch(epoch + 1, kWait);
  });
  for (auto& n : *map.mutable_nodes()) {
    if (n.id() == b_->node_id().value()) n.set_grpc_address(hooked.address());
  }
  auto deleted = c->recovery()->CleanupPass(map);
  ASSERT_TRUE(moved);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, 0u);
  EXPECT_EQ(Held(c, chunks), 8);
}

}  // namespace
}  // namespace cairn::chunkserver

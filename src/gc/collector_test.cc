// The collector against fake chunk nodes (in memory, with mtimes and
// failure switches) and the real namespace on the memory store.
#include "gc/collector.h"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "absl/synchronization/mutex.h"
#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta/keys.h"
#include "store/memory_store.h"

namespace cairn::gc {
namespace {

constexpr int64_t kSec = 1'000'000'000;

// Chunk servers in memory, by gRPC address.
class FakeNodes final : public ChunkNodes {
 public:
  struct Node {
    std::map<std::string, int64_t> chunks;  // id bytes -> mtime
    bool down = false;                      // every call fails (kUnavailable)
    std::set<std::string> stuck;            // ids whose deletion fails
    int deletes = 0, lists = 0;
  };
  absl::StatusOr<proto::ListChunksReply> ListChunks(const std::string& address,
                                                    const proto::ListChunksRequest& req) override {
    absl::MutexLock lock(&mu_);
    Node& n = nodes_[address];
    ++n.lists;
    if (n.down) return Error(Errc::kUnavailable, "down");
    proto::ListChunksReply reply;
    const uint32_t limit = req.limit() == 0 ? 10000 : req.limit();
    auto it = n.chunks.upper_bound(req.after());
    for (; it != n.chunks.end() && static_cast<uint32_t>(reply.chunks_size()) < limit; ++it) {
      proto::ChunkEntry* e = reply.add_chunks();
      e->set_id(it->first);
      e->set_length(1);
      if (req.with_times()) e->set_modified_ns(it->second);
      reply.set_next_after(it->first);
    }
    reply.set_done(it == n.chunks.end());
    return reply;
  }
  absl::StatusOr<proto::DeleteChunksReply> DeleteChunks(
      const std::string& address, const proto::DeleteChunksRequest& req) override {
    absl::MutexLock lock(&mu_);
    Node& n = nodes_[address];
    ++n.deletes;
    if (n.down) return Error(Errc::kUnavailable, "down");
    if (req.ids_size() == 0 || req.ids_size() > 10000) return Invalid("batch size");
    proto::DeleteChunksReply reply;
    for (const std::string& id : req.ids()) {
      deleted_log_.push_back(id);
      if (n.stuck.contains(id)) {
        reply.add_failed_ids(id);
        reply.add_errors("disk error");
      } else if (n.chunks.erase(id) > 0) {
        reply.set_deleted(reply.deleted() + 1);
      } else {
        reply.set_not_found(reply.not_found() + 1);
      }
    }
    return reply;
  }
  template <typename Fn>
  void With(const std::string& address, Fn fn) {
    absl::MutexLock lock(&mu_);
    fn(nodes_[address]);
  }
  bool Has(const std::string& address, const std::string& id) {
    absl::MutexLock lock(&mu_);
    return nodes_[address].chunks.contains(id);
  }
  size_t Count(const std::string& address) {
    absl::MutexLock lock(&mu_);
    return nodes_[address].chunks.size();
  }
  // Every id ever sent to DeleteChunks.
  std::vector<std::string> DeleteLog() {
    absl::MutexLock lock(&mu_);
    return deleted_log_;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, Node> nodes_;
  std::vector<std::string> deleted_log_;
};

class CollectorTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kPgs = 8;
  static constexpr int kNodes = 4;

  void SetUp() override {
    auto ns = meta::Namespace::Open(&store_, {}, &clock_);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
    // 4 nodes, chains of 3: pg p -> nodes p%4+1, (p+1)%4+1, (p+2)%4+1.
    map_.set_epoch(1);
    map_.set_pg_count(kPgs);
    map_.set_replicas(3);
    for (int i = 1; i <= kNodes; ++i) {
      proto::NodeInfo* n = map_.add_nodes();
      n->set_id(i);
      n->set_state(proto::NODE_UP);
      n->set_grpc_address(Addr(i));
    }
    for (uint32_t p = 0; p < kPgs; ++p) {
      proto::PgChain* c = map_.add_pgs();
      c->set_pg(p);
      for (uint32_t k = 0; k < 3; ++k) c->add_nodes((p + k) % kNodes + 1);
    }
    options_.delay = absl::ZeroDuration();
    options_.grace = absl::Seconds(60);
    options_.alarm_min_unknown = 1000;
    NewCollector();
  }
  void NewCollector() {
    gc_.reset();
    gc_ = std::make_unique<Collector>(
        ns_.get(),
        [this] {
          absl::MutexLock lock(&map_mu_);
          return map_;
        },
        &nodes_, &metrics_, &clock_, options_);
  }
  static std::string Addr(int node) { return "node" + std::to_string(node) + ":1"; }
  static std::string Id(uint64_t n) {
    return cluster::ChunkIdToBytes(ChunkId{0x9c00 + n, n * 0x9e3779b97f4a7c15ull + 1});
  }
  std::vector<int> Chain(const std::string& id) {
    absl::MutexLock lock(&map_mu_);
    auto cid = cluster::ChunkIdFromBytes(id);
    const auto& c = map_.pgs(static_cast<int>(cluster::PgOf(*cid, kPgs).value()));
    return std::vector<int>(c.nodes().begin(), c.nodes().end());
  }
  // Stores chunk `id` on every member of its chain, written at `mtime`.
  void Store(const std::string& id, int64_t mtime) {
    for (int n : Chain(id)) nodes_.With(Addr(n), [&](auto& node) { node.chunks[id] = mtime; });
  }
  bool Anywhere(const std::string& id) {
    for (int n = 1; n <= kNodes; ++n) {
      if (nodes_.Has(Addr(n), id)) return true;
    }
    return false;
  }
  // A file /name holding chunks `ids` (one per 8 MiB slot), stored on the nodes.
  proto::InodeRecord File(const std::string& name, std::vector<std::string> ids) {
    auto f = ns_->Create(meta::Ref::Path("/"), name, 0644, true, {});
    EXPECT_TRUE(f.ok()) << f.status();
    meta::CommitWriteArgs args;
    for (size_t i = 0; i < ids.size(); ++i) {
      meta::SlotUpdate u;
      u.slot = i;
      u.chunk.set_id(ids[i]);
      u.chunk.set_length(10);
      args.updates.push_back(u);
      Store(ids[i], clock_.NowNanos());
    }
    args.min_size = (ids.size() - 1) * meta::kDefaultChunkSize + 10;
    auto r = ns_->CommitWrite(InodeId(f->ino()), args);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }
  absl::StatusOr<proto::RunGcReply> Run(proto::GcPass pass, bool dry_run = false) {
    proto::RunGcRequest req;
    req.set_pass(pass);
    req.set_dry_run(dry_run);
    return gc_->Run(req);
  }
  size_t QueueLength() {
    auto q = ns_->ListGcQueue("", 0);
    EXPECT_TRUE(q.ok());
    return q->size();
  }
  // Every referenced id must still be on every member of its chain.
  void ExpectReferencedIntact(const std::vector<std::string>& ids) {
    for (const std::string& id : ids) {
      for (int n : Chain(id)) EXPECT_TRUE(nodes_.Has(Addr(n), id)) << "node " << n;
    }
  }

  ManualClock clock_;
  store::MemoryStore store_;
  std::unique_ptr<meta::Namespace> ns_;
  FakeNodes nodes_;
  service::MetricsRegistry metrics_;
  absl::Mutex map_mu_;
  proto::ClusterMap map_;
  GcOptions options_;
  std::unique_ptr<Collector> gc_;
};

TEST_F(CollectorTest, QueueDeletesFromEveryChainMemberThenRemovesEntries) {
  std::vector<std::string> old_ids, live;
  for (int i = 0; i < 12; ++i) old_ids.push_back(Id(i));
  File("a", old_ids);
  for (int i = 100; i < 104; ++i) live.push_back(Id(i));
  File("b", live);
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "a").ok());
  ASSERT_EQ(QueueLength(), 1u);
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue().entries_ready(), 1u);
  EXPECT_EQ(r->queue().entries_removed(), 1u);
  EXPECT_EQ(r->queue().chunks_ready(), 12u);
  EXPECT_EQ(r->queue().deleted(), 36u);  // 12 chunks x 3 replicas
  EXPECT_EQ(QueueLength(), 0u);
  for (const auto& id : old_ids) EXPECT_FALSE(Anywhere(id));
  ExpectReferencedIntact(live);
  EXPECT_EQ(gc_->Status().deleted_queue_chunks(), 36u);
  // Each node got one batch (its ids grouped), not one call per chunk.
  for (int n = 1; n <= kNodes; ++n) {
    nodes_.With(Addr(n), [](auto& node) { EXPECT_LE(node.deletes, 1); });
  }
}

TEST_F(CollectorTest, UnreachableMemberKeepsTheEntryAndItIsRetried) {
  const std::string id = Id(1);
  File("a", {id});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "a").ok());
  const int down = Chain(id)[1];
  nodes_.With(Addr(down), [](auto& n) { n.down = true; });
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue().entries_removed(), 0u);
  EXPECT_GT(r->queue().failed(), 0u);
  EXPECT_EQ(QueueLength(), 1u);
  EXPECT_GT(gc_->Status().errors(), 0u);
  // The other members deleted theirs; the down one still holds its copy.
  EXPECT_TRUE(nodes_.Has(Addr(down), id));
  nodes_.With(Addr(down), [](auto& n) { n.down = false; });
  r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_removed(), 1u);
  EXPECT_EQ(r->queue().not_found(), 2u);  // already gone on the other two
  EXPECT_EQ(QueueLength(), 0u);
  EXPECT_FALSE(Anywhere(id));
}

TEST_F(CollectorTest, FailedIdKeepsOnlyItsEntry) {
  File("a", {Id(1)});
  File("b", {Id(2)});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "a").ok());
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "b").ok());
  nodes_.With(Addr(Chain(Id(2))[0]), [&](auto& n) { n.stuck.insert(Id(2)); });
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_removed(), 1u);
  auto q = ns_->ListGcQueue("", 0);
  ASSERT_EQ(q->size(), 1u);
  EXPECT_EQ(q->front().entry.chunk_ids(0), Id(2));
}

TEST_F(CollectorTest, EmptyChainOrUnknownMemberKeepsTheEntry) {
  const std::string id = Id(5);
  File("a", {id});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "a").ok());
  {
    absl::MutexLock lock(&map_mu_);
    auto cid = cluster::ChunkIdFromBytes(id);
    map_.mutable_pgs(static_cast<int>(cluster::PgOf(*cid, kPgs).value()))->clear_nodes();
  }
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_removed(), 0u);
  EXPECT_EQ(QueueLength(), 1u);
  EXPECT_TRUE(nodes_.DeleteLog().empty());
}

TEST_F(CollectorTest, DelayIsRespected) {
  options_.delay = absl::Seconds(30);
  NewCollector();
  File("a", {Id(1)});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "a").ok());
  clock_.Advance(29 * kSec);
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_ready(), 0u);
  EXPECT_TRUE(Anywhere(Id(1)));
  EXPECT_EQ(QueueLength(), 1u);
  EXPECT_EQ(gc_->Status().queue_entries(), 1u);
  clock_.Advance(1 * kSec);
  r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_removed(), 1u);
  EXPECT_FALSE(Anywhere(Id(1)));
}

TEST_F(CollectorTest, BatchLimitsEntriesPerPass) {
  options_.batch = 2;
  NewCollector();
  for (int i = 0; i < 5; ++i) {
    File("f" + std::to_string(i), {Id(i)});
    ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "f" + std::to_string(i)).ok());
  }
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->queue().entries_removed(), 2u);
  EXPECT_EQ(QueueLength(), 3u);
  ASSERT_TRUE(Run(proto::GC_PASS_QUEUE).ok());
  ASSERT_TRUE(Run(proto::GC_PASS_QUEUE).ok());
  EXPECT_EQ(QueueLength(), 0u);
}

// The queue length in the status and the gauge follows releases and the
// pass's own removals (kept incrementally, docs/gc.md "Counting the
// queue") while entries settle, and a stuck entry stays counted.
TEST_F(CollectorTest, QueueLengthStaysTrueAcrossPasses) {
  options_.batch = 2;
  options_.count_settle = absl::Seconds(10);
  NewCollector();
  auto release = [&](int i) {
    File("q" + std::to_string(i), {Id(200 + i), Id(300 + i)});
    ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "q" + std::to_string(i)).ok());
  };
  for (int i = 0; i < 5; ++i) release(i);
  nodes_.With(Addr(Chain(Id(200))[0]), [&](auto& n) { n.stuck.insert(Id(200)); });
  for (int pass = 0; pass < 6; ++pass) {
    ASSERT_TRUE(Run(proto::GC_PASS_QUEUE).ok());
    const proto::GcStatus st = gc_->Status();
    EXPECT_EQ(st.queue_entries(), QueueLength()) << "pass " << pass;
    EXPECT_EQ(st.queue_chunks(), 2 * QueueLength()) << "pass " << pass;
    EXPECT_EQ(metrics_.GetGauge("cairn_gc_queue_length", "")->value(),
              static_cast<int64_t>(QueueLength()));
    if (pass == 2) release(10);  // released between passes
    clock_.Advance(7 * kSec);    // entries cross the settle line on the way
  }
  EXPECT_EQ(QueueLength(), 1u);  // only the stuck one
}

TEST_F(CollectorTest, FullPageOfYoungEntriesIsLeftAlone) {
  // A whole page (batch) of entries, none ready yet: the pass must stop at
  // the first young one (it once read past an empty ready list here).
  options_.batch = 3;
  options_.delay = absl::Seconds(30);
  NewCollector();
  for (int i = 0; i < 5; ++i) {
    File("y" + std::to_string(i), {Id(40 + i)});
    ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "y" + std::to_string(i)).ok());
  }
  auto r = Run(proto::GC_PASS_QUEUE);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->queue().entries_ready(), 0u);
  EXPECT_EQ(QueueLength(), 5u);
  EXPECT_TRUE(Anywhere(Id(40)));
}

TEST_F(CollectorTest, ReconcileDeletesExactlyTheOldOrphans) {
  std::vector<std::string> live = {Id(1), Id(2), Id(3)};
  File("live", live);
  File("gone", {Id(10)});
  options_.delay = absl::Hours(10);  // keep the queue entry queued
  NewCollector();
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "gone").ok());
  // Orphans: uncommitted writes, one old and one young, plus a stray copy
  // of a live chunk on a node outside its chain (referenced: kept).
  Store(Id(20), clock_.NowNanos());
  int outside = 0;
  for (int n = 1; n <= kNodes; ++n) {
    auto c = Chain(Id(1));
    if (std::find(c.begin(), c.end(), n) == c.end()) outside = n;
  }
  nodes_.With(Addr(outside), [&](auto& n) { n.chunks[Id(1)] = clock_.NowNanos(); });
  clock_.Advance(120 * kSec);
  Store(Id(21), clock_.NowNanos());  // young
  auto r = Run(proto::GC_PASS_RECONCILE);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->reconcile().ran());
  EXPECT_EQ(r->alarm_reason(), "");
  EXPECT_EQ(r->reconcile().referenced(), 3u);
  EXPECT_EQ(r->reconcile().queued(), 1u);
  uint64_t orphans = 0, deleted = 0;
  for (const auto& n : r->reconcile().nodes()) {
    orphans += n.orphans();
    deleted += n.deleted();
  }
  EXPECT_EQ(orphans, 3u);  // Id(20) on its 3 chain members
  EXPECT_EQ(deleted, 3u);
  EXPECT_FALSE(Anywhere(Id(20)));
  EXPECT_TRUE(Anywhere(Id(21)));  // young
  EXPECT_TRUE(Anywhere(Id(10)));  // queued: left to the queue pass
  EXPECT_TRUE(nodes_.Has(Addr(outside), Id(1)));
  ExpectReferencedIntact(live);
  // Nothing referenced was ever sent to DeleteChunks.
  for (const auto& id : nodes_.DeleteLog()) {
    EXPECT_TRUE(std::find(live.begin(), live.end(), id) == live.end());
  }
  EXPECT_EQ(gc_->Status().deleted_orphan_chunks(), 3u);
  EXPECT_GT(gc_->Status().last_reconcile_ns(), 0);
  // Once old enough, the young one goes too.
  clock_.Advance(120 * kSec);
  ASSERT_TRUE(Run(proto::GC_PASS_RECONCILE).ok());
  EXPECT_FALSE(Anywhere(Id(21)));
  ExpectReferencedIntact(live);
}

TEST_F(CollectorTest, DryRunDeletesNothing) {
  File("gone", {Id(10)});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "gone").ok());
  Store(Id(20), clock_.NowNanos());
  clock_.Advance(120 * kSec);
  auto r = Run(proto::GC_PASS_ALL, /*dry_run=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->dry_run());
  EXPECT_EQ(r->queue().entries_ready(), 1u);
  ASSERT_EQ(r->queue().ids_size(), 1);
  EXPECT_EQ(r->queue().ids(0), Id(10));
  uint64_t orphans = 0;
  for (const auto& n : r->reconcile().nodes()) {
    orphans += n.orphans();
    for (const auto& id : n.ids()) EXPECT_EQ(id, Id(20));
  }
  EXPECT_EQ(orphans, 3u);
  EXPECT_TRUE(nodes_.DeleteLog().empty());
  EXPECT_TRUE(Anywhere(Id(10)));
  EXPECT_TRUE(Anywhere(Id(20)));
  EXPECT_EQ(QueueLength(), 1u);
}

// Raises the alarm with `setup`, checks that nothing is deleted, clears it
// and checks that deletions resume.
class AlarmTest : public CollectorTest {
 protected:
  void Check(const std::function<void()>& setup, const std::function<void()>& undo,
             const std::string& reason_part) {
    File("gone", {Id(10)});
    ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "gone").ok());
    Store(Id(20), clock_.NowNanos());
    clock_.Advance(120 * kSec);
    setup();
    // A dry run reports the alarm without raising it.
    auto dry = Run(proto::GC_PASS_RECONCILE, true);
    ASSERT_TRUE(dry.ok()) << dry.status();
    EXPECT_NE(dry->alarm_reason().find(reason_part), std::string::npos) << dry->alarm_reason();
    EXPECT_FALSE(gc_->Status().alarm());
    auto r = Run(proto::GC_PASS_RECONCILE);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_NE(r->alarm_reason().find(reason_part), std::string::npos) << r->alarm_reason();
    proto::GcStatus st = gc_->Status();
    EXPECT_TRUE(st.alarm());
    EXPECT_NE(st.alarm_reason().find(reason_part), std::string::npos);
    EXPECT_EQ(metrics_.GetGauge("cairn_gc_alarm", "")->value(), 1);
    // Everything stops: a real pass is refused, the queue is not touched.
    EXPECT_EQ(ErrcOf(Run(proto::GC_PASS_QUEUE).status()), Errc::kBusy);
    EXPECT_EQ(ErrcOf(Run(proto::GC_PASS_ALL).status()), Errc::kBusy);
    EXPECT_TRUE(nodes_.DeleteLog().empty());
    EXPECT_EQ(QueueLength(), 1u);
    undo();
    auto cleared = gc_->ClearAlarm();
    EXPECT_TRUE(cleared.was_raised());
    EXPECT_FALSE(gc_->Status().alarm());
    EXPECT_EQ(metrics_.GetGauge("cairn_gc_alarm", "")->value(), 0);
    r = Run(proto::GC_PASS_ALL);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->alarm_reason(), "");
    EXPECT_FALSE(Anywhere(Id(10)));
    EXPECT_FALSE(Anywhere(Id(20)));
    EXPECT_EQ(QueueLength(), 0u);
  }
};

TEST_F(AlarmTest, ListingFailure) {
  Check([&] { nodes_.With(Addr(2), [](auto& n) { n.down = true; }); },
        [&] { nodes_.With(Addr(2), [](auto& n) { n.down = false; }); }, "listing the chunks");
}

TEST_F(AlarmTest, IncompleteListing) {
  auto set_count = [&](uint64_t count) {
    absl::MutexLock lock(&map_mu_);
    map_.mutable_nodes(0)->set_chunk_count(count);
    map_.mutable_nodes(0)->set_last_heartbeat_ns(clock_.NowNanos());
  };
  Check([&] { set_count(5000); }, [&] { set_count(1); }, "listing incomplete");
}

TEST_F(AlarmTest, UnknownChunkJump) {
  options_.alarm_min_unknown = 10;
  NewCollector();
  Check(
      [&] {
        for (int i = 0; i < 11; ++i) {
          nodes_.With(Addr(3), [&](auto& n) { n.chunks[Id(500 + i)] = 1; });
        }
      },
      [&] {
        nodes_.With(Addr(3), [&](auto& n) {
          for (int i = 0; i < 11; ++i) n.chunks.erase(Id(500 + i));
        });
      },
      "unknown to meta");
}

TEST_F(AlarmTest, UnknownNodeInAChain) {
  Check(
      [&] {
        absl::MutexLock lock(&map_mu_);
        map_.mutable_pgs(0)->set_nodes(0, 99);
      },
      [&] {
        absl::MutexLock lock(&map_mu_);
        map_.mutable_pgs(0)->set_nodes(0, 1);
      },
      "unknown node 99");
}

TEST_F(AlarmTest, ScanError) {
  auto corrupt = [&](bool on) {
    auto txn = store_.Begin();
    if (on) {
      txn->Put(meta::keys::Inode(InodeId(777)), std::string("\xff\xff\xff", 3));
    } else {
      txn->Delete(meta::keys::Inode(InodeId(777)));
    }
    ASSERT_TRUE(txn->Commit({}).ok());
  };
  Check([&] { corrupt(true); }, [&] { corrupt(false); }, "scanning the chunk references");
}

TEST_F(CollectorTest, BadRequestsAreRefused) {
  proto::RunGcRequest req;
  req.set_pass(static_cast<proto::GcPass>(7));
  EXPECT_EQ(ErrcOf(gc_->Run(req).status()), Errc::kInvalid);
  req.set_pass(proto::GC_PASS_ALL);
  req.set_list_limit(kMaxListLimit + 1);
  EXPECT_EQ(ErrcOf(gc_->Run(req).status()), Errc::kInvalid);
  EXPECT_TRUE(nodes_.DeleteLog().empty());
  GcOptions bad;
  bad.batch = 0;
  EXPECT_EQ(ErrcOf(ValidateGcOptions(bad)), Errc::kInvalid);
  bad = GcOptions();
  bad.delay = absl::Seconds(-1);
  EXPECT_EQ(ErrcOf(ValidateGcOptions(bad)), Errc::kInvalid);
  EXPECT_TRUE(ValidateGcOptions(GcOptions()).ok());
}

TEST_F(CollectorTest, BackgroundLoopRunsBothPasses) {
  options_.interval = absl::Milliseconds(20);
  options_.reconcile_interval = absl::Milliseconds(50);
  NewCollector();
  File("gone", {Id(10)});
  ASSERT_TRUE(ns_->Unlink(meta::Ref::Path("/"), "gone").ok());
  Store(Id(20), clock_.NowNanos());
  clock_.Advance(120 * kSec);
  gc_->Start();
  for (int i = 0; i < 500 && (Anywhere(Id(10)) || Anywhere(Id(20))); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  gc_->Stop();
  EXPECT_FALSE(Anywhere(Id(10)));
  EXPECT_FALSE(Anywhere(Id(20)));
  EXPECT_EQ(QueueLength(), 0u);
}

}  // namespace
}  // namespace cairn::gc

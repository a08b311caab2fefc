// ClusterManager's recovery state machine: recovering members, down ->
// out and re-replication, PgRecovered claims, drain, remove, rebalance;
// over both stores (MemoryStore; RocksDbStore reopened for real), time
// driven by a ManualClock and Tick().
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "cluster/cluster_manager.h"
#include "cluster/store_fixture.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::cluster {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

class RecoveryStateTest : public StoreFixture {
 protected:
  void ReleaseStoreUsers() override { manager_.reset(); }
  void Open(ClusterOptions o) {
    o.pg_count = 32;
    o.down_after = absl::Seconds(5);
    o.out_after = absl::Seconds(20);
    options_ = o;
    auto m = ClusterManager::Open(store_.get(), &clock_, o);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  void Reopen() {
    manager_.reset();
    if (GetParam() == "rocksdb") {
      store_.reset();
      OpenStore();
    }
    auto m = ClusterManager::Open(store_.get(), &clock_, options_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  NodeId Add(const std::string& zone = "") {
    RegisterInfo info;
    info.data_address = "10.0.1." + std::to_string(++addr_) + ":7000";
    info.zone = zone;
    auto id = manager_->Register(info);
    EXPECT_TRUE(id.ok()) << id.status();
    if (id.ok()) live_.insert(*id);
    return id.ok() ? *id : NodeId();
  }
  // Every live node heartbeats with the current epoch.
  void BeatAll() {
    for (NodeId id : live_) {
      HeartbeatInfo hb;
      hb.node_id = id;
      hb.epoch = manager_->epoch();
      auto e = manager_->Heartbeat(hb);
      ASSERT_TRUE(e.ok()) << e.status();
    }
  }
  // Time passes in steps of 1 s with heartbeats and ticks.
  void Run(int seconds) {
    for (int i = 0; i < seconds; ++i) {
      clock_.Advance(kSecond);
      BeatAll();
      ASSERT_TRUE(manager_->Tick().ok());
    }
  }
  proto::NodeState StateOf(NodeId id) {
    const proto::ClusterMap map = manager_->Map();
    for (const auto& n : map.nodes())
      if (n.id() == id.value()) return n.state();
    return proto::NODE_STATE_UNSPECIFIED;
  }
  // Completes every recovery as chunk servers would (claim at the epoch).
  int RecoverAll() {
    int n = 0;
    BeatAll();
    const proto::ClusterMap map = manager_->Map();
    for (const auto& pg : map.pgs()) {
      for (uint64_t node : pg.recovering()) {
        auto st = manager_->PgRecovered(NodeId(node), pg.pg(), map.epoch());
        EXPECT_TRUE(st.ok()) << st.status();
        ++n;
      }
    }
    return n;
  }
  struct Health {
    int healthy_full = 0;  // PGs with R healthy members
    int recovering = 0;    // PGs with a recovering member
    int short_pgs = 0;     // PGs with fewer than R members
  };
  Health Check() {
    Health h;
    const proto::ClusterMap map = manager_->Map();
    for (const auto& pg : map.pgs()) {
      std::set<uint64_t> distinct(pg.nodes().begin(), pg.nodes().end());
      EXPECT_EQ(distinct.size(), static_cast<size_t>(pg.nodes_size()));
      const int healthy = pg.nodes_size() - pg.recovering_size();
      if (healthy >= static_cast<int>(map.replicas())) ++h.healthy_full;
      if (pg.recovering_size() > 0) ++h.recovering;
      if (pg.nodes_size() < static_cast<int>(map.replicas())) ++h.short_pgs;
    }
    return h;
  }
  std::map<NodeId, int> Members() {
    std::map<NodeId, int> out;
    const proto::ClusterMap map = manager_->Map();
    for (const auto& pg : map.pgs())
      for (uint64_t n : pg.nodes()) out[NodeId(n)]++;
    return out;
  }

  // The current map, kept alive until the next call (for range loops).
  const proto::ClusterMap& MapNow() {
    snapshot_ = manager_->Map();
    return snapshot_;
  }

  ManualClock clock_;
  ClusterOptions options_;
  proto::ClusterMap snapshot_;
  std::unique_ptr<ClusterManager> manager_;
  std::set<NodeId> live_;
  int addr_ = 0;
};

TEST_P(RecoveryStateTest, BackFromDownIsRecoveringUntilClaimed) {
  ClusterOptions o;
  o.bootstrap_nodes = 4;
  o.max_moves = 0;
  Open(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Add());
  live_.erase(ids[1]);
  Run(7);
  ASSERT_EQ(StateOf(ids[1]), proto::NODE_DOWN);
  EXPECT_EQ(Check().recovering, 0);
  live_.insert(ids[1]);
  const uint64_t before = manager_->epoch();
  BeatAll();  // back: one bump, recovering at the tail
  EXPECT_EQ(manager_->epoch(), before + 1);
  const proto::ClusterMap map = manager_->Map();
  int rec = 0;
  for (const auto& pg : map.pgs()) {
    for (uint64_t n : pg.recovering()) {
      EXPECT_EQ(n, ids[1].value());
      EXPECT_EQ(pg.nodes(pg.nodes_size() - 1), n);  // tail
      ++rec;
    }
  }
  EXPECT_GT(rec, 10);
  // ChainFor marks the member.
  // Claims: wrong pg, epoch 0 / future, unknown node.
  uint32_t pg_rec = 0, pg_other = 0;
  for (const auto& pg : map.pgs()) {
    if (pg.recovering_size() > 0) pg_rec = pg.pg();
  }
  for (const auto& pg : map.pgs()) {
    if (std::find(pg.nodes().begin(), pg.nodes().end(), ids[1].value()) == pg.nodes().end())
      pg_other = pg.pg();
  }
  const uint64_t e = manager_->epoch();
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], pg_other, e).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], 999, e).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], pg_rec, e + 1).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], pg_rec, 0).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(NodeId(99), pg_rec, e).status()), Errc::kNotFound);
  // A claim from before it became recovering is stale.
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], pg_rec, e - 1).status()), Errc::kStaleEpoch);
  // Members that have not reported the epoch yet: not yet.
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(ids[1], pg_rec, e).status()), Errc::kBusy);
  EXPECT_EQ(manager_->epoch(), e);  // refusals change nothing
  BeatAll();
  auto ok = manager_->PgRecovered(ids[1], pg_rec, e);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(*ok, e + 1);
  // A retried claim succeeds without a change.
  EXPECT_TRUE(manager_->PgRecovered(ids[1], pg_rec, e).ok());
  EXPECT_EQ(manager_->epoch(), e + 1);
  EXPECT_EQ(Check().recovering, rec - 1);
  // Persisted: recovering survives a reopen.
  Reopen();
  EXPECT_EQ(Check().recovering, rec - 1);
  RecoverAll();
  EXPECT_EQ(Check().recovering, 0);
  EXPECT_EQ(Check().healthy_full, 32);
}

TEST_P(RecoveryStateTest, DownThenOutReplicatesElsewhere) {
  ClusterOptions o;
  o.bootstrap_nodes = 5;
  o.max_moves = 0;
  Open(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Add());
  live_.erase(ids[0]);
  Run(7);
  EXPECT_EQ(StateOf(ids[0]), proto::NODE_DOWN);
  const Health down = Check();
  EXPECT_GT(down.short_pgs, 0);
  Run(10);  // still within out_after: PGs wait for it
  EXPECT_EQ(StateOf(ids[0]), proto::NODE_DOWN);
  EXPECT_EQ(Check().short_pgs, down.short_pgs);
  EXPECT_EQ(Check().recovering, 0);
  Run(10);
  EXPECT_EQ(StateOf(ids[0]), proto::NODE_OUT);
  Health h = Check();
  EXPECT_EQ(h.short_pgs, 0);
  EXPECT_EQ(h.recovering, down.short_pgs);
  for (const auto& [node, n] : Members()) EXPECT_NE(node, ids[0]);
  EXPECT_EQ(RecoverAll(), down.short_pgs);
  h = Check();
  EXPECT_EQ(h.healthy_full, 32);
  // Spread evenly: 96 memberships over 4 nodes.
  for (const auto& [node, n] : Members()) EXPECT_NEAR(n, 24, 3) << node.value();

  // The OUT node comes back: it is an empty member to fill, never healthy
  // at once. Every chain is full, so it joins nothing until a rebalance.
  live_.insert(ids[0]);
  BeatAll();
  EXPECT_EQ(StateOf(ids[0]), proto::NODE_UP);
  EXPECT_EQ(Check().recovering, 0);
  EXPECT_EQ(Members().count(ids[0]), 0u);
}

TEST_P(RecoveryStateTest, ReplacementsKeepZonesDistinct) {
  ClusterOptions o;
  o.bootstrap_nodes = 6;
  o.max_moves = 0;
  Open(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(Add("z" + std::to_string(i % 3)));
  live_.erase(ids[0]);
  Run(30);
  ASSERT_EQ(StateOf(ids[0]), proto::NODE_OUT);
  RecoverAll();
  std::map<uint64_t, std::string> zone;
  const proto::ClusterMap map = manager_->Map();
  for (const auto& n : map.nodes()) zone[n.id()] = n.zone();
  for (const auto& pg : map.pgs()) {
    std::set<std::string> zones;
    for (uint64_t n : pg.nodes()) zones.insert(zone[n]);
    EXPECT_EQ(zones.size(), 3u) << "pg " << pg.pg();
  }
}

TEST_P(RecoveryStateTest, DrainNeverBelowRAndRemove) {
  ClusterOptions o;
  o.bootstrap_nodes = 4;
  o.max_moves = 0;
  Open(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Add());
  const NodeId d = ids[3];
  const int had = Members()[d];
  ASSERT_GT(had, 0);
  EXPECT_EQ(ErrcOf(manager_->Remove(d).status()), Errc::kBusy);  // up
  EXPECT_EQ(ErrcOf(manager_->Drain(NodeId(77)).status()), Errc::kNotFound);
  const uint64_t e = manager_->epoch();
  ASSERT_TRUE(manager_->Drain(d).ok());
  EXPECT_EQ(manager_->epoch(), e + 1);
  EXPECT_TRUE(manager_->Drain(d).ok());  // idempotent
  EXPECT_EQ(manager_->epoch(), e + 1);
  EXPECT_EQ(StateOf(d), proto::NODE_DRAINING);
  // Every PG of d has R+1 members, d still there, a replacement recovering.
  const proto::ClusterMap drained = manager_->Map();
  for (const auto& pg : drained.pgs()) {
    const bool has = std::find(pg.nodes().begin(), pg.nodes().end(), d.value()) != pg.nodes().end();
    EXPECT_EQ(pg.nodes_size(), has ? 4 : 3);
    EXPECT_EQ(pg.recovering_size(), has ? 1 : 0);
  }
  EXPECT_EQ(ErrcOf(manager_->Remove(d).status()), Errc::kBusy);  // draining with PGs
  Run(3);                                                        // heartbeats keep it DRAINING
  EXPECT_EQ(StateOf(d), proto::NODE_DRAINING);
  RecoverAll();
  EXPECT_EQ(Members().count(d), 0u);
  Health h = Check();
  EXPECT_EQ(h.healthy_full, 32);
  EXPECT_EQ(h.recovering, 0);
  const proto::ClusterMap after = manager_->Map();
  for (const auto& pg : after.pgs()) EXPECT_EQ(pg.nodes_size(), 3);
  const uint64_t e2 = manager_->epoch();
  ASSERT_TRUE(manager_->Remove(d).ok());
  EXPECT_EQ(manager_->epoch(), e2 + 1);
  EXPECT_FALSE(manager_->IsKnown(d));
  Reopen();
  EXPECT_FALSE(manager_->IsKnown(d));
  EXPECT_EQ(ErrcOf(manager_->Remove(d).status()), Errc::kNotFound);
}

TEST_P(RecoveryStateTest, RemoveRefusesLastCopyHolder) {
  ClusterOptions o;
  o.replicas = 1;
  o.bootstrap_nodes = 2;
  o.max_moves = 0;
  Open(o);
  NodeId a = Add();
  Add();
  live_.erase(a);
  Run(7);
  ASSERT_EQ(StateOf(a), proto::NODE_DOWN);
  // Its PGs have nobody: it holds the only copy.
  auto st = manager_->Remove(a);
  EXPECT_EQ(ErrcOf(st.status()), Errc::kBusy) << st.status();
  EXPECT_NE(st.status().message().find("only copy"), std::string::npos);
}

TEST_P(RecoveryStateTest, RebalanceOntoNewNodeConvergesBounded) {
  ClusterOptions o;
  o.bootstrap_nodes = 3;
  o.max_moves = 4;
  o.max_moves_per_node = 2;
  Open(o);
  for (int i = 0; i < 3; ++i) Add();
  Run(2);
  EXPECT_EQ(Check().recovering, 0);  // balanced: nothing moves
  const NodeId n = Add();
  for (int round = 0; round < 40; ++round) {
    Run(1);
    const Health h = Check();
    EXPECT_EQ(h.healthy_full, 32);  // never below R healthy
    EXPECT_LE(h.recovering, 2);     // the per-node bound (one target)
    if (h.recovering == 0 && round > 0) break;
    RecoverAll();
  }
  std::map<NodeId, int> m = Members();
  EXPECT_NEAR(m[n], 24, 3);
  for (const auto& [node, count] : m) EXPECT_NEAR(count, 24, 3) << node.value();
  const proto::ClusterMap final_map = manager_->Map();
  for (const auto& pg : final_map.pgs()) EXPECT_EQ(pg.nodes_size(), 3);
  // Converged: more time moves nothing.
  const uint64_t e = manager_->epoch();
  Run(3);
  EXPECT_EQ(manager_->epoch(), e);
}

bool Contains(const google::protobuf::RepeatedField<uint64_t>& ids, NodeId n) {
  return std::find(ids.begin(), ids.end(), n.value()) != ids.end();
}

TEST_P(RecoveryStateTest, ManyMovesOntoOneNodeAreNeverUndone) {
  // Many moves in flight onto one new node, claims arriving a few at a
  // time between ticks: a finished move must drop its source, not the new
  // node (which would start the same move again, forever).
  ClusterOptions o;
  o.bootstrap_nodes = 4;
  o.max_moves = 32;
  o.max_moves_per_node = 32;
  o.rebalance_threshold = 0;
  Open(o);
  for (int i = 0; i < 4; ++i) Add();
  Run(2);
  const NodeId n = Add();
  std::map<uint32_t, int> claims;  // by PG, the new node's claims
  for (int round = 0; round < 60; ++round) {
    Run(1);
    const Health h = Check();
    EXPECT_EQ(h.healthy_full, 32);  // never below R healthy
    if (h.recovering == 0 && round > 0) break;
    BeatAll();
    const proto::ClusterMap map = manager_->Map();
    int claimed = 0;
    for (const auto& pg : map.pgs()) {
      if (!Contains(pg.recovering(), n) || claimed == 3) continue;
      ASSERT_TRUE(manager_->PgRecovered(n, pg.pg(), map.epoch()).ok());
      ++claims[pg.pg()];
      ++claimed;
    }
  }
  EXPECT_EQ(Check().recovering, 0);
  for (const auto& [pg, count] : claims) EXPECT_EQ(count, 1) << "pg " << pg;
  std::map<NodeId, int> m = Members();
  for (const auto& [node, count] : m) EXPECT_NEAR(count, 32 * 3 / 5.0, 1.5) << node.value();
}

// Issue 4, finding 1: a node that never held a PG must not become its
// healthy member when every holder is gone; only a holder may re-enter an
// empty chain as healthy, and that knowledge survives a meta restart.
TEST_P(RecoveryStateTest, EmptyChainJoinerIsRecoveringUntilAHolderReturns) {
  ClusterOptions o;
  o.replicas = 2;
  o.bootstrap_nodes = 2;
  o.max_moves = 0;
  Open(o);
  const NodeId a = Add();
  const NodeId b = Add();
  live_.clear();
  Run(7);  // both down in one tick: every chain is empty
  ASSERT_EQ(StateOf(a), proto::NODE_DOWN);
  ASSERT_EQ(StateOf(b), proto::NODE_DOWN);
  for (const auto& pg : MapNow().pgs()) {
    ASSERT_EQ(pg.nodes_size(), 0);
    EXPECT_TRUE(Contains(pg.last_healthy(), a) && Contains(pg.last_healthy(), b)) << pg.pg();
  }
  const NodeId c = Add();  // holds nothing
  proto::ClusterMap map = manager_->Map();
  for (const auto& pg : map.pgs()) {
    ASSERT_EQ(pg.nodes_size(), 1) << pg.pg();
    EXPECT_EQ(pg.recovering_size(), 1) << "pg " << pg.pg() << ": a node with no data is healthy";
  }
  EXPECT_EQ(ErrcOf(manager_->ChainFor(ChunkId{5, 5}).status()), Errc::kUnavailable);
  // Nothing to copy from: a claim is refused.
  BeatAll();
  EXPECT_EQ(ErrcOf(manager_->PgRecovered(c, 0, manager_->epoch()).status()), Errc::kBusy);

  // Persisted: after a restart a holder is still told from a stranger.
  Reopen();
  for (const auto& pg : MapNow().pgs()) {
    EXPECT_TRUE(Contains(pg.last_healthy(), a) && Contains(pg.last_healthy(), b)) << pg.pg();
  }
  live_.insert(a);
  BeatAll();  // a holder returns: healthy at the head, c keeps recovering
  map = manager_->Map();
  for (const auto& pg : map.pgs()) {
    ASSERT_EQ(pg.nodes_size(), 2) << pg.pg();
    EXPECT_EQ(pg.nodes(0), a.value());
    EXPECT_FALSE(Contains(pg.recovering(), a));
    EXPECT_TRUE(Contains(pg.recovering(), c));
  }
  EXPECT_EQ(RecoverAll(), 32);
  EXPECT_EQ(Check().healthy_full, 32);
}

// Finding 2: a stale node (it left before the last writes) that comes
// back to an empty chain is not its sole healthy member, and the newer
// holder cannot be removed while it has the only up-to-date copy.
TEST_P(RecoveryStateTest, StaleNodeIsNotSoleHealthyAndNewerHolderIsKept) {
  ClusterOptions o;
  o.replicas = 2;
  o.bootstrap_nodes = 2;
  o.max_moves = 0;
  Open(o);
  const NodeId a = Add();
  const NodeId b = Add();
  live_.erase(b);
  Run(7);  // b leaves first; a alone takes the writes
  ASSERT_EQ(StateOf(b), proto::NODE_DOWN);
  live_.erase(a);
  Run(7);
  ASSERT_EQ(StateOf(a), proto::NODE_DOWN);
  for (const auto& pg : MapNow().pgs()) {
    EXPECT_TRUE(Contains(pg.last_healthy(), a));
    EXPECT_FALSE(Contains(pg.last_healthy(), b));
  }
  live_.insert(b);
  BeatAll();  // the stale node is back
  ASSERT_EQ(StateOf(b), proto::NODE_UP);
  for (const auto& pg : MapNow().pgs()) {
    ASSERT_EQ(pg.nodes_size(), 1) << pg.pg();
    EXPECT_TRUE(Contains(pg.recovering(), b)) << "pg " << pg.pg() << ": stale node is healthy";
  }
  // The newer holder has the only up-to-date copy: not removable, DOWN
  // or OUT (finding 3: OUT forgets left_pgs, the last healthy set stays).
  auto removed = manager_->Remove(a);
  EXPECT_EQ(ErrcOf(removed.status()), Errc::kBusy) << removed.status();
  Run(25);
  ASSERT_EQ(StateOf(a), proto::NODE_OUT);
  removed = manager_->Remove(a);
  EXPECT_EQ(ErrcOf(removed.status()), Errc::kBusy) << removed.status();
  EXPECT_NE(removed.status().message().find("only"), std::string::npos);
  for (const auto& pg : MapNow().pgs()) {
    EXPECT_EQ(pg.nodes_size() - pg.recovering_size(), 0) << pg.pg();
  }
  // The holder returns (from OUT): healthy where it was the last holder,
  // at the head, ahead of the member that waited for it.
  live_.insert(a);
  BeatAll();
  for (const auto& pg : MapNow().pgs()) {
    ASSERT_FALSE(pg.nodes().empty());
    EXPECT_EQ(pg.nodes(0), a.value()) << pg.pg();
    EXPECT_FALSE(Contains(pg.recovering(), a));
  }
  RecoverAll();
  EXPECT_EQ(Check().healthy_full, 32);
  EXPECT_EQ(Check().recovering, 0);
}

// Finding 3: an OUT node whose PGs were given new (recovering) members
// may still hold the only copy; it can be removed once its PGs have R
// healthy members again.
TEST_P(RecoveryStateTest, RemoveOfOutNodeWaitsUntilItsPgsAreHealthyAgain) {
  ClusterOptions o;
  o.replicas = 1;
  o.bootstrap_nodes = 2;
  o.max_moves = 0;
  Open(o);
  const NodeId a = Add();
  const NodeId b = Add();
  live_.erase(a);
  Run(30);
  ASSERT_EQ(StateOf(a), proto::NODE_OUT);
  // a's PGs got b, which has nothing to copy from: recovering, not healthy.
  int waiting = 0;
  for (const auto& pg : MapNow().pgs()) {
    if (!Contains(pg.last_healthy(), a)) continue;
    ++waiting;
    EXPECT_TRUE(Contains(pg.recovering(), b)) << pg.pg();
  }
  ASSERT_GT(waiting, 0);
  auto removed = manager_->Remove(a);
  EXPECT_EQ(ErrcOf(removed.status()), Errc::kBusy) << removed.status();
  // a comes back, b copies from it, a is drained and goes away: now the
  // PGs have R healthy members without it and it may be forgotten.
  live_.insert(a);
  BeatAll();
  RecoverAll();
  ASSERT_TRUE(manager_->Drain(a).ok());
  RecoverAll();
  EXPECT_EQ(Members().count(a), 0u);
  live_.erase(a);
  Run(7);
  ASSERT_EQ(StateOf(a), proto::NODE_DOWN);
  removed = manager_->Remove(a);
  EXPECT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(Check().healthy_full, 32);
}

INSTANTIATE_TEST_SUITE_P(Stores, RecoveryStateTest, ::testing::Values("memory", "rocksdb"));

}  // namespace
}  // namespace cairn::cluster

// ClusterManager over both stores (MemoryStore; RocksDbStore in a temp
// dir, reopened for real), time driven by a ManualClock and Tick().
#include "cluster/cluster_manager.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "cluster/store_fixture.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::cluster {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

class ClusterManagerTest : public StoreFixture {
 protected:
  void ReleaseStoreUsers() override { manager_.reset(); }
  void OpenManager(ClusterOptions options = {}) {
    options_ = options;
    auto m = ClusterManager::Open(store_.get(), &clock_, options);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
  }
  // Closes manager (and a RocksDB store) and opens both again.
  void Reopen() {
    manager_.reset();
    if (GetParam() == "rocksdb") {
      store_.reset();
      OpenStore();
    }
    OpenManager(options_);
  }
  NodeId Add(const std::string& zone = "", uint64_t capacity = 0) {
    RegisterInfo info;
    info.data_address = "10.0.0." + std::to_string(++addr_) + ":7000";
    info.zone = zone;
    info.capacity_bytes = capacity;
    auto id = manager_->Register(info);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.ok() ? *id : NodeId();
  }
  void Beat(NodeId id) {
    HeartbeatInfo hb;
    hb.node_id = id;
    auto e = manager_->Heartbeat(hb);
    ASSERT_TRUE(e.ok()) << e.status();
  }
  static std::vector<Chain> Chains(const proto::ClusterMap& map) {
    std::vector<Chain> out;
    for (const auto& pg : map.pgs()) {
      Chain c;
      for (uint64_t n : pg.nodes()) c.push_back(NodeId(n));
      out.push_back(c);
    }
    return out;
  }
  proto::NodeState StateOf(NodeId id) {
    const proto::ClusterMap map = manager_->Map();
    for (const auto& n : map.nodes())
      if (n.id() == id.value()) return n.state();
    return proto::NODE_STATE_UNSPECIFIED;
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
  int addr_ = 0;
};

TEST_P(ClusterManagerTest, EmptyClusterIsUnavailable) {
  OpenManager();
  EXPECT_EQ(manager_->epoch(), 1u);
  EXPECT_EQ(manager_->pg_count(), 256u);
  EXPECT_EQ(manager_->replicas(), 3u);
  auto chain = manager_->ChainFor(ChunkId::Random());
  EXPECT_EQ(ErrcOf(chain.status()), Errc::kUnavailable);
  EXPECT_NE(chain.status().message().find("no chunk server is up"), std::string_view::npos);
}

TEST_P(ClusterManagerTest, RegisterAssignsIdsAndBumpsEpochOnce) {
  OpenManager();
  NodeId a = Add();
  EXPECT_EQ(a, NodeId(1));
  EXPECT_EQ(manager_->epoch(), 2u);
  NodeId b = Add();
  EXPECT_EQ(b, NodeId(2));
  EXPECT_EQ(manager_->epoch(), 3u);
  auto chain = manager_->ChainFor(ChunkId{1, 2});
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(chain->epoch, 3u);
  ASSERT_EQ(chain->members.size(), 2u);
  EXPECT_EQ(chain->members[0].node, a);  // the first node stays head
  EXPECT_EQ(chain->members[0].data_address, "10.0.0.1:7000");
  EXPECT_EQ(chain->pg, PgOf(ChunkId{1, 2}, 256));

  // Re-registering unchanged is no change; a new address is one.
  RegisterInfo same;
  same.node_id = a;
  same.data_address = "10.0.0.1:7000";
  ASSERT_TRUE(manager_->Register(same).ok());
  EXPECT_EQ(manager_->epoch(), 3u);
  same.data_address = "10.0.0.9:7000";
  ASSERT_TRUE(manager_->Register(same).ok());
  EXPECT_EQ(manager_->epoch(), 4u);
  EXPECT_EQ(manager_->ChainFor(ChunkId{1, 2})->members[0].data_address, "10.0.0.9:7000");

  // Unknown id; an address taken by another up node.
  RegisterInfo unknown;
  unknown.node_id = NodeId(77);
  unknown.data_address = "10.0.0.50:7000";
  EXPECT_EQ(ErrcOf(manager_->Register(unknown).status()), Errc::kNotFound);
  RegisterInfo dup;
  dup.data_address = "10.0.0.2:7000";
  EXPECT_EQ(ErrcOf(manager_->Register(dup).status()), Errc::kExists);
  EXPECT_EQ(manager_->epoch(), 4u);
}

TEST_P(ClusterManagerTest, BootstrapPlacesBalanced) {
  ClusterOptions o;
  o.bootstrap_nodes = 5;
  OpenManager(o);
  for (int i = 0; i < 4; ++i) Add();
  EXPECT_EQ(ErrcOf(manager_->ChainFor(ChunkId{1, 1}).status()), Errc::kUnavailable);
  Add();
  auto chains = Chains(manager_->Map());
  std::vector<PlacementNode> nodes;
  for (int i = 1; i <= 5; ++i) nodes.push_back({NodeId(static_cast<uint64_t>(i)), "", true, 0});
  EXPECT_EQ(chains, ComputeChains(nodes, 256, 3));
  for (const PlacementStats& s : Stats(chains)) {
    EXPECT_NEAR(s.members, 153.6, 15.36);
    EXPECT_NEAR(s.heads, 51.2, 1.0);
  }
}

TEST_P(ClusterManagerTest, HeartbeatsDoNotBumpOrWrite) {
  OpenManager();
  NodeId a = Add();
  const uint64_t e = manager_->epoch();
  for (int i = 0; i < 20; ++i) {
    clock_.Advance(kSecond);
    HeartbeatInfo hb;
    hb.node_id = a;
    hb.capacity_bytes = 1000;
    hb.used_bytes = static_cast<uint64_t>(i);
    hb.load = 0.5;
    auto got = manager_->Heartbeat(hb);
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(*got, e);
    ASSERT_TRUE(manager_->Tick().ok());
  }
  EXPECT_EQ(manager_->epoch(), e);
  const proto::ClusterMap map = manager_->Map();
  EXPECT_EQ(map.nodes(0).used_bytes(), 19u);
  HeartbeatInfo unknown;
  unknown.node_id = NodeId(9);
  EXPECT_EQ(ErrcOf(manager_->Heartbeat(unknown).status()), Errc::kNotFound);
}

TEST_P(ClusterManagerTest, DetectionDownAndBack) {
  ClusterOptions o;
  o.bootstrap_nodes = 5;
  OpenManager(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Add());
  const auto before = Chains(manager_->Map());
  const uint64_t e0 = manager_->epoch();

  // Everyone but node 3 heartbeats; 5 s is the limit, not yet over it.
  auto beat_all_but = [&](NodeId skip) {
    for (NodeId id : ids)
      if (id != skip) Beat(id);
  };
  for (int i = 0; i < 5; ++i) {
    clock_.Advance(kSecond);
    beat_all_but(ids[2]);
    ASSERT_TRUE(manager_->Tick().ok());
  }
  EXPECT_EQ(manager_->epoch(), e0);
  EXPECT_EQ(StateOf(ids[2]), proto::NODE_UP);
  clock_.Advance(kSecond / 2);
  ASSERT_TRUE(manager_->Tick().ok());
  EXPECT_EQ(manager_->epoch(), e0 + 1);
  EXPECT_EQ(StateOf(ids[2]), proto::NODE_DOWN);
  ASSERT_TRUE(manager_->Tick().ok());
  EXPECT_EQ(manager_->epoch(), e0 + 1);  // no change, no bump

  // Only node 3's chains changed: they lost it, the rest kept their order.
  const auto down = Chains(manager_->Map());
  std::set<uint32_t> touched;
  for (uint32_t pg = 0; pg < 256; ++pg) {
    Chain expected = before[pg];
    auto it = std::find(expected.begin(), expected.end(), ids[2]);
    if (it != expected.end()) {
      expected.erase(it);
      touched.insert(pg);
    }
    EXPECT_EQ(down[pg], expected);
  }
  EXPECT_NEAR(touched.size(), 153, 16);

  // It heartbeats again: UP, back at the tail of the chains it left.
  Beat(ids[2]);
  EXPECT_EQ(manager_->epoch(), e0 + 2);
  EXPECT_EQ(StateOf(ids[2]), proto::NODE_UP);
  const auto back = Chains(manager_->Map());
  for (uint32_t pg = 0; pg < 256; ++pg) {
    Chain expected = down[pg];
    if (touched.count(pg)) expected.push_back(ids[2]);
    EXPECT_EQ(back[pg], expected);
  }
}

TEST_P(ClusterManagerTest, SeveralLateNodesAreOneChange) {
  ClusterOptions o;
  o.bootstrap_nodes = 4;
  OpenManager(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Add());
  const uint64_t e0 = manager_->epoch();
  const auto before = Chains(manager_->Map());
  clock_.Advance(6 * kSecond);
  Beat(ids[0]);
  Beat(ids[1]);
  ASSERT_TRUE(manager_->Tick().ok());
  EXPECT_EQ(manager_->epoch(), e0 + 1);
  EXPECT_EQ(StateOf(ids[2]), proto::NODE_DOWN);
  EXPECT_EQ(StateOf(ids[3]), proto::NODE_DOWN);
  // Chains shrink to their members among nodes 1 and 2; nothing moves in.
  const auto after = Chains(manager_->Map());
  for (size_t pg = 0; pg < after.size(); ++pg) {
    Chain expected;
    for (NodeId n : before[pg])
      if (n == ids[0] || n == ids[1]) expected.push_back(n);
    EXPECT_EQ(after[pg], expected);
    EXPECT_FALSE(after[pg].empty());  // 3 of 4 nodes always include 1 or 2
  }
  // All down: unavailable, with a clear message.
  clock_.Advance(6 * kSecond);
  ASSERT_TRUE(manager_->Tick().ok());
  EXPECT_EQ(ErrcOf(manager_->ChainFor(ChunkId{5, 5}).status()), Errc::kUnavailable);
  // Node 4 returns: it left before nodes 1 and 2 took the last writes, so
  // it rejoins every chain it left only as recovering, and the PGs stay
  // unavailable (nothing healthy to read or to copy from).
  Beat(ids[3]);
  EXPECT_EQ(ErrcOf(manager_->ChainFor(ChunkId{5, 5}).status()), Errc::kUnavailable);
  for (const auto& pg : MapNow().pgs()) {
    if (pg.nodes().empty()) continue;
    EXPECT_EQ(pg.recovering_size(), pg.nodes_size()) << pg.pg();
  }
  // Node 1 (a last holder) returns: healthy, at the head of its chains.
  Beat(ids[0]);
  for (const auto& pg : MapNow().pgs()) {
    const bool held =
        std::find(after[pg.pg()].begin(), after[pg.pg()].end(), ids[0]) != after[pg.pg()].end();
    if (!held) continue;
    ASSERT_FALSE(pg.nodes().empty());
    EXPECT_EQ(pg.nodes(0), ids[0].value()) << pg.pg();
    EXPECT_EQ(std::count(pg.recovering().begin(), pg.recovering().end(), ids[0].value()), 0);
  }
}

TEST_P(ClusterManagerTest, ReportNodeFailure) {
  ClusterOptions o;
  o.bootstrap_nodes = 3;
  OpenManager(o);
  std::vector<NodeId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Add());
  const uint64_t e0 = manager_->epoch();
  // Fresh heartbeat: a report alone does not mark it down.
  clock_.Advance(kSecond);
  for (NodeId id : ids) Beat(id);
  auto e = manager_->ReportNodeFailure(ids[1], "connect refused");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, e0);
  EXPECT_EQ(StateOf(ids[1]), proto::NODE_UP);
  // Report plus a missed heartbeat (late by more than report_grace): down now.
  clock_.Advance(2 * kSecond);
  Beat(ids[0]);
  Beat(ids[2]);
  e = manager_->ReportNodeFailure(ids[1], "connect refused");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, e0 + 1);
  EXPECT_EQ(StateOf(ids[1]), proto::NODE_DOWN);
  // Reporting it again changes nothing.
  EXPECT_EQ(*manager_->ReportNodeFailure(ids[1], "again"), e0 + 1);
  EXPECT_EQ(ErrcOf(manager_->ReportNodeFailure(NodeId(99), "x").status()), Errc::kNotFound);
}

TEST_P(ClusterManagerTest, PersistsAcrossReopenAndNeverReusesIds) {
  ClusterOptions o;
  o.pg_count = 64;
  o.bootstrap_nodes = 3;
  OpenManager(o);
  NodeId a = Add("z1"), b = Add("z2"), c = Add("z3");
  clock_.Advance(6 * kSecond);
  Beat(a);
  Beat(b);
  ASSERT_TRUE(manager_->Tick().ok());  // c is down
  const proto::ClusterMap map = manager_->Map();

  // Reopen with other options: the stored shape wins.
  o.pg_count = 128;
  o.replicas = 2;
  options_ = o;
  Reopen();
  EXPECT_EQ(manager_->pg_count(), 64u);
  EXPECT_EQ(manager_->replicas(), 3u);
  const proto::ClusterMap loaded = manager_->Map();
  EXPECT_EQ(loaded.epoch(), map.epoch());
  EXPECT_EQ(Chains(loaded), Chains(map));
  ASSERT_EQ(loaded.nodes_size(), 3);
  EXPECT_EQ(loaded.nodes(0).zone(), "z1");
  EXPECT_EQ(loaded.nodes(0).data_address(), "10.0.0.1:7000");
  EXPECT_EQ(StateOf(c), proto::NODE_DOWN);
  EXPECT_EQ(StateOf(a), proto::NODE_UP);

  // The next id continues after the stored ones.
  NodeId d = Add("z1");
  EXPECT_EQ(d, NodeId(4));
  // c comes back after the restart and rejoins the chains it left.
  Beat(c);
  for (const Chain& chain : Chains(manager_->Map())) {
    EXPECT_EQ(chain.size(), 3u);
    EXPECT_TRUE(std::count(chain.begin(), chain.end(), c));  // 3 zones, c is the only z3
  }
  const uint64_t e = manager_->epoch();
  Reopen();
  EXPECT_EQ(manager_->epoch(), e);
  EXPECT_EQ(Add(), NodeId(5));
}

TEST_P(ClusterManagerTest, BackgroundThreadDetects) {
  // Real time: a short down_after and tick.
  ClusterOptions o;
  o.down_after = absl::Milliseconds(200);
  o.tick_interval = absl::Milliseconds(20);
  auto m = ClusterManager::Open(store_.get(), Clock::Real(), o);
  ASSERT_TRUE(m.ok());
  RegisterInfo info;
  info.data_address = "127.0.0.1:7000";
  ASSERT_TRUE((*m)->Register(info).ok());
  (*m)->Start();
  (*m)->Start();  // idempotent
  auto state = [&] {
    const proto::ClusterMap map = (*m)->Map();
    return map.nodes(0).state();
  };
  for (int i = 0; i < 200 && state() == proto::NODE_UP; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(state(), proto::NODE_DOWN);
  (*m)->Stop();
  (*m)->Stop();
}

INSTANTIATE_TEST_SUITE_P(Stores, ClusterManagerTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cairn::cluster

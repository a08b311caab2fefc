// ClusterLink against an in-process Cluster service: registration (meta
// away at first, then appearing), heartbeats, map refreshes, the epoch
// check, and a meta that lost its state.
#include "chunkserver/cluster_link.h"

#include "chunkserver/test_meta.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

using testing::FreePort;
using testing::TestMeta;

constexpr absl::Duration kWait = absl::Seconds(10);

class ClusterLinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<ClusterLink> MakeLink(const std::string& meta, NodeId stored,
                                        const std::string& data = "127.0.0.1:7001",
                                        absl::Duration heartbeat = absl::Milliseconds(50)) {
    ClusterLinkOptions o;
    o.meta_address = meta;
    o.data_address = data;
    o.grpc_address = "127.0.0.1:7101";
    o.http_address = "127.0.0.1:7201";
    o.zone = "z1";
    o.heartbeat_interval = heartbeat;
    o.rpc_timeout = absl::Seconds(2);
    o.retry_min = absl::Milliseconds(20);
    o.retry_max = absl::Milliseconds(200);
    return std::make_unique<ClusterLink>(
        o, stored,
        [this]() -> absl::StatusOr<NodeUsage> {
          NodeUsage u;
          u.stats.capacity_bytes = 1 << 30;
          u.stats.available_bytes = 1 << 29;
          u.stats.chunk_count = chunks_.load();
          u.stats.chunk_bytes = 1000 * chunks_.load();
          u.load = 2;
          return u;
        },
        [this](NodeId id) {
          persisted_.push_back(id);
          return absl::OkStatus();
        });
  }

  std::atomic<uint64_t> chunks_{0};
  std::vector<NodeId> persisted_;  // written on the link's thread, read after WaitRegistered
};

TEST_F(ClusterLinkTest, RegistersPersistsTheIdAndHeartbeats) {
  TestMeta meta;
  meta.Start();
  auto link = MakeLink(meta.address(), NodeId());
  link->Start();
  ASSERT_TRUE(link->WaitRegistered(kWait)) << link->last_error();
  EXPECT_EQ(link->node_id(), NodeId(1));
  EXPECT_EQ(persisted_, std::vector<NodeId>{NodeId(1)});
  EXPECT_EQ(link->epoch(), meta.manager()->epoch());
  ASSERT_NE(link->map(), nullptr);
  EXPECT_EQ(link->map()->pgs_size(), 16);
  // Heartbeats carry usage and load.
  const absl::Time deadline = absl::Now() + kWait;
  while (link->heartbeats() < 3 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_GE(link->heartbeats(), 3u);
  proto::ClusterMap map = meta.manager()->Map();
  ASSERT_EQ(map.nodes_size(), 1);
  EXPECT_EQ(map.nodes(0).data_address(), "127.0.0.1:7001");
  EXPECT_EQ(map.nodes(0).zone(), "z1");
  EXPECT_EQ(map.nodes(0).capacity_bytes(), uint64_t{1} << 30);
  EXPECT_EQ(map.nodes(0).available_bytes(), uint64_t{1} << 29);
  EXPECT_GT(map.nodes(0).last_heartbeat_ns(), 0);
  EXPECT_DOUBLE_EQ(map.nodes(0).load(), 2);
  link->Stop();
}

TEST_F(ClusterLinkTest, KnownIdRegistersAsItself) {
  TestMeta meta;
  meta.Start();
  auto first = MakeLink(meta.address(), NodeId());
  first->Start();
  ASSERT_TRUE(first->WaitRegistered(kWait));
  first->Stop();
  auto again = MakeLink(meta.address(), NodeId(1));
  again->Start();
  ASSERT_TRUE(again->WaitRegistered(kWait));
  EXPECT_EQ(again->node_id(), NodeId(1));
  EXPECT_EQ(persisted_.size(), 1u);  // only the first registration stored an id
  EXPECT_EQ(meta.manager()->Map().nodes_size(), 1);
}

TEST_F(ClusterLinkTest, RetriesUntilMetaAppears) {
  const int port = FreePort();
  ASSERT_GT(port, 0);
  auto link = MakeLink("127.0.0.1:" + std::to_string(port), NodeId());
  link->Start();
  EXPECT_FALSE(link->WaitRegistered(absl::Milliseconds(400)));
  EXPECT_FALSE(link->last_error().empty());
  EXPECT_EQ(link->epoch(), 0u);
  // No map yet: every epoch is accepted.
  EXPECT_TRUE(link->CheckEpoch(5).ok());
  TestMeta meta;
  meta.Start(port);
  ASSERT_TRUE(link->WaitRegistered(kWait)) << link->last_error();
  EXPECT_EQ(link->node_id(), NodeId(1));
  EXPECT_TRUE(link->last_error().empty()) << link->last_error();
  link->Stop();
}

TEST_F(ClusterLinkTest, FollowsTheEpochThroughHeartbeats) {
  TestMeta meta;
  meta.Start();
  auto a = MakeLink(meta.address(), NodeId(), "127.0.0.1:7001");
  a->Start();
  ASSERT_TRUE(a->WaitRegistered(kWait));
  const uint64_t before = a->epoch();
  // Another node joins: the epoch moves and A's heartbeat finds out.
  auto b = MakeLink(meta.address(), NodeId(), "127.0.0.1:7002");
  b->Start();
  ASSERT_TRUE(b->WaitRegistered(kWait));
  EXPECT_GT(meta.manager()->epoch(), before);
  ASSERT_TRUE(a->WaitEpoch(meta.manager()->epoch(), kWait));
  EXPECT_EQ(a->map()->nodes_size(), 2);
  EXPECT_GE(a->map_fetches(), 1u);
}

TEST_F(ClusterLinkTest, EpochCheck) {
  TestMeta meta;
  meta.Start();
  // Heartbeats far apart: only the epoch check can trigger the fetch.
  auto a = MakeLink(meta.address(), NodeId(), "127.0.0.1:7001", absl::Seconds(60));
  a->Start();
  ASSERT_TRUE(a->WaitRegistered(kWait));
  const uint64_t e = a->epoch();
  ASSERT_GE(e, 2u);
  EXPECT_TRUE(a->CheckEpoch(0).ok());  // tools
  EXPECT_TRUE(a->CheckEpoch(e).ok());
  absl::Status stale = a->CheckEpoch(e - 1);
  EXPECT_EQ(ErrcOf(stale), Errc::kStaleEpoch) << stale;

  cluster::RegisterInfo other;
  other.data_address = "127.0.0.1:7009";
  ASSERT_TRUE(meta.manager()->Register(other).ok());
  const uint64_t newer = meta.manager()->epoch();
  ASSERT_GT(newer, e);
  // A request from a client with the newer map is accepted and makes the
  // server fetch it (long before the next heartbeat).
  EXPECT_TRUE(a->CheckEpoch(newer).ok());
  ASSERT_TRUE(a->WaitEpoch(newer, absl::Seconds(5)));
  EXPECT_EQ(ErrcOf(a->CheckEpoch(e)), Errc::kStaleEpoch);
  // An epoch meta never had is accepted but fetches nothing more.
  EXPECT_TRUE(a->CheckEpoch(newer + 100).ok());
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(a->epoch(), newer);
}

// Node 1 is someone else; the link under test becomes node 2.
void RegisterOther(cluster::ClusterManager* manager) {
  cluster::RegisterInfo other;
  other.data_address = "127.0.0.1:7009";
  ASSERT_TRUE(manager->Register(other).ok());
}

TEST_F(ClusterLinkTest, MetaThatLostItsStateAndAnEmptyNode) {
  TestMeta meta;
  meta.Start();
  RegisterOther(meta.manager());
  auto a = MakeLink(meta.address(), NodeId());
  a->Start();
  ASSERT_TRUE(a->WaitRegistered(kWait));
  ASSERT_EQ(a->node_id(), NodeId(2));
  // Meta comes back with an empty store: node 2 is unknown. The node holds
  // no chunks, so it registers as a new node and stores the new id.
  meta.Stop();
  meta.Start(0, /*fresh_store=*/true);
  const absl::Time deadline = absl::Now() + kWait;
  while (a->node_id() != NodeId(1) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(a->node_id(), NodeId(1));
  ASSERT_TRUE(a->WaitRegistered(kWait));
  a->Stop();
  EXPECT_EQ(persisted_, (std::vector<NodeId>{NodeId(2), NodeId(1)}));
  EXPECT_EQ(meta.manager()->Map().nodes_size(), 1);
}

TEST_F(ClusterLinkTest, MetaThatLostItsStateAndANodeWithChunks) {
  TestMeta meta;
  meta.Start();
  RegisterOther(meta.manager());
  auto a = MakeLink(meta.address(), NodeId());
  a->Start();
  ASSERT_TRUE(a->WaitRegistered(kWait));
  ASSERT_EQ(a->node_id(), NodeId(2));
  chunks_ = 3;
  meta.Stop();
  meta.Start(0, /*fresh_store=*/true);
  // It stops counting as registered and refuses to take a new identity.
  const absl::Time deadline = absl::Now() + kWait;
  while (a->registered() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_FALSE(a->registered());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_FALSE(a->registered());
  EXPECT_EQ(a->node_id(), NodeId(2));
  EXPECT_NE(a->last_error().find("does not know node 2"), std::string::npos) << a->last_error();
  EXPECT_EQ(meta.manager()->Map().nodes_size(), 0);
  a->Stop();
}

}  // namespace
}  // namespace cairn::chunkserver

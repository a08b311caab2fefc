// MapSnapshot's chains: which members a write goes to and which a read may
// use, with recovering members and with no healthy member at all.
#include "client/cluster_map.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace cairn::client {
namespace {

// One PG whose chain is `nodes`, of which `recovering` are catching up.
std::shared_ptr<const MapSnapshot> OnePg(const std::vector<uint64_t>& nodes,
                                         const std::vector<uint64_t>& recovering) {
  proto::ClusterMap map;
  map.set_epoch(7);
  map.set_pg_count(1);
  map.set_replicas(3);
  for (uint64_t id = 1; id <= 5; ++id) {
    proto::NodeInfo* n = map.add_nodes();
    n->set_id(id);
    n->set_state(proto::NODE_UP);
    n->set_data_address("127.0.0.1:" + std::to_string(9000 + id));
  }
  proto::PgChain* pg = map.add_pgs();
  pg->set_pg(0);
  for (uint64_t n : nodes) pg->add_nodes(n);
  for (uint64_t n : recovering) pg->add_recovering(n);
  auto snap = MapSnapshot::Build(std::move(map));
  EXPECT_TRUE(snap.ok()) << snap.status();
  return snap.ok() ? *snap : nullptr;
}

std::vector<uint64_t> Ids(const std::vector<Replica>& chain) {
  std::vector<uint64_t> out;
  for (const Replica& r : chain) out.push_back(r.node.value());
  return out;
}

const ChunkId kId{1, 2};

TEST(MapSnapshotTest, WritesGoToHealthyMembersAndEveryRecoveringOne) {
  auto map = OnePg({1, 2, 3, 4}, {4});
  ASSERT_NE(map, nullptr);
  EXPECT_EQ(Ids(map->WriteChain(kId, 3)), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(Ids(map->WriteChain(kId, 2)), (std::vector<uint64_t>{1, 2, 4}));
  EXPECT_EQ(Ids(map->ReadChain(kId)), (std::vector<uint64_t>{1, 2, 3}));
}

TEST(MapSnapshotTest, NoWriteWhenEveryMemberIsRecovering) {
  // Acknowledged by recovering members only, the write would be missing
  // on the holders when they come back.
  auto map = OnePg({4, 5}, {4, 5});
  ASSERT_NE(map, nullptr);
  EXPECT_TRUE(map->WriteChain(kId, 3).empty());
  EXPECT_TRUE(map->ReadChain(kId).empty());
}

}  // namespace
}  // namespace cairn::client

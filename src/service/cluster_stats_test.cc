// Summarize: PG health and the recovery's bytes left, from maps built here.
#include "service/cluster_stats.h"

#include <initializer_list>

#include "gtest/gtest.h"

namespace cairn::service {
namespace {

constexpr uint64_t kMiB = 1 << 20;

proto::NodeInfo* AddNode(proto::ClusterMap& map, uint64_t id, uint64_t used,
                         proto::NodeState state = proto::NODE_UP) {
  proto::NodeInfo* n = map.add_nodes();
  n->set_id(id);
  n->set_state(state);
  n->set_capacity_bytes(1000 * kMiB);
  n->set_used_bytes(used);
  return n;
}

proto::PgChain* AddPg(proto::ClusterMap& map, std::initializer_list<uint64_t> nodes,
                      std::initializer_list<uint64_t> recovering = {}) {
  proto::PgChain* c = map.add_pgs();
  c->set_pg(static_cast<uint32_t>(map.pgs_size() - 1));
  for (uint64_t id : nodes) c->add_nodes(id);
  for (uint64_t id : recovering) c->add_recovering(id);
  return c;
}

void Report(proto::NodeInfo* n, uint32_t pg, uint64_t done, uint64_t total) {
  proto::PgProgress* p = n->add_recovery();
  p->set_pg(pg);
  p->set_bytes_done(done);
  p->set_bytes_total(total);
}

// Four PGs over nodes 1-3 (R = 2); node 3 holds nothing yet. Healthy
// memberships: 8 (two per PG), on nodes 1 and 2 holding 400 MiB each, so
// one PG copy is estimated at 100 MiB.
proto::ClusterMap FourPgs() {
  proto::ClusterMap map;
  map.set_epoch(7);
  map.set_pg_count(4);
  map.set_replicas(2);
  AddNode(map, 1, 400 * kMiB);
  AddNode(map, 2, 400 * kMiB);
  AddNode(map, 3, 0);
  for (int i = 0; i < 4; ++i) AddPg(map, {1, 2});
  return map;
}

TEST(ClusterStatsTest, NoRecoveryIsZero) {
  ClusterStats s = Summarize(FourPgs());
  EXPECT_EQ(s.pgs_by_state[static_cast<size_t>(PgState::kHealthy)], 4u);
  EXPECT_EQ(s.recovery_bytes_left, 0u);
  EXPECT_EQ(s.recovery_bytes_total, 0u);
  EXPECT_EQ(s.recovery_pgs_estimated, 0u);
  EXPECT_EQ(s.pg_bytes_estimate, 100 * kMiB);
  for (const PgHealth& h : s.pgs) {
    EXPECT_EQ(h.bytes_left, 0u);
    EXPECT_EQ(h.estimated, 0u);
  }
}

TEST(ClusterStatsTest, ReportedPgsCountExactly) {
  proto::ClusterMap map = FourPgs();
  map.mutable_pgs(0)->add_nodes(3);
  map.mutable_pgs(0)->add_recovering(3);
  map.mutable_pgs(2)->add_nodes(3);
  map.mutable_pgs(2)->add_recovering(3);
  Report(map.mutable_nodes(2), 0, 30 * kMiB, 90 * kMiB);
  Report(map.mutable_nodes(2), 2, 0, 10 * kMiB);
  ClusterStats s = Summarize(map);
  EXPECT_EQ(s.pgs_by_state[static_cast<size_t>(PgState::kRecovering)], 2u);
  EXPECT_EQ(s.recovery_bytes_left, 60 * kMiB + 10 * kMiB);
  EXPECT_EQ(s.recovery_bytes_total, 100 * kMiB);
  EXPECT_EQ(s.recovery_pgs_estimated, 0u);
  EXPECT_EQ(s.pgs[0].bytes_left, 60 * kMiB);
  EXPECT_EQ(s.pgs[0].estimated, 0u);
  EXPECT_EQ(s.pgs[1].bytes_left, 0u);
  EXPECT_EQ(s.pgs[2].bytes_left, 10 * kMiB);
}

// Node 3 recovers PGs 0 and 1 but its backfill has listed only PG 0: PG 1
// counts one estimated copy instead of nothing.
TEST(ClusterStatsTest, RecoveringPgNotListedYetIsEstimated) {
  proto::ClusterMap map = FourPgs();
  for (int pg : {0, 1}) {
    map.mutable_pgs(pg)->add_nodes(3);
    map.mutable_pgs(pg)->add_recovering(3);
  }
  Report(map.mutable_nodes(2), 0, 20 * kMiB, 90 * kMiB);
  // The 20 MiB node 3 copied are a partial copy: not in the estimate.
  map.mutable_nodes(2)->set_used_bytes(20 * kMiB);
  ClusterStats s = Summarize(map);
  EXPECT_EQ(s.pg_bytes_estimate, 100 * kMiB);
  EXPECT_EQ(s.recovery_pgs_estimated, 1u);
  EXPECT_EQ(s.pgs[0].bytes_left, 70 * kMiB);
  EXPECT_EQ(s.pgs[0].estimated, 0u);
  EXPECT_EQ(s.pgs[1].bytes_left, 100 * kMiB);
  EXPECT_EQ(s.pgs[1].bytes_total, 100 * kMiB);
  EXPECT_EQ(s.pgs[1].estimated, 1u);
  EXPECT_EQ(s.recovery_bytes_left, 170 * kMiB);
  EXPECT_EQ(s.recovery_bytes_total, 190 * kMiB);
  // Done (total - left) counts only reported copying, so the rate that
  // admin status measures between two samples is not inflated.
  EXPECT_EQ(s.recovery_bytes_total - s.recovery_bytes_left, 20 * kMiB);
}

// A node lost: its memberships and bytes leave the estimate alike, so a
// copy is still estimated at the survivors' mean. A DOWN node's used
// bytes (stale) do not count, nor do those of a drained node that is in
// no chain any more (extra copies).
TEST(ClusterStatsTest, EstimateUsesNodesWithHealthyCopiesOnly) {
  proto::ClusterMap map;
  map.set_pg_count(2);
  map.set_replicas(2);
  AddNode(map, 1, 200 * kMiB);
  AddNode(map, 2, 500 * kMiB, proto::NODE_DOWN);
  AddNode(map, 3, 0);
  AddNode(map, 4, 300 * kMiB, proto::NODE_DRAINING);
  AddPg(map, {1, 3}, {3});
  AddPg(map, {1, 3}, {3});
  ClusterStats s = Summarize(map);
  EXPECT_EQ(s.pg_bytes_estimate, 100 * kMiB);
  EXPECT_EQ(s.recovery_pgs_estimated, 2u);
  EXPECT_EQ(s.recovery_bytes_left, 200 * kMiB);
}

// Nothing to estimate from (no healthy copy anywhere): 0, never a division
// by zero; the pair still counts as estimated.
TEST(ClusterStatsTest, NoHealthyCopyEstimatesZero) {
  proto::ClusterMap map;
  map.set_pg_count(1);
  map.set_replicas(2);
  AddNode(map, 3, 0);
  AddPg(map, {3}, {3});
  ClusterStats s = Summarize(map);
  EXPECT_EQ(s.pg_bytes_estimate, 0u);
  EXPECT_EQ(s.recovery_bytes_left, 0u);
  EXPECT_EQ(s.recovery_pgs_estimated, 1u);
  EXPECT_EQ(s.pgs[0].state, PgState::kUnavailable);
}

}  // namespace
}  // namespace cairn::service

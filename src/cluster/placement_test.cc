#include "cluster/placement.h"

#include <map>
#include <set>

#include "gtest/gtest.h"

namespace cairn::cluster {
namespace {

std::vector<PlacementNode> Nodes(int n, int zones = 0) {
  std::vector<PlacementNode> out;
  for (int i = 1; i <= n; ++i) {
    PlacementNode p;
    p.id = NodeId(static_cast<uint64_t>(i));
    if (zones > 0) p.zone = "z" + std::to_string((i - 1) % zones);
    out.push_back(p);
  }
  return out;
}

void ExpectDistinct(const std::vector<Chain>& chains) {
  for (const Chain& c : chains) {
    std::set<NodeId> s(c.begin(), c.end());
    EXPECT_EQ(s.size(), c.size());
  }
}

TEST(PlacementTest, PgOfIsStableAndInRange) {
  ChunkId id{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
  EXPECT_EQ(PgOf(id, 256), PgOf(id, 256));
  std::map<uint32_t, int> hist;
  for (int i = 0; i < 25600; ++i) {
    PgId pg = PgOf(ChunkId::Random(), 256);
    ASSERT_LT(pg.value(), 256u);
    ++hist[pg.value()];
  }
  EXPECT_EQ(hist.size(), 256u);
  for (const auto& [pg, n] : hist) EXPECT_GT(n, 40) << pg;  // mean 100
  // Independent of the seed-0 hash the chunk store uses.
  EXPECT_NE(id.Hash(kPgHashSeed), id.Hash(0));
}

TEST(PlacementTest, FiveNodesBalanced) {
  auto chains = ComputeChains(Nodes(5), 256, 3);
  ASSERT_EQ(chains.size(), 256u);
  ExpectDistinct(chains);
  for (const Chain& c : chains) EXPECT_EQ(c.size(), 3u);
  auto stats = Stats(chains);
  ASSERT_EQ(stats.size(), 5u);
  const double mean_members = 256.0 * 3 / 5, mean_heads = 256.0 / 5;
  for (const PlacementStats& s : stats) {
    EXPECT_NEAR(s.members, mean_members, mean_members * 0.02) << s.node.value();
    EXPECT_NEAR(s.heads, mean_heads, 1.0) << s.node.value();
  }
}

TEST(PlacementTest, ManyShapesBalanced) {
  for (int n : {1, 2, 3, 4, 7, 10, 16}) {
    for (uint32_t r : {1u, 2u, 3u}) {
      auto chains = ComputeChains(Nodes(n), 256, r);
      ExpectDistinct(chains);
      const size_t len = std::min<size_t>(r, n);
      for (const Chain& c : chains) ASSERT_EQ(c.size(), len);
      const double mean = 256.0 * len / n, mean_heads = 256.0 / n;
      for (const PlacementStats& s : Stats(chains)) {
        EXPECT_LE(std::abs(s.members - mean), std::max(2.0, mean * 0.05)) << n << " " << r;
        EXPECT_LE(std::abs(s.heads - mean_heads), 1.0) << n << " " << r;
      }
    }
  }
}

TEST(PlacementTest, NoUpNodesGivesEmptyChains) {
  auto nodes = Nodes(3);
  for (auto& n : nodes) n.up = false;
  auto chains = ComputeChains(nodes, 16, 3);
  ASSERT_EQ(chains.size(), 16u);
  for (const Chain& c : chains) EXPECT_TRUE(c.empty());
}

TEST(PlacementTest, DownNodesAreNotPlaced) {
  auto nodes = Nodes(5);
  nodes[2].up = false;
  for (const Chain& c : ComputeChains(nodes, 64, 3)) {
    for (NodeId id : c) EXPECT_NE(id, NodeId(3));
  }
}

TEST(PlacementTest, ZonesRespected) {
  auto nodes = Nodes(6, 3);  // 3 zones x 2 nodes
  std::map<NodeId, std::string> zone;
  for (const auto& n : nodes) zone[n.id] = n.zone;
  auto chains = ComputeChains(nodes, 256, 3);
  ExpectDistinct(chains);
  for (const Chain& c : chains) {
    std::set<std::string> zs;
    for (NodeId id : c) zs.insert(zone[id]);
    EXPECT_EQ(zs.size(), 3u);
  }
  for (const PlacementStats& s : Stats(chains)) {
    EXPECT_NEAR(s.members, 128, 3);
    EXPECT_NEAR(s.heads, 256.0 / 6, 1.0);
  }
}

TEST(PlacementTest, FewerZonesThanReplicasStillFillsChains) {
  auto chains = ComputeChains(Nodes(4, 2), 64, 3);
  for (const Chain& c : chains) EXPECT_EQ(c.size(), 3u);
  ExpectDistinct(chains);
}

TEST(PlacementTest, CapacityWeighted) {
  auto nodes = Nodes(4);
  nodes[0].capacity = 2000;  // twice the others
  for (size_t i = 1; i < 4; ++i) nodes[i].capacity = 1000;
  auto chains = ComputeChains(nodes, 250, 2);
  for (const PlacementStats& s : Stats(chains)) {
    // Shares 2:1:1:1 of 500 memberships: 200, 100, 100, 100.
    EXPECT_NEAR(s.members, s.node == NodeId(1) ? 200 : 100, 3) << s.node.value();
    EXPECT_NEAR(s.heads, s.node == NodeId(1) ? 100 : 50, 3) << s.node.value();
  }
  // A zero capacity anywhere means equal weights.
  nodes[3].capacity = 0;
  for (const PlacementStats& s : Stats(ComputeChains(nodes, 250, 2))) {
    EXPECT_NEAR(s.members, 125, 2);
  }
}

TEST(PlacementTest, Deterministic) {
  auto a = Nodes(7, 3);
  auto b = a;
  std::reverse(b.begin(), b.end());  // input order does not matter
  EXPECT_EQ(ComputeChains(a, 256, 3), ComputeChains(b, 256, 3));
}

TEST(PlacementTest, RemoveNodeOnlyTouchesItsChains) {
  auto before = ComputeChains(Nodes(5), 256, 3);
  auto after = before;
  auto left = RemoveNode(after, NodeId(2));
  EXPECT_FALSE(left.empty());
  std::set<uint32_t> left_set(left.begin(), left.end());
  for (uint32_t pg = 0; pg < 256; ++pg) {
    if (left_set.count(pg)) {
      Chain expected = before[pg];
      expected.erase(std::find(expected.begin(), expected.end(), NodeId(2)));
      EXPECT_EQ(after[pg], expected);  // order of the others kept
    } else {
      EXPECT_EQ(after[pg], before[pg]);
    }
  }
}

TEST(PlacementTest, AddNodeRestoresWhatItLeft) {
  auto nodes = Nodes(5);
  auto before = ComputeChains(nodes, 256, 3);
  auto chains = before;
  auto left = RemoveNode(chains, NodeId(4));
  auto down = chains;
  auto joined = AddNode(chains, nodes, NodeId(4), 3, left);
  EXPECT_EQ(joined, left);
  for (uint32_t pg = 0; pg < 256; ++pg) {
    if (std::count(left.begin(), left.end(), pg)) {
      Chain expected = down[pg];
      expected.push_back(NodeId(4));  // back at the tail: the others keep their places
      EXPECT_EQ(chains[pg], expected);
    } else {
      EXPECT_EQ(chains[pg], before[pg]);
    }
  }
}

TEST(PlacementTest, NewNodeOnlyFillsShortChains) {
  auto nodes = Nodes(5);
  auto chains = ComputeChains(nodes, 256, 3);
  auto full = chains;
  nodes.push_back(PlacementNode{NodeId(6), "", true, 0});
  EXPECT_TRUE(AddNode(chains, nodes, NodeId(6), 3).empty());
  EXPECT_EQ(chains, full);

  // Two nodes, R=3: every chain is short; a third joins them all at the tail.
  auto two = Nodes(3);
  auto small = ComputeChains({two[0], two[1]}, 32, 3);
  auto joined = AddNode(small, two, NodeId(3), 3);
  EXPECT_EQ(joined.size(), 32u);
  for (const Chain& c : small) {
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(c.back(), NodeId(3));
  }
}

TEST(PlacementTest, AddNodeKeepsZoneSpread) {
  auto nodes = Nodes(6, 3);  // node 1 is in z0, node 2 in z1, ...
  auto chains = ComputeChains(nodes, 128, 3);
  // Node 1 (z0) goes down: its chains keep one z1 and one z2 member.
  auto left = RemoveNode(chains, NodeId(1));
  auto down = chains;
  // A new z1 node joins: the short chains already hold z1, and z0 can
  // fill them (3 zones >= 3 replicas), so it joins none.
  nodes.push_back(PlacementNode{NodeId(7), "z1", true, 0});
  EXPECT_TRUE(AddNode(chains, nodes, NodeId(7), 3).empty());
  EXPECT_EQ(chains, down);
  // Node 1 comes back: it rejoins exactly the chains it left.
  EXPECT_EQ(AddNode(chains, nodes, NodeId(1), 3, left), left);
  for (uint32_t pg : left) EXPECT_EQ(chains[pg].back(), NodeId(1));
  // A new z0 node now finds no short chain.
  nodes.push_back(PlacementNode{NodeId(8), "z0", true, 0});
  EXPECT_TRUE(AddNode(chains, nodes, NodeId(8), 3).empty());
}

}  // namespace
}  // namespace cairn::cluster

#include "cluster/placement.h"
#include "common/hash.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace cairn::cluster {
namespace {

bool Contains(const Chain& chain, NodeId node) {
  return std::find(chain.begin(), chain.end(), node) != chain.end();
}

}  // namespace

PgId PgOf(const ChunkId& id, uint32_t pg_count) {
  return PgId(static_cast<uint32_t>(id.Hash(kPgHashSeed) % pg_count));
}

std::vector<Chain> ComputeChains(const std::vector<PlacementNode>& nodes, uint32_t pg_count,
                                 uint32_t replicas) {
  std::vector<PlacementNode> up;
  for (const PlacementNode& n : nodes)
    if (n.up) up.push_back(n);
  std::sort(up.begin(), up.end(),
            [](const PlacementNode& a, const PlacementNode& b) { return a.id < b.id; });
  std::vector<Chain> chains(pg_count);
  const size_t len = std::min<size_t>(replicas, up.size());
  if (len == 0) return chains;

  const bool weighted =
      std::all_of(up.begin(), up.end(), [](const PlacementNode& n) { return n.capacity > 0; });
  const bool zoned =
      std::any_of(up.begin(), up.end(), [](const PlacementNode& n) { return !n.zone.empty(); });
  std::vector<double> weight(up.size(), 1.0);
  if (weighted) {
    // Relative to the largest, so the numbers stay near 1.
    uint64_t max_cap = 0;
    for (const PlacementNode& n : up) max_cap = std::max(max_cap, n.capacity);
    for (size_t i = 0; i < up.size(); ++i)
      weight[i] = static_cast<double>(up[i].capacity) / static_cast<double>(max_cap);
  }
  std::vector<uint32_t> members(up.size(), 0), heads(up.size(), 0);
  std::vector<bool> in_chain(up.size(), false);

  for (uint32_t pg = 0; pg < pg_count; ++pg) {
    Chain& chain = chains[pg];
    std::set<std::string> zones;
    std::fill(in_chain.begin(), in_chain.end(), false);
    for (size_t pos = 0; pos < len; ++pos) {
      size_t best = up.size();
      std::tuple<bool, double, double, uint64_t, uint64_t> best_key;
      for (size_t i = 0; i < up.size(); ++i) {
        if (in_chain[i]) continue;
        auto key = std::make_tuple(
            zoned && zones.count(up[i].zone) > 0, pos == 0 ? (heads[i] + 1) / weight[i] : 0.0,
            (members[i] + 1) / weight[i], Mix64(Mix64(pg) ^ up[i].id.value()), up[i].id.value());
        if (best == up.size() || key < best_key) {
          best = i;
          best_key = key;
        }
      }
      in_chain[best] = true;
      zones.insert(up[best].zone);
      chain.push_back(up[best].id);
      ++members[best];
      if (pos == 0) ++heads[best];
    }
  }
  return chains;
}

std::vector<uint32_t> RemoveNode(std::vector<Chain>& chains, NodeId node) {
  std::vector<uint32_t> left;
  for (uint32_t pg = 0; pg < chains.size(); ++pg) {
    auto it = std::find(chains[pg].begin(), chains[pg].end(), node);
    if (it == chains[pg].end()) continue;
    chains[pg].erase(it);
    left.push_back(pg);
  }
  return left;
}

std::vector<uint32_t> AddNode(std::vector<Chain>& chains, const std::vector<PlacementNode>& nodes,
                              NodeId node, uint32_t replicas,
                              const std::vector<uint32_t>& preferred) {
  std::map<NodeId, std::string> zone_of;
  std::set<std::string> all_zones;
  for (const PlacementNode& n : nodes) {
    zone_of[n.id] = n.zone;
    if (!n.zone.empty()) all_zones.insert(n.zone);
  }
  const std::string zone = zone_of.count(node) ? zone_of[node] : std::string();
  const bool keep_spread = !zone.empty() && all_zones.size() >= replicas;

  std::vector<uint32_t> joined;
  auto try_join = [&](uint32_t pg) {
    if (pg >= chains.size()) return;
    Chain& chain = chains[pg];
    if (chain.size() >= replicas || Contains(chain, node)) return;
    if (keep_spread) {
      for (NodeId m : chain) {
        auto it = zone_of.find(m);
        if (it != zone_of.end() && it->second == zone) return;
      }
    }
    chain.push_back(node);
    joined.push_back(pg);
  };
  for (uint32_t pg : preferred) try_join(pg);
  for (uint32_t pg = 0; pg < chains.size(); ++pg) try_join(pg);
  std::sort(joined.begin(), joined.end());
  return joined;
}

NodeId PickMember(const std::vector<Chain>& chains, const std::vector<PlacementNode>& nodes,
                  uint32_t pg, const std::vector<NodeId>& exclude) {
  if (pg >= chains.size()) return NodeId();
  const Chain& chain = chains[pg];
  std::map<NodeId, uint32_t> members;
  for (const Chain& c : chains)
    for (NodeId n : c) ++members[n];
  std::map<NodeId, std::string> zone_of;
  uint64_t max_cap = 0;
  bool weighted = true, zoned = false;
  for (const PlacementNode& n : nodes) {
    zone_of[n.id] = n.zone;
    if (!n.up) continue;
    max_cap = std::max(max_cap, n.capacity);
    weighted = weighted && n.capacity > 0;
    zoned = zoned || !n.zone.empty();
  }
  std::set<std::string> zones;
  for (NodeId m : chain) zones.insert(zone_of[m]);
  NodeId best;
  std::tuple<bool, double, uint64_t, uint64_t> best_key;
  for (const PlacementNode& n : nodes) {
    if (!n.up || Contains(chain, n.id) ||
        std::find(exclude.begin(), exclude.end(), n.id) != exclude.end()) {
      continue;
    }
    const double weight = weighted && max_cap > 0
                              ? static_cast<double>(n.capacity) / static_cast<double>(max_cap)
                              : 1.0;
    auto key = std::make_tuple(zoned && zones.count(n.zone) > 0, (members[n.id] + 1) / weight,
                               Mix64(Mix64(pg) ^ n.id.value()), n.id.value());
    if (!best.valid() || key < best_key) {
      best = n.id;
      best_key = key;
    }
  }
  return best;
}

std::vector<PlacementStats> Stats(const std::vector<Chain>& chains) {
  std::map<NodeId, PlacementStats> by_node;
  for (const Chain& chain : chains) {
    for (size_t i = 0; i < chain.size(); ++i) {
      PlacementStats& s = by_node[chain[i]];
      s.node = chain[i];
      ++s.members;
      if (i == 0) ++s.heads;
    }
  }
  std::vector<PlacementStats> out;
  for (const auto& [id, s] : by_node) out.push_back(s);
  return out;
}

}  // namespace cairn::cluster

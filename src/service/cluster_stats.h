// ClusterStats: what meta reports about the cluster map outside the
// Cluster service: the capacity statfs shows and the /metrics gauges.
//
// A pure function of one map snapshot (ClusterManager::Map()); thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "cluster.pb.h"

namespace cairn::service {

struct ClusterStats {
  uint64_t epoch = 0;
  // Registered nodes by state, indexed by proto::NodeState (0..4).
  std::array<uint64_t, 5> nodes_by_state{};
  // PGs whose chain is shorter than the map's replicas, and those with no
  // member at all (nothing can be written there).
  uint64_t pgs_degraded = 0;
  uint64_t pgs_unavailable = 0;
  // UP nodes that reported a capacity (registration or heartbeat), and the
  // sums of their capacity and available bytes.
  uint64_t reporting_nodes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t available_bytes = 0;
};

ClusterStats Summarize(const proto::ClusterMap& map);

}  // namespace cairn::service

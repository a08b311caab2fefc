#include "service/cluster_stats.h"

namespace cairn::service {

ClusterStats Summarize(const proto::ClusterMap& map) {
  ClusterStats s;
  s.epoch = map.epoch();
  for (const proto::NodeInfo& node : map.nodes()) {
    const auto state = static_cast<size_t>(node.state());
    if (state < s.nodes_by_state.size()) s.nodes_by_state[state]++;
    if (node.state() == proto::NODE_UP && node.capacity_bytes() > 0) {
      s.reporting_nodes++;
      s.capacity_bytes += node.capacity_bytes();
      s.available_bytes += node.available_bytes();
    }
  }
  for (const proto::PgChain& pg : map.pgs()) {
    if (static_cast<uint32_t>(pg.nodes_size()) < map.replicas()) s.pgs_degraded++;
    if (pg.nodes_size() == 0) s.pgs_unavailable++;
  }
  return s;
}

}  // namespace cairn::service

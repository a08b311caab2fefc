#include "service/cluster_stats.h"

#include <algorithm>
#include <map>
#include <utility>

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
  std::map<uint64_t, const proto::NodeInfo*> by_id;
  std::map<std::pair<uint32_t, uint64_t>, const proto::PgProgress*> progress;
  for (const proto::NodeInfo& node : map.nodes()) {
    by_id[node.id()] = &node;
    for (const proto::PgProgress& p : node.recovery()) progress[{p.pg(), node.id()}] = &p;
  }
  for (const proto::PgChain& pg : map.pgs()) {
    if (static_cast<uint32_t>(pg.nodes_size()) < map.replicas()) s.pgs_degraded++;
    if (pg.nodes_size() == 0) s.pgs_unavailable++;
    PgHealth h;
    h.pg = pg.pg();
    for (uint64_t id : pg.nodes()) {
      const bool rec =
          std::find(pg.recovering().begin(), pg.recovering().end(), id) != pg.recovering().end();
      if (rec) {
        ++h.recovering;
        auto it = progress.find({pg.pg(), id});
        if (it != progress.end()) {
          h.bytes_total += it->second->bytes_total();
          h.bytes_left += it->second->bytes_total() - it->second->bytes_done();
        }
        continue;
      }
      auto n = by_id.find(id);
      if (n != by_id.end() &&
          (n->second->state() == proto::NODE_UP || n->second->state() == proto::NODE_DRAINING)) {
        ++h.healthy;
      }
    }
    if (h.healthy == 0) {
      h.state = PgState::kUnavailable;
    } else if (h.recovering > 0) {
      h.state = PgState::kRecovering;
    } else if (h.healthy < map.replicas()) {
      h.state = PgState::kDegraded;
    }
    s.pgs_by_state[static_cast<size_t>(h.state)]++;
    s.recovery_bytes_left += h.bytes_left;
    s.recovery_bytes_total += h.bytes_total;
    s.pgs.push_back(h);
  }
  return s;
}

}  // namespace cairn::service

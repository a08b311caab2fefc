#include "service/cluster_stats.h"

#include <algorithm>
#include <map>
#include <utility>

namespace cairn::service {

namespace {

bool InService(const proto::NodeInfo& n) {
  return n.state() == proto::NODE_UP || n.state() == proto::NODE_DRAINING;
}

bool Recovering(const proto::PgChain& pg, uint64_t id) {
  return std::find(pg.recovering().begin(), pg.recovering().end(), id) != pg.recovering().end();
}

// The mean size of one PG copy: the used bytes of the nodes in service
// that hold a healthy membership, over those memberships (each is a whole
// copy). What backfills report copied so far is left out (partial copies
// of no healthy membership), and so is a node with no healthy membership
// (a drained one: its bytes are extra copies waiting for the clean-up).
uint64_t PgBytesEstimate(const proto::ClusterMap& map,
                         const std::map<uint64_t, const proto::NodeInfo*>& by_id) {
  std::map<uint64_t, uint64_t> copies_of;  // node -> healthy memberships
  for (const proto::PgChain& pg : map.pgs()) {
    for (uint64_t id : pg.nodes()) {
      auto n = by_id.find(id);
      if (n != by_id.end() && InService(*n->second) && !Recovering(pg, id)) ++copies_of[id];
    }
  }
  uint64_t used = 0;
  uint64_t copies = 0;
  for (const auto& [id, count] : copies_of) {
    const proto::NodeInfo& node = *by_id.at(id);
    uint64_t copied = 0;
    for (const proto::PgProgress& p : node.recovery()) copied += p.bytes_done();
    used += node.used_bytes() - std::min(node.used_bytes(), copied);
    copies += count;
  }
  return copies == 0 ? 0 : used / copies;
}

}  // namespace

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
  s.pg_bytes_estimate = PgBytesEstimate(map, by_id);
  for (const proto::PgChain& pg : map.pgs()) {
    if (static_cast<uint32_t>(pg.nodes_size()) < map.replicas()) s.pgs_degraded++;
    if (pg.nodes_size() == 0) s.pgs_unavailable++;
    PgHealth h;
    h.pg = pg.pg();
    for (uint64_t id : pg.nodes()) {
      if (Recovering(pg, id)) {
        ++h.recovering;
        auto it = progress.find({pg.pg(), id});
        if (it != progress.end()) {
          const uint64_t total = it->second->bytes_total();
          h.bytes_total += total;
          h.bytes_left += total - std::min(total, it->second->bytes_done());
        } else {
          // Not listed yet: counting nothing would make the ETA far too
          // short early in a recovery.
          ++h.estimated;
          h.bytes_total += s.pg_bytes_estimate;
          h.bytes_left += s.pg_bytes_estimate;
        }
        continue;
      }
      auto n = by_id.find(id);
      if (n != by_id.end() && InService(*n->second)) ++h.healthy;
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
    s.recovery_pgs_estimated += h.estimated;
    s.pgs.push_back(h);
  }
  return s;
}

}  // namespace cairn::service

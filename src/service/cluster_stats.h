// ClusterStats: what meta reports about the cluster map outside the
// Cluster service: the capacity statfs shows and the /metrics gauges.
//
// A pure function of one map snapshot (ClusterManager::Map()); thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "cluster.pb.h"

namespace cairn::service {

// A PG's health (docs/cluster.md, "Status"). A healthy member is a chain
// member that is not recovering and whose node is UP or DRAINING.
enum class PgState {
  kHealthy = 0,      // at least R healthy members, nothing copying
  kDegraded = 1,     // fewer than R healthy members, nothing copying
  kRecovering = 2,   // a member is catching up (some healthy member left)
  kUnavailable = 3,  // no healthy member
};
inline constexpr std::array<std::string_view, 4> kPgStateNames = {"healthy", "degraded",
                                                                  "recovering", "unavailable"};

struct PgHealth {
  uint32_t pg = 0;
  PgState state = PgState::kHealthy;
  uint32_t healthy = 0;     // healthy members
  uint32_t recovering = 0;  // recovering members
  // Still to copy, over the recovering members: what each reported, or
  // for a member that has not listed the PG yet (no report), the estimate
  // of one PG copy (ClusterStats::pg_bytes_estimate).
  uint64_t bytes_left = 0;
  uint64_t bytes_total = 0;
  uint32_t estimated = 0;  // recovering members counted with the estimate
};

struct ClusterStats {
  uint64_t epoch = 0;
  // Registered nodes by state, indexed by proto::NodeState (0..4).
  std::array<uint64_t, 5> nodes_by_state{};
  // PGs whose chain is shorter than the map's replicas, and those with no
  // member at all (nothing can be written there).
  uint64_t pgs_degraded = 0;
  uint64_t pgs_unavailable = 0;
  // Per PG and counted by PgState; bytes left to copy over all PGs: what
  // the recovering nodes' heartbeats report for the PGs their backfill has
  // listed, plus pg_bytes_estimate for each (PG, recovering member) not
  // listed yet (a backfill lists one PG at a time, so early in a recovery
  // most are not), so the ETA is not too short.
  std::vector<PgHealth> pgs;
  std::array<uint64_t, 4> pgs_by_state{};
  uint64_t recovery_bytes_left = 0;
  uint64_t recovery_bytes_total = 0;
  // (PG, recovering member) pairs counted with the estimate; 0: the bytes
  // are exactly as reported.
  uint64_t recovery_pgs_estimated = 0;
  // The estimated size of one PG copy: the used bytes of the UP and
  // DRAINING nodes with healthy memberships, less what their backfills
  // report copied, over those memberships (0 without any). Extra copies
  // not deleted yet make it somewhat high; for a member back from a short
  // outage, which holds most of the PG already, it is far too high until
  // its backfill lists the PG.
  uint64_t pg_bytes_estimate = 0;
  // UP nodes that reported a capacity (registration or heartbeat), and the
  // sums of their capacity and available bytes.
  uint64_t reporting_nodes = 0;
  uint64_t capacity_bytes = 0;
  uint64_t available_bytes = 0;
};

ClusterStats Summarize(const proto::ClusterMap& map);

}  // namespace cairn::service

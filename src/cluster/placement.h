// Placement: which chunk servers hold which placement group (PG).
//
// Pure, deterministic functions (same input, same output; no clock, no
// randomness) over plain values. docs/cluster.md describes the algorithm.
//
// A chain is the ordered list of nodes of one PG: head first (it receives
// writes), tail last. Chains hold DISTINCT nodes. `chains` is indexed by
// pg, 0 .. pg_count-1.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chunk/chunk_id.h"
#include "common/ids.h"

namespace cairn::cluster {

// The seed of the chunk-id hash that picks a PG. Distinct from every
// other use of ChunkId::Hash (the chunk store's directory choice uses
// another), so PGs do not correlate with directories. Stored data depends
// on it: never change it.
inline constexpr uint64_t kPgHashSeed = 0x70672d706c616365;  // "pg-place"

// The PG of a chunk: Hash(kPgHashSeed) mod pg_count. pg_count > 0.
PgId PgOf(const ChunkId& id, uint32_t pg_count);

struct PlacementNode {
  NodeId id;
  std::string zone;       // empty: no zone
  bool up = true;         // only up nodes are placed
  uint64_t capacity = 0;  // weight; when any up node has 0, all weigh the same
};

using Chain = std::vector<NodeId>;

// A fresh placement: every PG gets min(replicas, up nodes) distinct up
// nodes. Greedy in pg order: each slot takes the candidate that (1) adds
// a zone the chain lacks (when nodes carry zones), (2) for the head, has
// the fewest heads per unit of weight, (3) has the fewest memberships per
// unit of weight, (4) wins a hash of (pg, node) (spreads which nodes share
// chains), (5) has the lowest id. With equal weights every node's
// membership and head counts end within a few of the mean.
std::vector<Chain> ComputeChains(const std::vector<PlacementNode>& nodes, uint32_t pg_count,
                                 uint32_t replicas);

// A node went down: it leaves every chain that holds it; the other
// members keep their order and nothing else changes. Returns the PGs it
// left, in pg order.
std::vector<uint32_t> RemoveNode(std::vector<Chain>& chains, NodeId node);

// A node joined or came back up: it is appended (at the tail, so a member
// that holds the data stays head) to the chains shorter than `replicas`
// that lack it — first to `preferred` (the PGs it left when it went down),
// then to the others in pg order. No member is ever replaced or reordered.
// A chain that already has a member of the node's zone is skipped when the
// registered nodes (up or not) span at least `replicas` zones: a node of a
// missing zone can fill it, so the zone spread is kept. Returns the PGs it
// joined, in pg order. `nodes` must list `node`.
std::vector<uint32_t> AddNode(std::vector<Chain>& chains, const std::vector<PlacementNode>& nodes,
                              NodeId node, uint32_t replicas,
                              const std::vector<uint32_t>& preferred = {});

// The best UP node to add to chain `pg` as a new member (re-replication,
// drain, a move), or an invalid id when no UP node outside the chain and
// `exclude` is left. Preference, in order: (1) adds a zone the chain lacks
// (when nodes carry zones), (2) fewest chain memberships per unit of
// weight (`chains` counted), (3) a hash of (pg, node), (4) lowest id.
NodeId PickMember(const std::vector<Chain>& chains, const std::vector<PlacementNode>& nodes,
                  uint32_t pg, const std::vector<NodeId>& exclude = {});

// Per-node counts, for tests, metrics and `cairn admin`.
struct PlacementStats {
  NodeId node;
  uint32_t members = 0;
  uint32_t heads = 0;
};
std::vector<PlacementStats> Stats(const std::vector<Chain>& chains);

}  // namespace cairn::cluster

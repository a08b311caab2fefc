// The client's cache of the cluster map (docs/cluster.md): which chunk
// servers hold a chunk's placement group, and at which data addresses.
//
// The map comes from meta (Cluster.GetClusterMap) at first use and is
// refreshed when a chunk server refuses a request as made with a stale
// epoch, when a chain member fails, and when meta reports a newer epoch
// (GetChunksReply.cluster_epoch). Refreshes are single-flight: callers that
// ask while one is running share its answer.
//
// Thread-safety: thread-safe. Snapshots are immutable and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "chunk/chunk_id.h"
#include "client/rpc.h"
#include "cluster.pb.h"
#include "common/ids.h"

namespace cairn::client {

struct Replica {
  NodeId node;
  std::string address;  // data protocol HOST:PORT
  friend bool operator==(const Replica&, const Replica&) = default;
};

// One version of the map, immutable once built.
class MapSnapshot {
 public:
  // Checks the map (pg_count > 0, one chain per PG, chain members known)
  // and indexes it. kInternal for a map that breaks those rules.
  static absl::StatusOr<std::shared_ptr<const MapSnapshot>> Build(proto::ClusterMap map);

  uint64_t epoch() const { return map_.epoch(); }
  uint32_t pg_count() const { return map_.pg_count(); }
  uint32_t replicas() const { return map_.replicas(); }
  const proto::ClusterMap& map() const { return map_; }

  PgId PgOf(const ChunkId& id) const;
  // The chain of the chunk's PG, head first; members that are not UP (or
  // DRAINING, which still serve) or have no data address are left out.
  std::vector<Replica> Chain(const ChunkId& id) const;
  // Where a write goes: the chain in order, holding at most `replicas`
  // healthy members (a policy may ask for fewer than the map's R) and
  // every recovering member (they must receive every write). Empty when
  // no healthy member is up: a write held only by recovering members would
  // be missing on the holders when they return.
  std::vector<Replica> WriteChain(const ChunkId& id, uint32_t replicas) const;
  // Where a read may go: the chain without its recovering members (still
  // catching up, they may miss the chunk).
  std::vector<Replica> ReadChain(const ChunkId& id) const;
  bool IsRecovering(const ChunkId& id, NodeId node) const;
  // The node serving `data_address`, if any.
  std::optional<NodeId> NodeAt(std::string_view data_address) const;
  // The node's data address ("" when unknown).
  std::string AddressOf(NodeId node) const;

 private:
  explicit MapSnapshot(proto::ClusterMap map);

  proto::ClusterMap map_;
  std::unordered_map<uint64_t, int> node_index_;  // id -> index in map_.nodes()
};

class ClusterMapCache {
 public:
  // Borrows `rpc`, which must outlive the cache.
  explicit ClusterMapCache(Rpc* rpc) : rpc_(rpc) {}

  // The cached map, fetched from meta the first time.
  absl::StatusOr<std::shared_ptr<const MapSnapshot>> Get();

  // Asks meta for a newer map than `seen` (the epoch the caller acted on;
  // 0: whatever is cached) and returns the current one. A caller whose
  // `seen` is already older than the cache gets the cache without an RPC.
  absl::StatusOr<std::shared_ptr<const MapSnapshot>> Refresh(uint64_t seen = 0);

  // Meta said its epoch is `epoch`: refresh when that is newer than ours.
  // Errors are dropped (the next data request finds out).
  void NoteEpoch(uint64_t epoch);

  // Reports to meta, best effort (errors are dropped): a chain member that
  // could not be reached, or a copy of a chunk that failed its checksums.
  void ReportNodeFailure(NodeId node, uint64_t epoch, std::string_view reason);
  void ReportBadChunk(const ChunkId& id, NodeId node, std::string_view reason);

 private:
  std::shared_ptr<const MapSnapshot> Cached() const;

  Rpc* const rpc_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const MapSnapshot> current_ ABSL_GUARDED_BY(mu_);
  // Held while asking meta, so concurrent refreshes become one.
  absl::Mutex refresh_mu_ ABSL_ACQUIRED_BEFORE(mu_);
};

}  // namespace cairn::client

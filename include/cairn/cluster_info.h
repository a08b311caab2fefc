// Value types of the Cairn client API about where data lives: storage
// policies, the cluster map (Client::ClusterStatus) and a file's chunks
// (Client::FileChunks). Plain values; thread-safe to copy and read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/types.h"
#include "common/ids.h"  // NodeId, PgId

namespace cairn {

// How data below a directory is stored (ARCHITECTURE.md, "Storage policy").
// 0 in a field means "the cluster default".
struct StoragePolicy {
  uint32_t replicas = 0;    // copies of each chunk
  uint64_t chunk_size = 0;  // slot size in bytes
};

struct PolicyInfo {
  StoragePolicy stored;     // as set on the directory or file (0: default)
  StoragePolicy effective;  // with the cluster defaults filled in
};

enum class NodeState { kUnknown = 0, kUp = 1, kDown = 2, kOut = 3, kDraining = 4 };

// "up", "down", "out", "draining" ("unknown" otherwise).
std::string_view NodeStateName(NodeState state);

struct NodeStatus {
  NodeId id;
  std::string data_address;  // HOST:PORT of the data protocol
  std::string grpc_address;
  std::string http_address;
  std::string zone;
  NodeState state = NodeState::kUnknown;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t available_bytes = 0;
  uint64_t chunk_count = 0;
  int64_t last_heartbeat_ns = 0;  // meta's clock; 0: none since meta started
  double load = 0;
};

struct PgStatus {
  PgId pg;
  std::vector<NodeId> chain;  // head first
};

// The cluster map as meta holds it.
struct ClusterInfo {
  uint64_t epoch = 0;
  uint32_t pg_count = 0;
  uint32_t replicas = 0;  // chain length the cluster aims for
  std::vector<NodeStatus> nodes;
  std::vector<PgStatus> pgs;  // indexed by pg
};

struct ChunkReplica {
  NodeId node;
  std::string data_address;  // empty when the map does not know the node
};

// One slot of a file.
struct SlotChunk {
  uint64_t slot = 0;
  uint64_t offset = 0;              // slot * chunk_size
  std::string id;                   // 32 hex digits; empty for a hole
  uint64_t length = 0;              // bytes of file data the chunk holds
  PgId pg;                          // holes: 0
  std::vector<ChunkReplica> chain;  // the PG's chain now, head first
};

struct FileChunksInfo {
  Attr attr;
  uint64_t chunk_size = 0;
  uint32_t replicas = 0;  // copies new chunks of the file get
  uint64_t epoch = 0;     // of the cluster map the chains come from
  std::vector<SlotChunk> slots;
};

}  // namespace cairn

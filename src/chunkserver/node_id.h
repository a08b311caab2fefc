// The node id of a chunk server, persisted in its data directories.
//
// Meta assigns the id when a server first registers (with id 0); the
// server keeps it in DIR/node_id of every data directory and registers
// with it from then on (docs/chunk-server.md, "Node id"). The file holds
// the id in decimal and a newline, nothing else. It is written durably:
// a temporary file, fsync, rename, fsync of the directory.
//
// Thread-safety: plain functions; callers serialize writes to one
// directory (the chunk server holds each directory's LOCK).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace cairn::chunkserver {

inline constexpr char kNodeIdFile[] = "node_id";

struct StoredNodeId {
  NodeId id;                         // invalid when no directory has one
  std::vector<std::string> missing;  // directories without the file
};

// Reads DIR/node_id of every directory. Errors: kCorrupt for a file that
// is not a nonzero decimal id, kInvalid when two directories name
// different ids (they belong to different nodes: refuse to start), kIo
// when a file cannot be read.
absl::StatusOr<StoredNodeId> LoadNodeId(const std::vector<std::string>& dirs);

// Writes `id` to DIR/node_id of each of `dirs`, durably. kInvalid for an
// invalid id, kIo on failure.
absl::Status StoreNodeId(const std::vector<std::string>& dirs, NodeId id);

}  // namespace cairn::chunkserver

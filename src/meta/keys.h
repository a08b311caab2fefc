// The metadata key schema. Every key starts with one prefix byte registered
// here; docs/metadata.md describes each key and value and must be kept in
// step with this file. Integers are big-endian so keys sort numerically.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/ids.h"

namespace cairn::meta::keys {

// The registry of key prefixes. Values are stored on disk: never change one.
enum class Prefix : char {
  kInode = 'I',    // I <ino:8>                 -> proto::InodeRecord
  kDirent = 'D',   // D <parent:8> <name>       -> proto::DirentRecord
  kXattr = 'X',    // X <ino:8> <name>          -> raw value bytes
  kSystem = 'S',   // S <name>                  -> system record (see docs/metadata.md)
  kCounter = 'C',  // C <name> 0x00 <shard:1>   -> uint64 big-endian, a sharded counter
  kGcQueue = 'Q',  // Q <queued_ns:8> <ino:8> <nonce:8> -> proto::GcEntry
  kNode = 'N',     // N <node:8>                -> proto::NodeRecord (src/cluster)
  kCluster = 'M',  // M <name>                  -> cluster record (docs/metadata.md)
  kRequest = 'R',  // R <client:8> <seq:8>      -> outcome of an applied request (request_log.h)
};

std::string Inode(InodeId ino);
std::string Dirent(InodeId parent, std::string_view name);
// [DirentBegin(p), DirentEnd(p)) holds exactly the entries of directory p.
std::string DirentBegin(InodeId parent);
std::string DirentEnd(InodeId parent);
std::string Xattr(InodeId ino, std::string_view name);
std::string XattrBegin(InodeId ino);
std::string XattrEnd(InodeId ino);
std::string System(std::string_view name);
std::string Counter(std::string_view name, uint8_t shard);
std::string CounterBegin(std::string_view name);
std::string CounterEnd(std::string_view name);

// Known system keys.
inline constexpr std::string_view kFormatVersion = "format";  // value: decimal version
inline constexpr std::string_view kNextInode = "next_inode";  // value: uint64 BE

// The garbage-collection queue: chunks released by a transaction, keyed so
// that entries sort by the time they were queued. `nonce` makes the key
// unique without a shared counter (docs/metadata.md, "The GC queue").
std::string GcQueue(int64_t queued_ns, InodeId ino, uint64_t nonce);
// [GcQueueBegin(), GcQueueEnd()) holds exactly the queue entries.
std::string GcQueueBegin();
std::string GcQueueEnd();

// Outcomes of applied mutating requests, by the request id a client gave
// them (docs/metadata.md, "Repeated requests"). A client's records sort by
// sequence number; [RequestBegin(), RequestEnd()) holds all of them and
// [Request(c, 0), RequestClientEnd(c)) those of client c.
std::string Request(uint64_t client, uint64_t seq);
std::string RequestClientEnd(uint64_t client);
std::string RequestBegin();
std::string RequestEnd();

// Cluster keys (src/cluster, docs/cluster.md).
std::string Node(NodeId id);
// [NodeBegin(), NodeEnd()) holds exactly the node records.
std::string NodeBegin();
std::string NodeEnd();
std::string Cluster(std::string_view name);
// Known cluster record names.
inline constexpr std::string_view kClusterMap = "map";        // value: proto::ClusterMap, no nodes
inline constexpr std::string_view kNextNodeId = "next_node";  // value: uint64 BE

std::string EncodeU64(uint64_t v);
// Fails unless `bytes` is exactly 8 bytes.
absl::StatusOr<uint64_t> DecodeU64(std::string_view bytes);

// A key taken apart; used by tools, tests and the fuzzer.
struct DecodedKey {
  Prefix prefix;
  InodeId ino;            // kInode, kDirent (the parent), kXattr, kGcQueue
  std::string name;       // kDirent, kXattr, kSystem, kCounter, kCluster
  uint8_t shard = 0;      // kCounter
  NodeId node;            // kNode
  int64_t queued_ns = 0;  // kGcQueue
  uint64_t nonce = 0;     // kGcQueue
  uint64_t client = 0;    // kRequest
  uint64_t seq = 0;       // kRequest
};
// Parses any key built above; a typed error (kInvalid) for anything else,
// including inode id 0 (also in a GC queue key), node id 0, a directory
// entry name that fails ValidateName, an xattr name that fails
// ValidateXattrName, an empty system, counter or cluster record name, and
// the bare range bounds (DirentBegin, XattrBegin, CounterBegin,
// GcQueueBegin, NodeBegin, RequestBegin), and client id 0 in a request key.
absl::StatusOr<DecodedKey> Decode(std::string_view key);

}  // namespace cairn::meta::keys

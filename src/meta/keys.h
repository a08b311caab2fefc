// The metadata key schema. Every key starts with one prefix byte registered
// here; docs/metadata.md describes each key and value and must be kept in
// step with this file. Integers are big-endian so keys sort numerically.
#pragma once

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

// Cluster keys (src/cluster, docs/cluster.md). These prefix bytes are
// registered here with the ones above but are not (yet) values of
// `Prefix`: keys_test.cc and fuzz/fuzz_keys.cc switch over Prefix
// exhaustively and must gain their cases in the same change that moves
// them into the enum. Until then Decode rejects these keys (kInvalid).
inline constexpr char kNodePrefix = 'N';     // N <node:8> -> proto::NodeRecord
inline constexpr char kClusterPrefix = 'M';  // M <name>   -> cluster record (below)
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
  InodeId ino;        // kInode, kDirent (the parent), kXattr
  std::string name;   // kDirent, kXattr, kSystem, kCounter
  uint8_t shard = 0;  // kCounter
};
// Parses any key built above; a typed error (kInvalid) for anything else,
// including inode id 0, a directory entry name that fails ValidateName, an
// xattr name that fails ValidateXattrName, an empty system or counter name,
// and the bare range bounds (DirentBegin, XattrBegin, CounterBegin).
absl::StatusOr<DecodedKey> Decode(std::string_view key);

}  // namespace cairn::meta::keys

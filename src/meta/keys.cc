#include "meta/keys.h"

#include "common/errors.h"
#include "meta/names.h"

namespace cairn::meta::keys {
namespace {

constexpr size_t kIdBytes = 8;

void AppendU64(std::string& out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((v >> shift) & 0xff));
}

uint64_t ReadU64(std::string_view bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < kIdBytes; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[i]);
  return v;
}

std::string WithId(Prefix prefix, uint64_t id) {
  std::string key;
  key.reserve(1 + kIdBytes);
  key.push_back(static_cast<char>(prefix));
  AppendU64(key, id);
  return key;
}

std::string WithIdAndName(Prefix prefix, uint64_t id, std::string_view name) {
  std::string key;
  key.reserve(1 + kIdBytes + name.size());
  key.push_back(static_cast<char>(prefix));
  AppendU64(key, id);
  key.append(name);
  return key;
}

// The smallest key greater than every key that starts with `prefix`:
// drop trailing 0xff bytes, then increment the last byte. Every prefix used
// here starts with a registered prefix byte (< 0xff), so this never empties.
std::string PrefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty())
    prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

absl::Status Malformed(std::string_view what) {
  return Error(Errc::kInvalid, "malformed key: " + std::string(what));
}

}  // namespace

std::string Inode(InodeId ino) { return WithId(Prefix::kInode, ino.value()); }

std::string Dirent(InodeId parent, std::string_view name) {
  return WithIdAndName(Prefix::kDirent, parent.value(), name);
}
std::string DirentBegin(InodeId parent) { return WithId(Prefix::kDirent, parent.value()); }
std::string DirentEnd(InodeId parent) { return PrefixEnd(DirentBegin(parent)); }

std::string Xattr(InodeId ino, std::string_view name) {
  return WithIdAndName(Prefix::kXattr, ino.value(), name);
}
std::string XattrBegin(InodeId ino) { return WithId(Prefix::kXattr, ino.value()); }
std::string XattrEnd(InodeId ino) { return PrefixEnd(XattrBegin(ino)); }

std::string System(std::string_view name) {
  std::string key(1, static_cast<char>(Prefix::kSystem));
  key.append(name);
  return key;
}

std::string Counter(std::string_view name, uint8_t shard) {
  std::string key = CounterBegin(name);
  key.push_back(static_cast<char>(shard));
  return key;
}
std::string CounterBegin(std::string_view name) {
  std::string key(1, static_cast<char>(Prefix::kCounter));
  key.append(name);
  key.push_back('\0');
  return key;
}
std::string CounterEnd(std::string_view name) { return PrefixEnd(CounterBegin(name)); }

std::string GcQueue(int64_t queued_ns, InodeId ino, uint64_t nonce) {
  std::string key = WithId(Prefix::kGcQueue, static_cast<uint64_t>(queued_ns));
  AppendU64(key, ino.value());
  AppendU64(key, nonce);
  return key;
}
std::string GcQueueBegin() { return std::string(1, static_cast<char>(Prefix::kGcQueue)); }
std::string GcQueueEnd() { return PrefixEnd(GcQueueBegin()); }

std::string Request(uint64_t client, uint64_t seq) {
  std::string key = WithId(Prefix::kRequest, client);
  AppendU64(key, seq);
  return key;
}
std::string RequestClientEnd(uint64_t client) {
  return PrefixEnd(WithId(Prefix::kRequest, client));
}
std::string RequestBegin() { return std::string(1, static_cast<char>(Prefix::kRequest)); }
std::string RequestEnd() { return PrefixEnd(RequestBegin()); }

std::string Node(NodeId id) { return WithId(Prefix::kNode, id.value()); }
std::string NodeBegin() { return std::string(1, static_cast<char>(Prefix::kNode)); }
std::string NodeEnd() { return PrefixEnd(NodeBegin()); }
std::string Cluster(std::string_view name) {
  std::string key(1, static_cast<char>(Prefix::kCluster));
  key.append(name);
  return key;
}

std::string EncodeU64(uint64_t v) {
  std::string out;
  out.reserve(kIdBytes);
  AppendU64(out, v);
  return out;
}

absl::StatusOr<uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != kIdBytes) {
    return Error(Errc::kInvalid, "expected 8 bytes, got " + std::to_string(bytes.size()));
  }
  return ReadU64(bytes);
}

absl::StatusOr<DecodedKey> Decode(std::string_view key) {
  if (key.empty()) return Malformed("empty");
  DecodedKey out;
  std::string_view rest = key.substr(1);
  switch (static_cast<Prefix>(key[0])) {
    case Prefix::kInode:
      if (rest.size() != kIdBytes) return Malformed("inode key is not 9 bytes");
      out.prefix = Prefix::kInode;
      out.ino = InodeId(ReadU64(rest));
      if (!out.ino.valid()) return Malformed("inode id 0");
      return out;
    case Prefix::kDirent:
    case Prefix::kXattr: {
      if (rest.size() <= kIdBytes) return Malformed("no id and name");
      out.prefix = static_cast<Prefix>(key[0]);
      out.ino = InodeId(ReadU64(rest));
      if (!out.ino.valid()) return Malformed("inode id 0");
      std::string_view name = rest.substr(kIdBytes);
      absl::Status valid =
          out.prefix == Prefix::kDirent ? ValidateName(name) : ValidateXattrName(name);
      if (!valid.ok()) return Malformed(std::string(valid.message()));
      out.name = std::string(name);
      return out;
    }
    case Prefix::kSystem:
      if (rest.empty()) return Malformed("empty system key name");
      out.prefix = Prefix::kSystem;
      out.name = std::string(rest);
      return out;
    case Prefix::kCounter: {
      // <name> 0x00 <shard>, the name non-empty and free of NUL.
      if (rest.size() < 3) return Malformed("counter key too short");
      if (rest[rest.size() - 2] != '\0') return Malformed("counter key without separator");
      std::string_view name = rest.substr(0, rest.size() - 2);
      if (name.find('\0') != std::string_view::npos) return Malformed("NUL in counter name");
      out.prefix = Prefix::kCounter;
      out.name = std::string(name);
      out.shard = static_cast<uint8_t>(rest.back());
      return out;
    }
    case Prefix::kGcQueue:
      if (rest.size() != 3 * kIdBytes) return Malformed("gc queue key is not 25 bytes");
      out.prefix = Prefix::kGcQueue;
      out.queued_ns = static_cast<int64_t>(ReadU64(rest));
      out.ino = InodeId(ReadU64(rest.substr(kIdBytes)));
      out.nonce = ReadU64(rest.substr(2 * kIdBytes));
      if (!out.ino.valid()) return Malformed("inode id 0");
      return out;
    case Prefix::kNode:
      if (rest.size() != kIdBytes) return Malformed("node key is not 9 bytes");
      out.prefix = Prefix::kNode;
      out.node = NodeId(ReadU64(rest));
      if (!out.node.valid()) return Malformed("node id 0");
      return out;
    case Prefix::kRequest:
      if (rest.size() != 2 * kIdBytes) return Malformed("request key is not 17 bytes");
      out.prefix = Prefix::kRequest;
      out.client = ReadU64(rest);
      out.seq = ReadU64(rest.substr(kIdBytes));
      if (out.client == 0) return Malformed("client id 0");
      return out;
    case Prefix::kCluster:
      if (rest.empty()) return Malformed("empty cluster record name");
      out.prefix = Prefix::kCluster;
      out.name = std::string(rest);
      return out;
  }
  return Malformed("unknown prefix");
}

}  // namespace cairn::meta::keys

// libFuzzer target for the metadata key schema (src/meta/keys.h).
//
// 1. keys::Decode on arbitrary bytes never crashes, fails only with
//    kInvalid, and whatever it accepts re-encodes to the very same bytes
//    (one key, one meaning).
// 2. Keys built from fuzzed (ino, name, shard) decode back to their parts.
// 3. Order: for one parent, dirent keys sort as their names do (bytewise,
//    as RocksDB compares), inside [DirentBegin, DirentEnd); different
//    parents never overlap and sort by parent id. The same for xattrs and
//    counters, and EncodeU64 preserves numeric order. GC queue keys sort
//    by (queued_ns, ino, nonce) for non-negative times; node keys by id.
// Any violated invariant calls Fail(), which prints the parts and aborts.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/errors.h"
#include "common/ids.h"
#include "meta/keys.h"
#include "meta/names.h"

namespace {

using cairn::Errc;
using cairn::ErrcOf;
using cairn::InodeId;
using cairn::NodeId;
namespace keys = cairn::meta::keys;
using keys::Prefix;

void Dump(const char* label, std::string_view s) {
  std::fprintf(stderr, "  %s (%zu bytes) = \"", label, s.size());
  for (unsigned char c : s)
    std::fprintf(stderr, (c >= 0x20 && c < 0x7f && c != '"') ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\"\n");
}

[[noreturn]] void Fail(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "fuzz_keys invariant violated: %s\n", what);
  Dump("a", a);
  Dump("b", b);
  std::abort();
}

void Check(bool cond, const char* what, std::string_view a, std::string_view b = {}) {
  if (!cond) Fail(what, a, b);
}

int Sign(int v) { return (v > 0) - (v < 0); }
// Bytewise comparison, as RocksDB's default comparator does.
int Cmp(std::string_view a, std::string_view b) { return Sign(a.compare(b)); }

bool InRange(std::string_view k, std::string_view begin, std::string_view end) {
  return Cmp(begin, k) <= 0 && Cmp(k, end) < 0;
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Re-encodes a decoded key from its parts.
std::string Encode(const keys::DecodedKey& k) {
  switch (k.prefix) {
    case Prefix::kInode:
      return keys::Inode(k.ino);
    case Prefix::kDirent:
      return keys::Dirent(k.ino, k.name);
    case Prefix::kXattr:
      return keys::Xattr(k.ino, k.name);
    case Prefix::kSystem:
      return keys::System(k.name);
    case Prefix::kCounter:
      return keys::Counter(k.name, k.shard);
    case Prefix::kGcQueue:
      return keys::GcQueue(k.queued_ns, k.ino, k.nonce);
    case Prefix::kNode:
      return keys::Node(k.node);
    case Prefix::kCluster:
      return keys::Cluster(k.name);
    case Prefix::kRequest:
      return keys::Request(k.client, k.seq);
  }
  Fail("Decode returned an unknown prefix", std::string(1, static_cast<char>(k.prefix)));
}

void FuzzDecode(std::string_view bytes) {
  auto d = keys::Decode(bytes);
  if (!d.ok()) {
    Check(ErrcOf(d.status()) == Errc::kInvalid, "Decode fails with kInvalid", bytes);
    return;
  }
  Check(!bytes.empty() && bytes[0] == static_cast<char>(d->prefix),
        "Decode reports the key's first byte", bytes);
  Check(Encode(*d) == bytes, "a decoded key re-encodes to the same bytes", bytes, Encode(*d));
}

// keys.h: Decode parses every key built by the encoders except inode id 0,
// a dirent name failing ValidateName, an xattr name failing
// ValidateXattrName, an empty system/counter name (or one with NUL) and the
// bare range bounds. `valid` says whether `key` is such a parsable key;
// then its parts must come back (fields the prefix does not use are not
// compared), otherwise Decode must fail with kInvalid.
void ExpectDecodes(std::string_view key, bool valid, Prefix p, InodeId ino, std::string_view name,
                   uint8_t shard, const char* what) {
  auto d = keys::Decode(key);
  if (!valid) {
    if (d.ok()) Fail(what, key, "Decode accepted a key it documents as invalid");
    Check(ErrcOf(d.status()) == Errc::kInvalid, what, key, "error is not kInvalid");
    return;
  }
  if (!d.ok()) Fail(what, key, d.status().ToString());
  Check(d->prefix == p, what, key, "prefix differs");
  if (p == Prefix::kInode || p == Prefix::kDirent || p == Prefix::kXattr || p == Prefix::kGcQueue) {
    Check(d->ino == ino, what, key, "ino differs");
  }
  if (p != Prefix::kInode && p != Prefix::kGcQueue && p != Prefix::kNode) {
    Check(d->name == name, what, key, d->name);
  }
  if (p == Prefix::kCounter) Check(d->shard == shard, what, key, "shard differs");
}

void FuzzRoundTrip(InodeId a, InodeId b, uint8_t shard, std::string_view n1, std::string_view n2) {
  // Inode keys.
  std::string ik = keys::Inode(a);
  ExpectDecodes(ik, a.valid(), Prefix::kInode, a, {}, 0, "Inode key round trip");
  Check(Sign(static_cast<int>(a.value() > b.value()) - static_cast<int>(a.value() < b.value())) ==
            Cmp(ik, keys::Inode(b)),
        "inode keys sort by inode id", ik, keys::Inode(b));

  // Dirent and xattr keys share the <ino:8><name> layout.
  struct Family {
    Prefix prefix;
    std::string (*make)(InodeId, std::string_view);
    std::string (*begin)(InodeId);
    std::string (*end)(InodeId);
    absl::Status (*validate)(std::string_view);
  };
  static constexpr Family kFamilies[] = {
      {Prefix::kDirent, keys::Dirent, keys::DirentBegin, keys::DirentEnd,
       cairn::meta::ValidateName},
      {Prefix::kXattr, keys::Xattr, keys::XattrBegin, keys::XattrEnd,
       cairn::meta::ValidateXattrName},
  };
  for (const auto& f : kFamilies) {
    std::string k1 = f.make(a, n1), k2 = f.make(a, n2), kb = f.make(b, n2);
    ExpectDecodes(k1, a.valid() && f.validate(n1).ok(), f.prefix, a, n1, 0,
                  "Dirent/Xattr key round trip");
    ExpectDecodes(kb, b.valid() && f.validate(n2).ok(), f.prefix, b, n2, 0,
                  "Dirent/Xattr key round trip (2nd)");
    ExpectDecodes(f.begin(a), false, f.prefix, a, {}, 0, "a bare Begin bound does not decode");
    Check(Cmp(k1, k2) == Cmp(n1, n2), "same-inode keys sort as their names, bytewise", k1, k2);
    Check(InRange(k1, f.begin(a), f.end(a)), "key lies in [Begin(ino), End(ino))", k1, f.begin(a));
    Check(Cmp(f.begin(a), f.end(a)) < 0, "Begin(ino) < End(ino)", f.begin(a), f.end(a));
    if (a != b) {
      Check(!InRange(kb, f.begin(a), f.end(a)), "another inode's key lies outside [Begin, End)", kb,
            f.begin(a));
      Check(Cmp(k1, kb) == (a < b ? -1 : 1), "keys of different inodes sort by inode id", k1, kb);
    }
  }

  // System keys.
  ExpectDecodes(keys::System(n1), !n1.empty(), Prefix::kSystem, InodeId(), n1, 0,
                "System key round trip");

  // Counter keys: "C <name> 0x00 <shard>". Names are internal constants
  // without NUL; the ranges are exact only for such names.
  std::string ck = keys::Counter(n1, shard);
  bool n1_counter = !n1.empty() && !HasNul(n1);
  ExpectDecodes(ck, n1_counter, Prefix::kCounter, InodeId(), n1, shard, "Counter key round trip");
  if (n1_counter) {
    ExpectDecodes(keys::CounterBegin(n1), false, Prefix::kCounter, InodeId(), {}, 0,
                  "a bare CounterBegin bound does not decode");
    Check(InRange(ck, keys::CounterBegin(n1), keys::CounterEnd(n1)),
          "counter key lies in its range", ck, keys::CounterBegin(n1));
    if (!n2.empty() && !HasNul(n2) && n1 != n2) {
      Check(!InRange(keys::Counter(n2, shard), keys::CounterBegin(n1), keys::CounterEnd(n1)),
            "another counter's key lies outside the range", n1, n2);
    }
  }

  // GC queue keys: <queued_ns:8> <ino:8> <nonce:8>; the fuzzed ids double
  // as time and nonce. Non-negative times sort numerically, then inodes.
  const auto t = static_cast<int64_t>(a.value() >> 1), u = static_cast<int64_t>(b.value() >> 1);
  std::string qa = keys::GcQueue(t, a, b.value()), qb = keys::GcQueue(u, b, a.value());
  auto qd = keys::Decode(qa);
  if (!a.valid()) {
    Check(!qd.ok() && ErrcOf(qd.status()) == Errc::kInvalid, "GC key with inode 0 is refused", qa);
  } else {
    Check(qd.ok() && qd->prefix == Prefix::kGcQueue && qd->queued_ns == t && qd->ino == a &&
              qd->nonce == b.value(),
          "GC queue key round trip", qa);
    Check(InRange(qa, keys::GcQueueBegin(), keys::GcQueueEnd()), "GC key lies in its range", qa);
  }
  if (t != u) Check(Cmp(qa, qb) == (t < u ? -1 : 1), "GC keys sort by queue time", qa, qb);

  // Node and cluster keys.
  const NodeId na(a.value()), nb(b.value());
  auto nd = keys::Decode(keys::Node(na));
  Check(nd.ok() == na.valid(), "node key decodes iff its id is nonzero", keys::Node(na));
  if (nd.ok()) Check(nd->prefix == Prefix::kNode && nd->node == na, "node key round trip", n1);
  Check(Cmp(keys::Node(na), keys::Node(nb)) ==
            Sign(static_cast<int>(a.value() > b.value()) - static_cast<int>(a.value() < b.value())),
        "node keys sort by id", keys::Node(na), keys::Node(nb));
  Check(InRange(keys::Node(na), keys::NodeBegin(), keys::NodeEnd()), "node key lies in its range",
        keys::Node(na));
  ExpectDecodes(keys::Cluster(n1), !n1.empty(), Prefix::kCluster, InodeId(), n1, 0,
                "Cluster key round trip");

  // Keys of different kinds never collide.
  Check(ik[0] != keys::Dirent(a, n1)[0] && ik[0] != keys::Xattr(a, n1)[0] && ik[0] != ck[0] &&
            ik[0] != keys::System(n1)[0],
        "key kinds have distinct prefixes", ik);

  // EncodeU64 / DecodeU64.
  std::string ea = keys::EncodeU64(a.value()), eb = keys::EncodeU64(b.value());
  Check(ea.size() == 8, "EncodeU64 writes 8 bytes", ea);
  auto da = keys::DecodeU64(ea);
  Check(da.ok() && *da == a.value(), "DecodeU64(EncodeU64(v)) == v", ea);
  Check(Cmp(ea, eb) ==
            Sign(static_cast<int>(a.value() > b.value()) - static_cast<int>(a.value() < b.value())),
        "EncodeU64 preserves numeric order", ea, eb);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view whole(reinterpret_cast<const char*>(data), size);
  FuzzDecode(whole);
  auto u = keys::DecodeU64(whole);
  Check(u.ok() == (size == 8), "DecodeU64 accepts exactly 8 bytes", whole);
  if (u.ok()) Check(keys::EncodeU64(*u) == whole, "EncodeU64(DecodeU64(b)) == b", whole);

  FuzzedDataProvider fdp(data, size);
  InodeId a(fdp.ConsumeIntegral<uint64_t>());
  InodeId b(fdp.ConsumeIntegral<uint64_t>());
  uint8_t shard = fdp.ConsumeIntegral<uint8_t>();
  std::string n1 = fdp.ConsumeRandomLengthString(512);
  std::string n2 = fdp.ConsumeRemainingBytesAsString();
  FuzzRoundTrip(a, b, shard, n1, n2);
  // Also feed the built keys to the decoder as arbitrary input.
  FuzzDecode(keys::Dirent(a, n1));
  FuzzDecode(keys::Counter(n2, shard));
  return 0;
}

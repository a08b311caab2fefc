// ChunkId: the 128-bit id of an immutable chunk (see ARCHITECTURE.md, "Data
// model"). Random by default; with deduplication a keyed hash of the
// content. Written as 32 lowercase hex digits, `hi` first; that text is
// also the chunk's file name on disk (docs/chunk-format.md).
//
// A plain value type: trivially copyable, ordered, hashable, thread-safe.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace cairn {

struct ChunkId {
  uint64_t hi = 0;
  uint64_t lo = 0;

  // The all-zero id is reserved: never a real chunk.
  constexpr bool valid() const { return hi != 0 || lo != 0; }
  friend constexpr auto operator<=>(const ChunkId&, const ChunkId&) = default;

  // 32 lowercase hex digits.
  std::string ToString() const;
  // Exactly 32 hex digits (either case); nullopt otherwise.
  static std::optional<ChunkId> Parse(std::string_view text);
  // A fresh random, valid id (thread-safe; from a per-thread generator
  // seeded by std::random_device).
  static ChunkId Random();

  // A well-mixed 64-bit hash. `seed` gives independent hashes for
  // independent uses (directory choice must not correlate with PGs).
  uint64_t Hash(uint64_t seed = 0) const;

  template <typename H>
  friend H AbslHashValue(H h, const ChunkId& id) {
    return H::combine(std::move(h), id.hi, id.lo);
  }
};

inline constexpr size_t kChunkIdHexLength = 32;

}  // namespace cairn

template <>
struct std::hash<cairn::ChunkId> {
  size_t operator()(const cairn::ChunkId& id) const { return id.Hash(); }
};

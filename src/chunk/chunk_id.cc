#include "chunk/chunk_id.h"
#include "common/hash.h"

#include <random>

namespace cairn {
namespace {

constexpr char kHex[] = "0123456789abcdef";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string ChunkId::ToString() const {
  std::string out(kChunkIdHexLength, '0');
  for (int i = 0; i < 16; ++i) {
    out[i] = kHex[(hi >> (60 - 4 * i)) & 0xf];
    out[16 + i] = kHex[(lo >> (60 - 4 * i)) & 0xf];
  }
  return out;
}

std::optional<ChunkId> ChunkId::Parse(std::string_view text) {
  if (text.size() != kChunkIdHexLength) return std::nullopt;
  ChunkId id;
  for (size_t i = 0; i < kChunkIdHexLength; ++i) {
    int v = HexValue(text[i]);
    if (v < 0) return std::nullopt;
    uint64_t& word = i < 16 ? id.hi : id.lo;
    word = (word << 4) | static_cast<uint64_t>(v);
  }
  return id;
}

ChunkId ChunkId::Random() {
  thread_local std::mt19937_64 gen([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }());
  ChunkId id;
  do {
    id.hi = gen();
    id.lo = gen();
  } while (!id.valid());
  return id;
}

uint64_t ChunkId::Hash(uint64_t seed) const {
  return Mix64(Mix64(hi ^ Mix64(seed + 0x9e3779b97f4a7c15ULL)) ^ lo);
}

}  // namespace cairn

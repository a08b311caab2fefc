// Small hashing helpers shared by modules that must agree on nothing but
// good mixing (placement, chunk directory choice).
#pragma once

#include <cstdint>

namespace cairn {

// splitmix64's finalizer: a cheap, well-mixing bijection on 64 bits.
constexpr uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace cairn

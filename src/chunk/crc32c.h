// CRC32C (Castagnoli, the iSCSI polynomial 0x1EDC6F41, reflected), the one
// checksum of Cairn's data path: chunk files (docs/chunk-format.md) and the
// data protocol (docs/data-protocol.md) both use it per 64 KiB block.
//
// Standard parameters: initial value 0xFFFFFFFF, final XOR 0xFFFFFFFF, so
// Value("123456789") == 0xE3069283 and Value("") == 0. Backed by ISA-L's
// crc32_iscsi, which picks SSE4.2/PCLMUL/AVX-512 code at run time.
// Stateless and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cairn::crc32c {

// CRC32C of data[0, n).
uint32_t Value(const void* data, size_t n);

// The CRC32C of A||B, given crc == Value(A) and B = data[0, n).
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(std::span<const uint8_t> data) { return Value(data.data(), data.size()); }

// Number of `block_size` blocks needed for `length` bytes (the last one may
// be short; 0 bytes -> 0 blocks).
constexpr uint64_t NumBlocks(uint64_t length, uint64_t block_size) {
  return (length + block_size - 1) / block_size;
}

// The CRC32C of every `block_size` block of `data`, in order; the last
// block may be short. `out` must hold NumBlocks(data.size(), block_size).
void BlockCrcs(std::span<const uint8_t> data, size_t block_size, std::span<uint32_t> out);
std::vector<uint32_t> BlockCrcs(std::span<const uint8_t> data, size_t block_size);

}  // namespace cairn::crc32c

// The on-disk format of one chunk file. The authoritative description is
// docs/chunk-format.md; every constant and offset here points back to it
// and the two must change together.
//
// Pure functions over bytes: thread-safe, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "chunk/chunk_id.h"

namespace cairn::chunk {

// docs/chunk-format.md, "Constants".
inline constexpr uint8_t kFileMagic[8] = {'C', 'A', 'I', 'R', 'N', 'C', 'H', 'K'};
inline constexpr uint16_t kFormatVersion = 1;
inline constexpr uint32_t kBlockSize = 64 * 1024;       // bytes per checksummed block
inline constexpr uint64_t kMaxChunkSize = 64ull << 20;  // largest chunk accepted anywhere
inline constexpr uint64_t kMaxBlocks = kMaxChunkSize / kBlockSize;
inline constexpr size_t kHeaderSize = 64;       // fixed header, see the byte table
inline constexpr size_t kDataAlignment = 4096;  // data starts on a page boundary

// docs/chunk-format.md, "Header": field offsets.
namespace hdr {
inline constexpr size_t kMagic = 0;          // 8 bytes "CAIRNCHK"
inline constexpr size_t kVersion = 8;        // u16
inline constexpr size_t kFlags = 10;         // u16, 0
inline constexpr size_t kBlockSizeOff = 12;  // u32
inline constexpr size_t kIdHi = 16;          // u64
inline constexpr size_t kIdLo = 24;          // u64
inline constexpr size_t kDataLength = 32;    // u64
inline constexpr size_t kNumBlocks = 40;     // u32
inline constexpr size_t kDataOffset = 44;    // u32
inline constexpr size_t kTableCrc = 48;      // u32
inline constexpr size_t kReserved = 52;      // 8 bytes, 0
inline constexpr size_t kHeaderCrc = 60;     // u32, CRC32C of bytes [0, 60)
}  // namespace hdr

// The decoded, validated header of a chunk file.
struct ChunkHeader {
  ChunkId id;
  uint64_t data_length = 0;
  uint32_t num_blocks = 0;
  uint32_t data_offset = 0;
  uint32_t table_crc = 0;  // CRC32C of the num_blocks * 4 byte table
};

// Where the data of a chunk with `num_blocks` blocks starts: the header and
// the CRC table, rounded up to kDataAlignment.
constexpr uint32_t DataOffset(uint64_t num_blocks) {
  uint64_t used = kHeaderSize + 4 * num_blocks;
  return static_cast<uint32_t>((used + kDataAlignment - 1) / kDataAlignment * kDataAlignment);
}

// Builds the first DataOffset(n) bytes of a chunk file (header, CRC table,
// zero padding) for `id` holding `data_length` bytes whose per-block
// CRC32Cs are `block_crcs`. `out` must be DataOffset(block_crcs.size())
// bytes. Preconditions (checked by callers): data_length <= kMaxChunkSize
// and block_crcs.size() == NumBlocks(data_length).
void EncodePrefix(ChunkId id, uint64_t data_length, std::span<const uint32_t> block_crcs,
                  std::span<uint8_t> out);

// Decodes and validates the fixed header in `bytes` (at least kHeaderSize
// bytes): magic, version, flags, block size, lengths, data offset, reserved
// bytes and the header CRC. Errc::kCorrupt on any mismatch.
absl::StatusOr<ChunkHeader> DecodeHeader(std::span<const uint8_t> bytes);

// Decodes the CRC table that follows the header (`bytes` holds exactly
// 4 * header.num_blocks bytes) after checking it against header.table_crc.
// Errc::kCorrupt on mismatch.
absl::Status DecodeTable(const ChunkHeader& header, std::span<const uint8_t> bytes,
                         std::span<uint32_t> out);

}  // namespace cairn::chunk

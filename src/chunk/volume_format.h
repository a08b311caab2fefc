// The on-disk format of volume files: append-only logs of small chunks
// (VolumeChunkStore). The authoritative description is docs/chunk-format.md,
// "Volume files"; every constant and offset here points back to it and the
// two must change together.
//
// Pure functions over bytes: thread-safe, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "absl/status/statusor.h"
#include "chunk/chunk_format.h"
#include "chunk/chunk_id.h"

namespace cairn::chunk {

// docs/chunk-format.md, "Volume files".
inline constexpr uint8_t kVolumeMagic[8] = {'C', 'A', 'I', 'R', 'N', 'V', 'O', 'L'};
inline constexpr uint8_t kRecordMagic[8] = {'C', 'A', 'I', 'R', 'N', 'R', 'E', 'C'};
inline constexpr uint16_t kVolumeFormatVersion = 1;
inline constexpr size_t kVolumeHeaderSize = 64;
inline constexpr size_t kRecordHeaderSize = 64;
// Records start on multiples of the volume's alignment (a power of two in
// this range, written in the volume header).
inline constexpr uint32_t kMinRecordAlignment = 512;
inline constexpr uint32_t kMaxRecordAlignment = 1u << 20;

// Volume header field offsets.
namespace vhdr {
inline constexpr size_t kMagic = 0;       // 8 bytes "CAIRNVOL"
inline constexpr size_t kVersion = 8;     // u16
inline constexpr size_t kFlags = 10;      // u16, 0
inline constexpr size_t kAlignment = 12;  // u32
inline constexpr size_t kSeq = 16;        // u64, the number in the file name
inline constexpr size_t kNonce = 24;      // u64, random, seeds every record header CRC
inline constexpr size_t kCreatedNs = 32;  // i64
inline constexpr size_t kReserved = 40;   // 20 bytes, 0
inline constexpr size_t kHeaderCrc = 60;  // u32, CRC32C of bytes [0, 60)
}  // namespace vhdr

// Record header field offsets.
namespace rhdr {
inline constexpr size_t kMagic = 0;        // 8 bytes "CAIRNREC"
inline constexpr size_t kVersion = 8;      // u16
inline constexpr size_t kType = 10;        // u16, RecordType
inline constexpr size_t kNumBlocks = 12;   // u32
inline constexpr size_t kIdHi = 16;        // u64
inline constexpr size_t kIdLo = 24;        // u64
inline constexpr size_t kDataLength = 32;  // u64
inline constexpr size_t kStoredNs = 40;    // i64
inline constexpr size_t kOffset = 48;      // u64, where this header sits in the file
inline constexpr size_t kTableCrc = 56;    // u32
inline constexpr size_t kHeaderCrc = 60;   // u32, CRC32C of nonce (8 bytes LE) || [0, 60)
}  // namespace rhdr

enum class RecordType : uint16_t {
  kPut = 1,     // a chunk: CRC table and data follow
  kDelete = 2,  // the chunk `id` is deleted; no table, no data
  kSeal = 3,    // the volume is complete: nothing after it counts
};

struct VolumeHeader {
  uint32_t alignment = 4096;
  uint64_t seq = 0;
  uint64_t nonce = 0;
  int64_t created_ns = 0;
};

struct RecordHeader {
  RecordType type = RecordType::kPut;
  ChunkId id;
  uint64_t data_length = 0;
  uint32_t num_blocks = 0;
  int64_t stored_ns = 0;
  uint64_t offset = 0;
  uint32_t table_crc = 0;  // CRC32C of the 4 * num_blocks byte table
};

constexpr uint64_t AlignUp(uint64_t n, uint64_t alignment) {
  return (n + alignment - 1) / alignment * alignment;
}

// Bytes from a record's header to the start of the next record.
constexpr uint64_t RecordSize(uint64_t num_blocks, uint64_t data_length, uint32_t alignment) {
  return AlignUp(kRecordHeaderSize + 4 * num_blocks + data_length, alignment);
}
// Where a record's data starts, relative to its header.
constexpr uint64_t RecordDataOffset(uint64_t num_blocks) {
  return kRecordHeaderSize + 4 * num_blocks;
}

bool ValidAlignment(uint32_t alignment);

// `out` is kVolumeHeaderSize bytes.
void EncodeVolumeHeader(const VolumeHeader& h, std::span<uint8_t> out);
// Errc::kCorrupt unless `bytes` (>= kVolumeHeaderSize) is a valid header.
absl::StatusOr<VolumeHeader> DecodeVolumeHeader(std::span<const uint8_t> bytes);

// `out` is kRecordHeaderSize bytes; `nonce` is the volume's.
void EncodeRecordHeader(const RecordHeader& h, uint64_t nonce, std::span<uint8_t> out);
// Decodes the record header in `bytes` (>= kRecordHeaderSize) read at
// `offset` of a volume whose nonce is `nonce`: magic, header CRC, version,
// type, the length/block-count rules and the offset field are all checked.
// Errc::kCorrupt on any mismatch.
absl::StatusOr<RecordHeader> DecodeRecordHeader(std::span<const uint8_t> bytes, uint64_t nonce,
                                                uint64_t offset);

}  // namespace cairn::chunk

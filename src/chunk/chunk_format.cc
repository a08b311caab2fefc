#include "chunk/chunk_format.h"

#include <cstring>
#include <string>

#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "common/errors.h"

namespace cairn::chunk {
namespace {

absl::Status Corrupt(const std::string& what) {
  return Error(Errc::kCorrupt, "chunk header: " + what);
}

}  // namespace

void EncodePrefix(ChunkId id, uint64_t data_length, std::span<const uint32_t> block_crcs,
                  std::span<uint8_t> out) {
  std::memset(out.data(), 0, out.size());
  uint8_t* p = out.data();
  std::memcpy(p + hdr::kMagic, kFileMagic, sizeof(kFileMagic));
  le::Put16(p + hdr::kVersion, kFormatVersion);
  le::Put16(p + hdr::kFlags, 0);
  le::Put32(p + hdr::kBlockSizeOff, kBlockSize);
  le::Put64(p + hdr::kIdHi, id.hi);
  le::Put64(p + hdr::kIdLo, id.lo);
  le::Put64(p + hdr::kDataLength, data_length);
  le::Put32(p + hdr::kNumBlocks, static_cast<uint32_t>(block_crcs.size()));
  le::Put32(p + hdr::kDataOffset, DataOffset(block_crcs.size()));
  uint8_t* table = p + kHeaderSize;
  for (size_t i = 0; i < block_crcs.size(); ++i) le::Put32(table + 4 * i, block_crcs[i]);
  le::Put32(p + hdr::kTableCrc, crc32c::Value(table, 4 * block_crcs.size()));
  le::Put32(p + hdr::kHeaderCrc, crc32c::Value(p, hdr::kHeaderCrc));
}

absl::StatusOr<ChunkHeader> DecodeHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Corrupt("short header");
  const uint8_t* p = bytes.data();
  if (std::memcmp(p + hdr::kMagic, kFileMagic, sizeof(kFileMagic)) != 0) {
    return Corrupt("bad magic");
  }
  // The CRC first: a damaged header is reported as damaged, whatever field
  // the damage happens to hit.
  if (le::Get32(p + hdr::kHeaderCrc) != crc32c::Value(p, hdr::kHeaderCrc)) {
    return Corrupt("header crc mismatch");
  }
  uint16_t version = le::Get16(p + hdr::kVersion);
  if (version != kFormatVersion)
    return Corrupt("unknown format version " + std::to_string(version));
  if (le::Get16(p + hdr::kFlags) != 0) return Corrupt("unknown flags");
  if (le::Get32(p + hdr::kBlockSizeOff) != kBlockSize) return Corrupt("unsupported block size");
  for (size_t i = hdr::kReserved; i < hdr::kHeaderCrc; ++i) {
    if (p[i] != 0) return Corrupt("reserved bytes not zero");
  }
  ChunkHeader h;
  h.id = ChunkId{le::Get64(p + hdr::kIdHi), le::Get64(p + hdr::kIdLo)};
  h.data_length = le::Get64(p + hdr::kDataLength);
  h.num_blocks = le::Get32(p + hdr::kNumBlocks);
  h.data_offset = le::Get32(p + hdr::kDataOffset);
  h.table_crc = le::Get32(p + hdr::kTableCrc);
  if (!h.id.valid()) return Corrupt("zero chunk id");
  if (h.data_length > kMaxChunkSize) return Corrupt("data length over the maximum");
  if (h.num_blocks != crc32c::NumBlocks(h.data_length, kBlockSize)) {
    return Corrupt("block count does not match the data length");
  }
  if (h.data_offset != DataOffset(h.num_blocks)) return Corrupt("bad data offset");
  return h;
}

absl::Status DecodeTable(const ChunkHeader& header, std::span<const uint8_t> bytes,
                         std::span<uint32_t> out) {
  if (bytes.size() != 4 * size_t{header.num_blocks} || out.size() != header.num_blocks) {
    return Error(Errc::kInternal, "chunk crc table: wrong buffer size");
  }
  if (crc32c::Value(bytes) != header.table_crc) {
    return Error(Errc::kCorrupt, "chunk crc table: crc mismatch");
  }
  for (size_t i = 0; i < header.num_blocks; ++i) out[i] = le::Get32(bytes.data() + 4 * i);
  return absl::OkStatus();
}

}  // namespace cairn::chunk

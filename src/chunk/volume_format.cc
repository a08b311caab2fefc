#include "chunk/volume_format.h"

#include <cstring>

#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "common/errors.h"

namespace cairn::chunk {
namespace {

absl::Status Bad(const char* what) { return Error(Errc::kCorrupt, what); }

uint32_t RecordHeaderCrc(const uint8_t* h, uint64_t nonce) {
  uint8_t seed[8];
  le::Put64(seed, nonce);
  return crc32c::Extend(crc32c::Value(seed, sizeof(seed)), h, rhdr::kHeaderCrc);
}

}  // namespace

bool ValidAlignment(uint32_t a) {
  return a >= kMinRecordAlignment && a <= kMaxRecordAlignment && (a & (a - 1)) == 0;
}

void EncodeVolumeHeader(const VolumeHeader& h, std::span<uint8_t> out) {
  uint8_t* p = out.data();
  std::memset(p, 0, kVolumeHeaderSize);
  std::memcpy(p + vhdr::kMagic, kVolumeMagic, sizeof(kVolumeMagic));
  le::Put16(p + vhdr::kVersion, kVolumeFormatVersion);
  le::Put32(p + vhdr::kAlignment, h.alignment);
  le::Put64(p + vhdr::kSeq, h.seq);
  le::Put64(p + vhdr::kNonce, h.nonce);
  le::Put64(p + vhdr::kCreatedNs, static_cast<uint64_t>(h.created_ns));
  le::Put32(p + vhdr::kHeaderCrc, crc32c::Value(p, vhdr::kHeaderCrc));
}

absl::StatusOr<VolumeHeader> DecodeVolumeHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kVolumeHeaderSize) return Bad("short volume header");
  const uint8_t* p = bytes.data();
  if (std::memcmp(p + vhdr::kMagic, kVolumeMagic, sizeof(kVolumeMagic)) != 0) {
    return Bad("not a volume file (bad magic)");
  }
  if (le::Get32(p + vhdr::kHeaderCrc) != crc32c::Value(p, vhdr::kHeaderCrc)) {
    return Bad("volume header crc mismatch");
  }
  if (le::Get16(p + vhdr::kVersion) != kVolumeFormatVersion) return Bad("unknown volume version");
  if (le::Get16(p + vhdr::kFlags) != 0) return Bad("unknown volume flags");
  for (size_t i = vhdr::kReserved; i < vhdr::kHeaderCrc; ++i) {
    if (p[i] != 0) return Bad("volume header reserved bytes not zero");
  }
  VolumeHeader h;
  h.alignment = le::Get32(p + vhdr::kAlignment);
  if (!ValidAlignment(h.alignment)) return Bad("bad volume record alignment");
  h.seq = le::Get64(p + vhdr::kSeq);
  h.nonce = le::Get64(p + vhdr::kNonce);
  h.created_ns = static_cast<int64_t>(le::Get64(p + vhdr::kCreatedNs));
  return h;
}

void EncodeRecordHeader(const RecordHeader& h, uint64_t nonce, std::span<uint8_t> out) {
  uint8_t* p = out.data();
  std::memcpy(p + rhdr::kMagic, kRecordMagic, sizeof(kRecordMagic));
  le::Put16(p + rhdr::kVersion, kVolumeFormatVersion);
  le::Put16(p + rhdr::kType, static_cast<uint16_t>(h.type));
  le::Put32(p + rhdr::kNumBlocks, h.num_blocks);
  le::Put64(p + rhdr::kIdHi, h.id.hi);
  le::Put64(p + rhdr::kIdLo, h.id.lo);
  le::Put64(p + rhdr::kDataLength, h.data_length);
  le::Put64(p + rhdr::kStoredNs, static_cast<uint64_t>(h.stored_ns));
  le::Put64(p + rhdr::kOffset, h.offset);
  le::Put32(p + rhdr::kTableCrc, h.table_crc);
  le::Put32(p + rhdr::kHeaderCrc, RecordHeaderCrc(p, nonce));
}

absl::StatusOr<RecordHeader> DecodeRecordHeader(std::span<const uint8_t> bytes, uint64_t nonce,
                                                uint64_t offset) {
  if (bytes.size() < kRecordHeaderSize) return Bad("short record header");
  const uint8_t* p = bytes.data();
  if (std::memcmp(p + rhdr::kMagic, kRecordMagic, sizeof(kRecordMagic)) != 0) {
    return Bad("no record here (bad magic)");
  }
  if (le::Get32(p + rhdr::kHeaderCrc) != RecordHeaderCrc(p, nonce)) {
    return Bad("record header crc mismatch");
  }
  if (le::Get16(p + rhdr::kVersion) != kVolumeFormatVersion) return Bad("unknown record version");
  RecordHeader h;
  uint16_t type = le::Get16(p + rhdr::kType);
  if (type < 1 || type > 3) return Bad("unknown record type");
  h.type = static_cast<RecordType>(type);
  h.num_blocks = le::Get32(p + rhdr::kNumBlocks);
  h.id = ChunkId{le::Get64(p + rhdr::kIdHi), le::Get64(p + rhdr::kIdLo)};
  h.data_length = le::Get64(p + rhdr::kDataLength);
  h.stored_ns = static_cast<int64_t>(le::Get64(p + rhdr::kStoredNs));
  h.offset = le::Get64(p + rhdr::kOffset);
  h.table_crc = le::Get32(p + rhdr::kTableCrc);
  if (h.offset != offset) return Bad("record header names another offset");
  if (h.data_length > kMaxChunkSize) return Bad("record longer than the largest chunk");
  if (h.num_blocks != crc32c::NumBlocks(h.data_length, kBlockSize)) {
    return Bad("record block count does not match its length");
  }
  switch (h.type) {
    case RecordType::kPut:
      if (!h.id.valid()) return Bad("put record with zero id");
      break;
    case RecordType::kDelete:
      if (!h.id.valid() || h.data_length != 0) return Bad("bad delete record");
      break;
    case RecordType::kSeal:
      if (h.id.valid() || h.data_length != 0) return Bad("bad seal record");
      break;
  }
  return h;
}

}  // namespace cairn::chunk

#include "chunk/chunk_store.h"

#include <string>

#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "common/errors.h"

namespace cairn::chunk {

absl::Status ChunkStore::PutComputingCrcs(ChunkId id, std::span<const uint8_t> data) {
  std::vector<uint32_t> crcs = crc32c::BlockCrcs(data, kBlockSize);
  return Put(id, data, crcs);
}

absl::Status ValidatePut(ChunkId id, std::span<const uint8_t> data,
                         std::span<const uint32_t> block_crcs) {
  if (!id.valid()) return Error(Errc::kInvalid, "put: zero chunk id");
  if (data.size() > kMaxChunkSize) {
    return Error(Errc::kInvalid, "put " + id.ToString() + ": " + std::to_string(data.size()) +
                                     " bytes is over the maximum chunk size");
  }
  if (block_crcs.size() != crc32c::NumBlocks(data.size(), kBlockSize)) {
    return Error(Errc::kInvalid, "put " + id.ToString() + ": wrong number of block crcs");
  }
  for (size_t i = 0; i < block_crcs.size(); ++i) {
    size_t pos = i * kBlockSize;
    size_t n = data.size() - pos < kBlockSize ? data.size() - pos : kBlockSize;
    if (crc32c::Value(data.data() + pos, n) != block_crcs[i]) {
      return Error(Errc::kCorrupt,
                   "put " + id.ToString() + ": crc mismatch in block " + std::to_string(i));
    }
  }
  return absl::OkStatus();
}

absl::Status ChunkStore::Quarantine(ChunkId id) {
  return Error(Errc::kNotSupported,
               std::string(Name()) + " store: no quarantine for chunk " + id.ToString());
}

absl::StatusOr<uint64_t> ResolveRange(uint64_t chunk_length, uint64_t offset, uint64_t length) {
  if (offset > chunk_length) return Error(Errc::kRange, "read offset beyond the end of the chunk");
  if (length == kToEnd) return chunk_length - offset;
  if (length > chunk_length - offset) {
    return Error(Errc::kRange, "read range beyond the end of the chunk");
  }
  return length;
}

}  // namespace cairn::chunk

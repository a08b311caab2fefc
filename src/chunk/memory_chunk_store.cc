#include "chunk/memory_chunk_store.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "absl/time/clock.h"
#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::chunk {

absl::Status MemoryChunkStore::Put(ChunkId id, std::span<const uint8_t> data,
                                   std::span<const uint32_t> block_crcs) {
  RETURN_IF_ERROR(ValidatePut(id, data, block_crcs));
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it != chunks_.end()) {
    const Chunk& c = it->second;
    if (c.data.size() == data.size() &&
        (data.empty() || std::memcmp(c.data.data(), data.data(), data.size()) == 0)) {
      return absl::OkStatus();
    }
    return Error(Errc::kExists, "chunk " + id.ToString() + " already stored with other content");
  }
  if (bytes_ + data.size() > capacity_) {
    return Error(Errc::kNoSpace, "memory chunk store is full");
  }
  chunks_.emplace(id, Chunk{std::vector<uint8_t>(data.begin(), data.end()),
                            std::vector<uint32_t>(block_crcs.begin(), block_crcs.end()),
                            absl::ToUnixNanos(absl::Now())});
  bytes_ += data.size();
  return absl::OkStatus();
}

absl::StatusOr<AlignedBuffer> MemoryChunkStore::Get(ChunkId id, uint64_t offset, uint64_t length) {
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  const Chunk& c = it->second;
  ASSIGN_OR_RETURN(uint64_t n, ResolveRange(c.data.size(), offset, length));
  if (n > 0) {
    for (uint64_t b = offset / kBlockSize; b <= (offset + n - 1) / kBlockSize; ++b) {
      uint64_t pos = b * kBlockSize;
      uint64_t len = std::min<uint64_t>(kBlockSize, c.data.size() - pos);
      if (crc32c::Value(c.data.data() + pos, len) != c.crcs[b]) {
        return Error(Errc::kCorrupt,
                     "chunk " + id.ToString() + ": crc mismatch in block " + std::to_string(b));
      }
    }
  }
  return AlignedBuffer::CopyOf(std::span<const uint8_t>(c.data).subspan(offset, n));
}

absl::Status MemoryChunkStore::Delete(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  bytes_ -= it->second.data.size();
  chunks_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ChunkInfo> MemoryChunkStore::Lookup(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return ChunkInfo{id, it->second.data.size()};
}

absl::StatusOr<int64_t> MemoryChunkStore::ModifiedNs(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return it->second.stored_ns;
}

absl::StatusOr<std::vector<ChunkInfo>> MemoryChunkStore::List(std::optional<ChunkId> after,
                                                              size_t limit) {
  absl::MutexLock l(&mu_);
  std::vector<ChunkInfo> out;
  auto it = after ? chunks_.upper_bound(*after) : chunks_.begin();
  for (; it != chunks_.end() && out.size() < limit; ++it) {
    out.push_back(ChunkInfo{it->first, it->second.data.size()});
  }
  return out;
}

absl::StatusOr<StoreStats> MemoryChunkStore::Stat() {
  absl::MutexLock l(&mu_);
  return StoreStats{capacity_, capacity_ - bytes_, chunks_.size(), bytes_};
}

bool MemoryChunkStore::CorruptByteForTest(ChunkId id, uint64_t offset) {
  absl::MutexLock l(&mu_);
  auto it = chunks_.find(id);
  if (it == chunks_.end() || offset >= it->second.data.size()) return false;
  it->second.data[offset] ^= 0x5a;
  return true;
}

}  // namespace cairn::chunk

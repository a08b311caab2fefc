// AlignedBuffer: an owned, page-aligned (4096-byte) byte buffer. Chunk
// payloads live in these from the socket to the disk and back, so later
// O_DIRECT or zero-copy paths need no extra copy.
//
// Large buffers (256 KiB and up) come from a small process-wide cache of
// recently freed ones: a fresh 8 MiB allocation is mmap()ed and every page
// faults and is zeroed on first touch, which measured as the largest cost
// of a loopback chunk read. The cache keeps at most 128 MiB.
//
// Move-only. Not thread-safe for concurrent mutation; concurrent reads of a
// buffer nobody writes are fine. The cache itself is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace cairn {

class AlignedBuffer {
 public:
  static constexpr size_t kAlignment = 4096;

  AlignedBuffer() = default;
  // `size` bytes, uninitialized. Throws std::bad_alloc when memory runs out,
  // as operator new does.
  explicit AlignedBuffer(size_t size);
  ~AlignedBuffer();
  AlignedBuffer(AlignedBuffer&& other) noexcept;
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;

  // A copy of `bytes` in a fresh aligned buffer.
  static AlignedBuffer CopyOf(std::span<const uint8_t> bytes);

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  std::span<uint8_t> span() { return {data_, size_}; }
  std::span<const uint8_t> span() const { return {data_, size_}; }

  // Shrinks the visible size (never grows; the allocation is kept).
  void Truncate(size_t size) {
    if (size < size_) size_ = size;
  }

 private:
  void Release();

  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;  // bytes allocated
};

}  // namespace cairn

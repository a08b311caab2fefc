#include "chunk/crc32c.h"

#include <isa-l/crc.h>

namespace cairn::crc32c {

// ISA-L's crc32_iscsi(buf, len, init) applies neither the initial nor the
// final inversion itself: the standard CRC32C is ~crc32_iscsi(buf, len,
// ~crc) starting from crc = 0 (checked against 0xE3069283 in
// crc32c_test.cc). Its length is an int, so long inputs go in pieces.
uint32_t Extend(uint32_t crc, const void* data, size_t n) {
  // crc32_iscsi takes a non-const pointer but only reads the buffer.
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  uint32_t state = ~crc;
  constexpr size_t kMaxPiece = size_t{1} << 30;
  while (n > 0) {
    size_t piece = n < kMaxPiece ? n : kMaxPiece;
    state = crc32_iscsi(p, static_cast<int>(piece), state);
    p += piece;
    n -= piece;
  }
  return ~state;
}

uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }

void BlockCrcs(std::span<const uint8_t> data, size_t block_size, std::span<uint32_t> out) {
  size_t i = 0;
  for (size_t pos = 0; pos < data.size(); pos += block_size, ++i) {
    size_t n = data.size() - pos < block_size ? data.size() - pos : block_size;
    out[i] = Value(data.data() + pos, n);
  }
}

std::vector<uint32_t> BlockCrcs(std::span<const uint8_t> data, size_t block_size) {
  std::vector<uint32_t> out(NumBlocks(data.size(), block_size));
  BlockCrcs(data, block_size, out);
  return out;
}

}  // namespace cairn::crc32c

// libFuzzer target: the data-protocol frame decoder must reject or accept
// any byte string without crashing, reading out of bounds or hanging, and
// whatever it accepts must re-encode to the same bytes.
//
//   cmake -DCAIRN_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 ... && ninja fuzz_data_frame
//   ./bin/fuzz_data_frame CORPUS_DIR fuzz/corpus/fuzz_data_frame -max_total_time=60
// (the first directory collects new inputs; the seed corpus holds one valid
// frame of every kind as seeds).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>

#include "dataplane/protocol.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::dataplane;
  std::span<const uint8_t> in(data, size);
  auto header = DecodeHeader(in);
  if (header.ok()) {
    uint8_t again[kHeaderSize];
    EncodeHeader(*header, again);
    if (std::memcmp(again, data, kHeaderSize) != 0) std::abort();
    // The sections alone, as the server decodes them.
    if (size >= kHeaderSize + header->extra_length) {
      auto extra = in.subspan(kHeaderSize, header->extra_length);
      (void)DecodeChain(extra);
      (void)DecodeError(*header, extra);
      (void)DecodeStatExtra(extra);
    }
  }
  auto frame = DecodeFrame(in);
  if (frame.ok()) {
    std::vector<uint8_t> bytes = EncodeFrame(frame->header, frame->extra, frame->payload);
    if (bytes.size() != frame->frame_size || std::memcmp(bytes.data(), data, bytes.size()) != 0) {
      std::abort();
    }
  }
  (void)ParseAddress(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}

// The data protocol between clients and chunk servers and along
// replication chains: a pure codec (no I/O). The authoritative description
// is docs/data-protocol.md; the constants point back to it.
//
// A frame is
//   header (64 bytes, fixed) | extra (extra_length bytes) |
//   CRC table (4 bytes per 64 KiB payload block) | payload
// where only WRITE_CHUNK requests and successful READ_CHUNK replies carry
// a payload (and so a CRC table). Every field a peer sends is checked by
// DecodeHeader and the section decoders before anything uses it.
//
// Pure functions and plain structs: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/chunk_format.h"
#include "chunk/chunk_id.h"
#include "chunk/chunk_store.h"
#include "common/errors.h"

namespace cairn::dataplane {

// docs/data-protocol.md, "Constants".
inline constexpr uint32_t kMagic = 0x444E5243;  // bytes "CRND" on the wire
inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 64;
inline constexpr uint32_t kBlockSize = chunk::kBlockSize;      // 64 KiB per payload CRC
inline constexpr uint64_t kMaxPayload = chunk::kMaxChunkSize;  // 64 MiB
inline constexpr size_t kMaxExtra = 4096;
inline constexpr size_t kMaxChainLength = 16;  // servers in a chain, head included
inline constexpr size_t kMaxDownstream = kMaxChainLength - 1;
inline constexpr size_t kMaxAddressLength = 255;
inline constexpr size_t kMaxErrorMessage = 1024;
inline constexpr size_t kStatExtraSize = 32;

// docs/data-protocol.md, "Header": field offsets.
namespace hdr {
inline constexpr size_t kMagic = 0;         // u32
inline constexpr size_t kVersion = 4;       // u8
inline constexpr size_t kOp = 5;            // u8
inline constexpr size_t kFlags = 6;         // u16
inline constexpr size_t kRequestId = 8;     // u64
inline constexpr size_t kChunkHi = 16;      // u64
inline constexpr size_t kChunkLo = 24;      // u64
inline constexpr size_t kOffset = 32;       // u64
inline constexpr size_t kEpoch = 40;        // u64
inline constexpr size_t kLength = 48;       // u32
inline constexpr size_t kExtraLength = 52;  // u16
inline constexpr size_t kStatus = 54;       // u16
inline constexpr size_t kSectionCrc = 56;   // u32
inline constexpr size_t kHeaderCrc = 60;    // u32, CRC32C of bytes [0, 60)
}  // namespace hdr

enum class Op : uint8_t {
  kWriteChunk = 1,
  kReadChunk = 2,
  kDeleteChunk = 3,
  kHasChunk = 4,
  kStat = 5,
};
inline constexpr uint8_t kReplyBit = 0x80;

// Flag bits; any other bit set is an error.
inline constexpr uint16_t kFlagToEnd = 0x0001;  // READ_CHUNK request: read to the chunk's end

std::string_view OpName(Op op);

struct FrameHeader {
  uint8_t op = 0;  // an Op, | kReplyBit in replies
  uint16_t flags = 0;
  uint64_t request_id = 0;
  ChunkId chunk_id;
  uint64_t offset = 0;
  uint64_t epoch = 0;
  uint32_t length = 0;
  uint16_t extra_length = 0;
  uint16_t status = 0;  // an Errc; non-zero only in error replies
  uint32_t section_crc = 0;

  bool is_reply() const { return (op & kReplyBit) != 0; }
  Op code() const { return static_cast<Op>(op & ~kReplyBit); }
  bool is_error() const { return status != 0; }
  // Payload bytes after the section: `length` for WRITE_CHUNK requests and
  // successful READ_CHUNK replies, 0 for every other frame.
  uint32_t payload_length() const;
  uint32_t num_blocks() const;
  // extra_length + 4 * num_blocks: the bytes between header and payload.
  size_t section_length() const;
};

// Writes `h` into `out` (kHeaderSize bytes), with the header CRC.
void EncodeHeader(const FrameHeader& h, std::span<uint8_t> out);

// Decodes and validates a header: size, magic, header CRC, version, op,
// flags, status, lengths and the per-op rules of docs/data-protocol.md.
// Errc::kCorrupt for a CRC mismatch, Errc::kNotSupported for another
// version, Errc::kInvalid for everything else.
absl::StatusOr<FrameHeader> DecodeHeader(std::span<const uint8_t> bytes);

// Checks header.section_crc against the section (extra || CRC table).
absl::Status VerifySection(const FrameHeader& h, std::span<const uint8_t> section);

// The CRC table of a verified section, decoded.
std::vector<uint32_t> SectionCrcs(const FrameHeader& h, std::span<const uint8_t> section);

// ---- WRITE_CHUNK extra: the downstream chain.

// "host:port": host a DNS name, IPv4 literal or [IPv6] literal; port
// 1-65535. Errc::kInvalid otherwise.
absl::Status ValidateAddress(std::string_view address);
struct HostPort {
  std::string host;  // without IPv6 brackets
  uint16_t port = 0;
};
absl::StatusOr<HostPort> ParseAddress(std::string_view address);

absl::StatusOr<std::vector<uint8_t>> EncodeChain(std::span<const std::string> downstream);
absl::StatusOr<std::vector<std::string>> DecodeChain(std::span<const uint8_t> extra);

// ---- Error replies: extra = hop (u8) || message.

struct ErrorInfo {
  Errc code = Errc::kInternal;
  // Which server of the chain failed, counted from the one replying (0:
  // itself, 1: its downstream, ...).
  uint8_t hop = 0;
  std::string message;
};
std::vector<uint8_t> EncodeErrorExtra(uint8_t hop, std::string_view message);
absl::StatusOr<ErrorInfo> DecodeError(const FrameHeader& h, std::span<const uint8_t> extra);

// ---- STAT replies.
std::vector<uint8_t> EncodeStatExtra(const chunk::StoreStats& s);
absl::StatusOr<chunk::StoreStats> DecodeStatExtra(std::span<const uint8_t> extra);

// ---- Whole frames in memory (clients of small frames, tests, fuzzing).

// Builds a frame: sets h.extra_length and h.section_crc, the CRC table of
// `payload` (computed unless `block_crcs` is given), encodes the header.
// `payload` must be h.payload_length() bytes.
std::vector<uint8_t> EncodeFramePrefix(FrameHeader h, std::span<const uint8_t> extra,
                                       std::span<const uint8_t> payload,
                                       std::optional<std::span<const uint32_t>> block_crcs = {});
std::vector<uint8_t> EncodeFrame(const FrameHeader& h, std::span<const uint8_t> extra,
                                 std::span<const uint8_t> payload);

struct DecodedFrame {
  FrameHeader header;
  std::span<const uint8_t> extra;
  std::vector<uint32_t> block_crcs;
  std::span<const uint8_t> payload;
  size_t frame_size = 0;
};
// Decodes one complete frame at the start of `bytes`, checking everything:
// header, section CRC, payload CRCs (Errc::kCorrupt), and the op's extra
// (chain, error, stat). Errc::kInvalid when `bytes` is short.
absl::StatusOr<DecodedFrame> DecodeFrame(std::span<const uint8_t> bytes);

// Verifies payload blocks as they arrive.
class PayloadVerifier {
 public:
  PayloadVerifier(std::span<const uint32_t> crcs, uint64_t length) : crcs_(crcs), length_(length) {}
  // `payload` holds the first `received` bytes; checks every block now
  // complete. Errc::kCorrupt at the first mismatch.
  absl::Status Advance(const uint8_t* payload, uint64_t received);

 private:
  std::span<const uint32_t> crcs_;
  uint64_t length_;
  size_t next_block_ = 0;
};

}  // namespace cairn::dataplane

#include "dataplane/protocol.h"

#include <algorithm>
#include <cstring>

#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "common/status_macros.h"

namespace cairn::dataplane {
namespace {

absl::Status Bad(const std::string& what) { return Error(Errc::kInvalid, "data frame: " + what); }

bool KnownOp(uint8_t op) {
  uint8_t code = op & ~kReplyBit;
  return code >= static_cast<uint8_t>(Op::kWriteChunk) && code <= static_cast<uint8_t>(Op::kStat);
}

// The per-op rules of docs/data-protocol.md, "Operations".
absl::Status CheckRules(const FrameHeader& h) {
  const bool range_ok = h.offset <= kMaxPayload && h.length <= kMaxPayload - h.offset;
  if (h.length > kMaxPayload) return Bad("length over the maximum chunk size");
  if (h.extra_length > kMaxExtra) return Bad("extra section too long");
  if (!h.is_reply()) {
    if (h.status != 0) return Bad("status set in a request");
    switch (h.code()) {
      case Op::kWriteChunk:
        if (h.flags != 0) return Bad("unknown flags");
        if (!h.chunk_id.valid()) return Bad("zero chunk id");
        if (h.offset != 0) return Bad("write with an offset");
        if (h.extra_length == 0) return Bad("write without a chain section");
        return absl::OkStatus();
      case Op::kReadChunk:
        if ((h.flags & ~kFlagToEnd) != 0) return Bad("unknown flags");
        if (!h.chunk_id.valid()) return Bad("zero chunk id");
        if (h.extra_length != 0) return Bad("unexpected extra section");
        if ((h.flags & kFlagToEnd) != 0 && h.length != 0) return Bad("to-end read with a length");
        if (!range_ok) return Bad("read range beyond the maximum chunk size");
        return absl::OkStatus();
      case Op::kDeleteChunk:
      case Op::kHasChunk:
        if (h.flags != 0) return Bad("unknown flags");
        if (!h.chunk_id.valid()) return Bad("zero chunk id");
        if (h.offset != 0 || h.length != 0 || h.extra_length != 0) return Bad("unexpected field");
        return absl::OkStatus();
      case Op::kStat:
        if (h.flags != 0) return Bad("unknown flags");
        if (h.chunk_id.valid() || h.offset != 0 || h.length != 0 || h.extra_length != 0) {
          return Bad("unexpected field");
        }
        return absl::OkStatus();
    }
    return Bad("unknown op");
  }
  if (h.flags != 0) return Bad("flags set in a reply");
  if (h.status != 0) {
    Errc code = ErrcFromInt(h.status);
    if (static_cast<int>(code) != h.status || code == Errc::kOk) return Bad("unknown status");
    if (h.offset != 0 || h.length != 0) return Bad("error reply with a range");
    if (h.extra_length < 1 || h.extra_length > 1 + kMaxErrorMessage) {
      return Bad("bad error reply section");
    }
    return absl::OkStatus();
  }
  switch (h.code()) {
    case Op::kWriteChunk:
    case Op::kHasChunk:
      if (h.offset != 0 || h.extra_length != 0) return Bad("unexpected field");
      return absl::OkStatus();
    case Op::kReadChunk:
      if (h.extra_length != 0) return Bad("unexpected extra section");
      if (!range_ok) return Bad("read range beyond the maximum chunk size");
      return absl::OkStatus();
    case Op::kDeleteChunk:
      if (h.offset != 0 || h.length != 0 || h.extra_length != 0) return Bad("unexpected field");
      return absl::OkStatus();
    case Op::kStat:
      if (h.offset != 0 || h.length != 0 || h.extra_length != kStatExtraSize) {
        return Bad("bad stat reply");
      }
      return absl::OkStatus();
  }
  return Bad("unknown op");
}

bool HostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool Ipv6Char(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' ||
         c == '.';
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kWriteChunk:
      return "WRITE_CHUNK";
    case Op::kReadChunk:
      return "READ_CHUNK";
    case Op::kDeleteChunk:
      return "DELETE_CHUNK";
    case Op::kHasChunk:
      return "HAS_CHUNK";
    case Op::kStat:
      return "STAT";
  }
  return "UNKNOWN";
}

uint32_t FrameHeader::payload_length() const {
  if (status != 0) return 0;
  if (!is_reply() && code() == Op::kWriteChunk) return length;
  if (is_reply() && code() == Op::kReadChunk) return length;
  return 0;
}

uint32_t FrameHeader::num_blocks() const {
  return static_cast<uint32_t>(crc32c::NumBlocks(payload_length(), kBlockSize));
}

size_t FrameHeader::section_length() const { return extra_length + 4 * size_t{num_blocks()}; }

void EncodeHeader(const FrameHeader& h, std::span<uint8_t> out) {
  uint8_t* p = out.data();
  le::Put32(p + hdr::kMagic, kMagic);
  p[hdr::kVersion] = kVersion;
  p[hdr::kOp] = h.op;
  le::Put16(p + hdr::kFlags, h.flags);
  le::Put64(p + hdr::kRequestId, h.request_id);
  le::Put64(p + hdr::kChunkHi, h.chunk_id.hi);
  le::Put64(p + hdr::kChunkLo, h.chunk_id.lo);
  le::Put64(p + hdr::kOffset, h.offset);
  le::Put64(p + hdr::kEpoch, h.epoch);
  le::Put32(p + hdr::kLength, h.length);
  le::Put16(p + hdr::kExtraLength, h.extra_length);
  le::Put16(p + hdr::kStatus, h.status);
  le::Put32(p + hdr::kSectionCrc, h.section_crc);
  le::Put32(p + hdr::kHeaderCrc, crc32c::Value(p, hdr::kHeaderCrc));
}

absl::StatusOr<FrameHeader> DecodeHeader(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderSize) return Bad("short header");
  const uint8_t* p = bytes.data();
  if (le::Get32(p + hdr::kMagic) != kMagic) return Bad("bad magic");
  if (le::Get32(p + hdr::kHeaderCrc) != crc32c::Value(p, hdr::kHeaderCrc)) {
    return Error(Errc::kCorrupt, "data frame: header crc mismatch");
  }
  if (p[hdr::kVersion] != kVersion) {
    return Error(Errc::kNotSupported,
                 "data frame: protocol version " + std::to_string(p[hdr::kVersion]));
  }
  FrameHeader h;
  h.op = p[hdr::kOp];
  if (!KnownOp(h.op)) return Bad("unknown op " + std::to_string(h.op));
  h.flags = le::Get16(p + hdr::kFlags);
  h.request_id = le::Get64(p + hdr::kRequestId);
  h.chunk_id = ChunkId{le::Get64(p + hdr::kChunkHi), le::Get64(p + hdr::kChunkLo)};
  h.offset = le::Get64(p + hdr::kOffset);
  h.epoch = le::Get64(p + hdr::kEpoch);
  h.length = le::Get32(p + hdr::kLength);
  h.extra_length = le::Get16(p + hdr::kExtraLength);
  h.status = le::Get16(p + hdr::kStatus);
  h.section_crc = le::Get32(p + hdr::kSectionCrc);
  RETURN_IF_ERROR(CheckRules(h));
  return h;
}

absl::Status VerifySection(const FrameHeader& h, std::span<const uint8_t> section) {
  if (section.size() != h.section_length()) return Bad("section size mismatch");
  if (crc32c::Value(section) != h.section_crc) {
    return Error(Errc::kCorrupt, "data frame: section crc mismatch");
  }
  return absl::OkStatus();
}

std::vector<uint32_t> SectionCrcs(const FrameHeader& h, std::span<const uint8_t> section) {
  std::vector<uint32_t> out(h.num_blocks());
  const uint8_t* t = section.data() + h.extra_length;
  for (size_t i = 0; i < out.size(); ++i) out[i] = le::Get32(t + 4 * i);
  return out;
}

absl::Status ValidateAddress(std::string_view a) { return ParseAddress(a).status(); }

absl::StatusOr<HostPort> ParseAddress(std::string_view a) {
  auto bad = [&](const char* why) {
    return Error(Errc::kInvalid, "bad address '" + std::string(a.substr(0, 64)) + "': " + why);
  };
  if (a.empty() || a.size() > kMaxAddressLength) return bad("length");
  size_t colon = a.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view host = a.substr(0, colon), port = a.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port[0] == '0') return bad("port");
  uint32_t value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("port");
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value == 0 || value > 65535) return bad("port out of range");
  HostPort out;
  out.port = static_cast<uint16_t>(value);
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return bad("ipv6 brackets");
    host = host.substr(1, host.size() - 2);
    for (char c : host) {
      if (!Ipv6Char(c)) return bad("ipv6 literal");
    }
  } else {
    if (host.empty() || host.size() > 253) return bad("host length");
    for (char c : host) {
      if (!HostChar(c)) return bad("host characters");
    }
  }
  out.host = std::string(host);
  return out;
}

absl::StatusOr<std::vector<uint8_t>> EncodeChain(std::span<const std::string> downstream) {
  if (downstream.size() > kMaxDownstream)
    return Error(Errc::kInvalid, "replication chain too long");
  std::vector<uint8_t> out;
  out.push_back(static_cast<uint8_t>(downstream.size()));
  for (const std::string& a : downstream) {
    RETURN_IF_ERROR(ValidateAddress(a));
    out.push_back(static_cast<uint8_t>(a.size()));
    out.insert(out.end(), a.begin(), a.end());
  }
  if (out.size() > kMaxExtra) return Error(Errc::kInvalid, "replication chain too long");
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeChain(std::span<const uint8_t> extra) {
  if (extra.empty()) return Bad("empty chain section");
  size_t count = extra[0];
  if (count > kMaxDownstream) return Bad("chain longer than " + std::to_string(kMaxChainLength));
  std::vector<std::string> out;
  size_t pos = 1;
  for (size_t i = 0; i < count; ++i) {
    if (pos >= extra.size()) return Bad("chain section truncated");
    size_t n = extra[pos++];
    if (n == 0 || n > extra.size() - pos) return Bad("chain section truncated");
    std::string a(reinterpret_cast<const char*>(extra.data() + pos), n);
    pos += n;
    absl::Status s = ValidateAddress(a);
    if (!s.ok()) return Bad(std::string(s.message()));
    out.push_back(std::move(a));
  }
  if (pos != extra.size()) return Bad("trailing bytes in chain section");
  return out;
}

std::vector<uint8_t> EncodeErrorExtra(uint8_t hop, std::string_view message) {
  if (message.size() > kMaxErrorMessage) message = message.substr(0, kMaxErrorMessage);
  std::vector<uint8_t> out;
  out.reserve(1 + message.size());
  out.push_back(hop);
  out.insert(out.end(), message.begin(), message.end());
  return out;
}

absl::StatusOr<ErrorInfo> DecodeError(const FrameHeader& h, std::span<const uint8_t> extra) {
  if (h.status == 0 || extra.empty() || extra.size() != h.extra_length) {
    return Bad("not an error reply");
  }
  ErrorInfo e;
  e.code = ErrcFromInt(h.status);
  e.hop = extra[0];
  if (e.hop >= kMaxChainLength) return Bad("error hop beyond the chain");
  e.message.assign(reinterpret_cast<const char*>(extra.data() + 1), extra.size() - 1);
  // The text came from another machine: keep it printable.
  for (char& c : e.message) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) c = '?';
  }
  return e;
}

std::vector<uint8_t> EncodeStatExtra(const chunk::StoreStats& s) {
  std::vector<uint8_t> out(kStatExtraSize);
  le::Put64(&out[0], s.capacity_bytes);
  le::Put64(&out[8], s.available_bytes);
  le::Put64(&out[16], s.chunk_count);
  le::Put64(&out[24], s.chunk_bytes);
  return out;
}

absl::StatusOr<chunk::StoreStats> DecodeStatExtra(std::span<const uint8_t> extra) {
  if (extra.size() != kStatExtraSize) return Bad("bad stat section");
  chunk::StoreStats s;
  s.capacity_bytes = le::Get64(&extra[0]);
  s.available_bytes = le::Get64(&extra[8]);
  s.chunk_count = le::Get64(&extra[16]);
  s.chunk_bytes = le::Get64(&extra[24]);
  if (s.available_bytes > s.capacity_bytes) return Bad("stat: available over capacity");
  return s;
}

std::vector<uint8_t> EncodeFramePrefix(FrameHeader h, std::span<const uint8_t> extra,
                                       std::span<const uint8_t> payload,
                                       std::optional<std::span<const uint32_t>> block_crcs) {
  h.extra_length = static_cast<uint16_t>(extra.size());
  const uint32_t nblocks = h.num_blocks();
  std::vector<uint8_t> out(kHeaderSize + extra.size() + 4 * size_t{nblocks});
  if (!extra.empty()) std::memcpy(out.data() + kHeaderSize, extra.data(), extra.size());
  uint8_t* table = out.data() + kHeaderSize + extra.size();
  if (block_crcs) {
    for (uint32_t i = 0; i < nblocks; ++i) le::Put32(table + 4 * i, (*block_crcs)[i]);
  } else {
    std::vector<uint32_t> crcs = crc32c::BlockCrcs(payload.first(h.payload_length()), kBlockSize);
    for (uint32_t i = 0; i < nblocks; ++i) le::Put32(table + 4 * i, crcs[i]);
  }
  h.section_crc = crc32c::Value(out.data() + kHeaderSize, out.size() - kHeaderSize);
  EncodeHeader(h, std::span(out.data(), kHeaderSize));
  return out;
}

std::vector<uint8_t> EncodeFrame(const FrameHeader& h, std::span<const uint8_t> extra,
                                 std::span<const uint8_t> payload) {
  std::vector<uint8_t> out = EncodeFramePrefix(h, extra, payload);
  out.insert(out.end(), payload.begin(), payload.begin() + h.payload_length());
  return out;
}

absl::StatusOr<DecodedFrame> DecodeFrame(std::span<const uint8_t> bytes) {
  DecodedFrame f;
  ASSIGN_OR_RETURN(f.header, DecodeHeader(bytes));
  const FrameHeader& h = f.header;
  const size_t section = h.section_length();
  const size_t total = kHeaderSize + section + h.payload_length();
  if (bytes.size() < total) return Bad("truncated frame");
  std::span<const uint8_t> sec = bytes.subspan(kHeaderSize, section);
  RETURN_IF_ERROR(VerifySection(h, sec));
  f.extra = sec.first(h.extra_length);
  f.block_crcs = SectionCrcs(h, sec);
  f.payload = bytes.subspan(kHeaderSize + section, h.payload_length());
  PayloadVerifier verifier(f.block_crcs, f.payload.size());
  RETURN_IF_ERROR(verifier.Advance(f.payload.data(), f.payload.size()));
  if (h.is_error()) {
    RETURN_IF_ERROR(DecodeError(h, f.extra).status());
  } else if (!h.is_reply() && h.code() == Op::kWriteChunk) {
    RETURN_IF_ERROR(DecodeChain(f.extra).status());
  } else if (h.is_reply() && h.code() == Op::kStat) {
    RETURN_IF_ERROR(DecodeStatExtra(f.extra).status());
  }
  f.frame_size = total;
  return f;
}

absl::Status PayloadVerifier::Advance(const uint8_t* payload, uint64_t received) {
  while (next_block_ < crcs_.size()) {
    uint64_t begin = uint64_t{next_block_} * kBlockSize;
    uint64_t end = std::min<uint64_t>(begin + kBlockSize, length_);
    if (end > received) break;
    if (crc32c::Value(payload + begin, end - begin) != crcs_[next_block_]) {
      return Error(Errc::kCorrupt,
                   "data frame: payload crc mismatch in block " + std::to_string(next_block_));
    }
    ++next_block_;
  }
  return absl::OkStatus();
}

}  // namespace cairn::dataplane

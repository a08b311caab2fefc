#include "cluster/validate.h"

#include <string>

#include "absl/status/statusor.h"
#include "common/errors.h"

namespace cairn::cluster {
namespace {

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}
bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
absl::Status Bad(std::string_view field, std::string_view why) {
  return Invalid(std::string(field) + ": " + std::string(why));
}

}  // namespace

absl::Status CheckHostPort(std::string_view value, std::string_view field, bool required) {
  if (value.empty()) {
    return required ? Bad(field, "required (HOST:PORT)") : absl::OkStatus();
  }
  const size_t colon = value.rfind(':');
  if (colon == std::string_view::npos) return Bad(field, "expected HOST:PORT");
  std::string_view host = value.substr(0, colon);
  std::string_view port = value.substr(colon + 1);
  if (host.empty()) return Bad(field, "empty host");
  if (host.front() == '[') {
    if (host.size() < 4 || host.back() != ']') return Bad(field, "malformed [IPv6] host");
    for (char c : host.substr(1, host.size() - 2)) {
      if (!IsHex(c) && c != ':' && c != '.') return Bad(field, "malformed [IPv6] host");
    }
  } else {
    if (host.size() > kMaxHostLength) return Bad(field, "host longer than 253 bytes");
    for (char c : host) {
      if (!IsHostChar(c)) return Bad(field, "host has a character outside [A-Za-z0-9.-]");
    }
    if (host.front() == '-' || host.front() == '.') return Bad(field, "host starts with - or .");
  }
  if (port.empty() || port.size() > 5) return Bad(field, "port must be 1..65535");
  if (port.front() == '0') return Bad(field, "port must be 1..65535 without leading zeros");
  uint32_t n = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return Bad(field, "port must be decimal");
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  if (n == 0 || n > 65535) return Bad(field, "port must be 1..65535");
  return absl::OkStatus();
}

absl::Status CheckZone(std::string_view zone) {
  if (zone.size() > kMaxZoneLength) return Bad("zone", "longer than 64 bytes");
  for (char c : zone) {
    if (!IsHostChar(c) && c != '_') return Bad("zone", "character outside [A-Za-z0-9._-]");
  }
  return absl::OkStatus();
}

absl::Status CheckReason(std::string_view reason) {
  if (reason.size() > kMaxReasonLength) return Bad("reason", "longer than 1024 bytes");
  for (char c : reason) {
    if (c < 0x20 || c > 0x7e) return Bad("reason", "not printable ASCII");
  }
  return absl::OkStatus();
}

absl::Status CheckNodeId(uint64_t id, std::string_view field) {
  if (id == 0) return Bad(field, "node id 0");
  return absl::OkStatus();
}

absl::StatusOr<ChunkId> ChunkIdFromBytes(std::string_view bytes) {
  if (bytes.size() != 16) {
    return Bad("chunk_id", "expected 16 bytes, got " + std::to_string(bytes.size()));
  }
  ChunkId id;
  for (int i = 0; i < 8; ++i) id.hi = (id.hi << 8) | static_cast<unsigned char>(bytes[i]);
  for (int i = 8; i < 16; ++i) id.lo = (id.lo << 8) | static_cast<unsigned char>(bytes[i]);
  if (!id.valid()) return Bad("chunk_id", "the all-zero id is reserved");
  return id;
}

std::string ChunkIdToBytes(const ChunkId& id) {
  std::string out(16, '\0');
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<char>(id.hi >> (56 - 8 * i));
    out[8 + i] = static_cast<char>(id.lo >> (56 - 8 * i));
  }
  return out;
}

}  // namespace cairn::cluster

// Checks on the fields of Cluster requests (cluster_service.h). Every
// failure is a typed kInvalid naming the field; nothing is accepted that a
// later user of the value (a dialer, the map, a log line) could trip on.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/chunk_id.h"

namespace cairn::cluster {

inline constexpr size_t kMaxHostLength = 253;  // a DNS name
inline constexpr size_t kMaxZoneLength = 64;
inline constexpr size_t kMaxReasonLength = 1024;

// HOST:PORT: HOST a DNS name or IPv4 address (letters, digits, '-', '.';
// at most 253 bytes) or a bracketed IPv6 address ("[::1]"); PORT decimal
// 1..65535 without sign or leading zeros. `required` false accepts "".
absl::Status CheckHostPort(std::string_view value, std::string_view field, bool required);

// A zone: empty, or up to 64 bytes of letters, digits, '-', '_', '.'.
absl::Status CheckZone(std::string_view zone);

// Free text kept in logs: at most 1024 bytes, printable ASCII only.
absl::Status CheckReason(std::string_view reason);

// A node id in a request: nonzero.
absl::Status CheckNodeId(uint64_t id, std::string_view field);

// A chunk id on the wire: exactly 16 bytes, hi then lo, big-endian; not
// the reserved all-zero id.
absl::StatusOr<ChunkId> ChunkIdFromBytes(std::string_view bytes);
std::string ChunkIdToBytes(const ChunkId& id);

}  // namespace cairn::cluster

// The one translation between Cairn's typed errors and gRPC statuses, used
// by every gRPC server (src/service) and client (src/client).
//
// On the wire an error is a gRPC status with the canonical code (absl and
// gRPC codes have the same numbers) and the message, plus the precise Errc
// as a decimal integer in the trailing metadata key "cairn-errc". The
// receiver rebuilds a status with that Errc, so ErrcOf() and ToErrno() give
// the same answer on both sides. A status without the trailer (one made by
// gRPC itself: deadline, unreachable server, message too large) maps from
// its canonical code.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include <grpcpp/client_context.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cairn::service {

inline constexpr char kErrcTrailer[] = "cairn-errc";

// Server side: the gRPC status for `status`; also adds the "cairn-errc"
// trailer to `context` when `status` is an error.
grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context);

// The gRPC status alone and the trailer value (the Errc number as text;
// empty for OK), for callers that ship the trailer themselves.
grpc::Status ToGrpcStatusOnly(const absl::Status& status);
std::string ErrcTrailerValue(const absl::Status& status);

// Client side: rebuilds the typed status from a finished call.
absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context);
// Same, from the trailer's value (empty when absent).
absl::Status FromGrpcStatus(const grpc::Status& status, std::string_view errc_trailer);

}  // namespace cairn::service

#include "service/grpc_status.h"

#include <charconv>
#include <string>

#include "common/errors.h"

namespace cairn::service {

grpc::Status ToGrpcStatusOnly(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string ErrcTrailerValue(const absl::Status& status) {
  if (status.ok()) return {};
  return std::to_string(static_cast<int>(ErrcOf(status)));
}

grpc::Status ToGrpcStatus(const absl::Status& status, grpc::ServerContextBase* context) {
  if (status.ok()) return grpc::Status::OK;
  if (context != nullptr) context->AddTrailingMetadata(kErrcTrailer, ErrcTrailerValue(status));
  return ToGrpcStatusOnly(status);
}

absl::Status FromGrpcStatus(const grpc::Status& status, std::string_view errc_trailer) {
  if (status.ok()) return absl::OkStatus();
  int value = 0;
  auto [end, ec] =
      std::from_chars(errc_trailer.data(), errc_trailer.data() + errc_trailer.size(), value);
  if (!errc_trailer.empty() && ec == std::errc() &&
      end == errc_trailer.data() + errc_trailer.size() && value > 0) {
    Errc code = ErrcFromInt(value);
    return Error(code, status.error_message());
  }
  // Made by gRPC itself (or a peer that does not speak Cairn): the
  // canonical code decides.
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::Status FromGrpcStatus(const grpc::Status& status, const grpc::ClientContext& context) {
  if (status.ok()) return absl::OkStatus();
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find(kErrcTrailer);
  if (it == trailers.end()) return FromGrpcStatus(status, std::string_view());
  return FromGrpcStatus(status, std::string_view(it->second.data(), it->second.size()));
}

}  // namespace cairn::service

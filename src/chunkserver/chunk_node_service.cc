#include "chunkserver/chunk_node_service.h"

#include "service/grpc_status.h"

namespace cairn::chunkserver {

grpc::ServerUnaryReactor* ChunkNodeService::GetStatus(grpc::CallbackServerContext* ctx,
                                                      const proto::GetStatusRequest* /*req*/,
                                                      proto::ChunkNodeStatus* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<proto::ChunkNodeStatus> status = status_();
  if (status.ok()) *reply = std::move(*status);
  reactor->Finish(service::ToGrpcStatus(status.status(), ctx));
  return reactor;
}

}  // namespace cairn::chunkserver

// ChunkNodeService: the cairn.proto.ChunkNode gRPC service of a chunk
// server (proto/chunk.proto), callback API. GetStatus only, for now; the
// admin calls (scrub, recovery) will join it.
//
// Ownership and thread-safety: `status` is called on gRPC's callback
// threads, concurrently; it must be thread-safe, quick, and outlive the
// service. Register with a grpc::ServerBuilder.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "chunk.grpc.pb.h"

namespace cairn::chunkserver {

class ChunkNodeService final : public proto::ChunkNode::CallbackService {
 public:
  using StatusFn = std::function<absl::StatusOr<proto::ChunkNodeStatus>()>;
  explicit ChunkNodeService(StatusFn status) : status_(std::move(status)) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const proto::GetStatusRequest* req,
                                      proto::ChunkNodeStatus* reply) override;

 private:
  const StatusFn status_;
};

}  // namespace cairn::chunkserver

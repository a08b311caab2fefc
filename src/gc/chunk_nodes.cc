#include "gc/chunk_nodes.h"

#include <chrono>

#include <grpcpp/grpcpp.h>

#include "service/grpc_status.h"

namespace cairn::gc {

proto::ChunkNode::Stub* GrpcChunkNodes::StubFor(const std::string& address) {
  absl::MutexLock lock(&mu_);
  auto& stub = stubs_[address];
  if (stub == nullptr) {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    stub = proto::ChunkNode::NewStub(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  return stub.get();
}

absl::StatusOr<proto::ListChunksReply> GrpcChunkNodes::ListChunks(
    const std::string& address, const proto::ListChunksRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  proto::ListChunksReply reply;
  grpc::Status s = StubFor(address)->ListChunks(&ctx, req, &reply);
  if (!s.ok()) return service::FromGrpcStatus(s, ctx);
  return reply;
}

absl::StatusOr<proto::DeleteChunksReply> GrpcChunkNodes::DeleteChunks(
    const std::string& address, const proto::DeleteChunksRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoMilliseconds(timeout_));
  proto::DeleteChunksReply reply;
  grpc::Status s = StubFor(address)->DeleteChunks(&ctx, req, &reply);
  if (!s.ok()) return service::FromGrpcStatus(s, ctx);
  return reply;
}

}  // namespace cairn::gc

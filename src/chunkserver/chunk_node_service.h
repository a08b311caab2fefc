// ChunkNodeService: the cairn.proto.ChunkNode gRPC service of a chunk
// server (proto/chunk.proto), callback API: GetStatus, ListChunks (pages
// of the chunks held, optionally of one placement group: recovery and
// reconciliation read them), DeleteChunks (batches from GC), StartScrub and
// GetScrubStatus (scrubber.h; kUnavailable without a scrubber).
//
// Ownership and thread-safety: `status` is called on gRPC's callback
// threads, concurrently; it must be thread-safe, quick, and outlive the
// service; so must `store`. Register with a grpc::ServerBuilder.
// ListChunks and DeleteChunks touch the disk: they run on gRPC's callback
// threads, bounded by their page and batch limits. `scrubber` (may be
// null) must outlive the service too.
#pragma once

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"
#include "chunk.grpc.pb.h"
#include "chunk/chunk_store.h"
#include "chunkserver/scrubber.h"

namespace cairn::chunkserver {

inline constexpr uint32_t kListChunksDefaultLimit = 10'000;
inline constexpr uint32_t kListChunksMaxLimit = 100'000;
inline constexpr int kDeleteChunksMaxIds = 10'000;

class ChunkNodeService final : public proto::ChunkNode::CallbackService {
 public:
  using StatusFn = std::function<absl::StatusOr<proto::ChunkNodeStatus>()>;
  ChunkNodeService(StatusFn status, chunk::ChunkStore* store, Scrubber* scrubber = nullptr)
      : status_(std::move(status)), store_(store), scrubber_(scrubber) {}

  grpc::ServerUnaryReactor* GetStatus(grpc::CallbackServerContext* ctx,
                                      const proto::GetStatusRequest* req,
                                      proto::ChunkNodeStatus* reply) override;
  grpc::ServerUnaryReactor* ListChunks(grpc::CallbackServerContext* ctx,
                                       const proto::ListChunksRequest* req,
                                       proto::ListChunksReply* reply) override;
  grpc::ServerUnaryReactor* DeleteChunks(grpc::CallbackServerContext* ctx,
                                         const proto::DeleteChunksRequest* req,
                                         proto::DeleteChunksReply* reply) override;
  grpc::ServerUnaryReactor* StartScrub(grpc::CallbackServerContext* ctx,
                                       const proto::StartScrubRequest* req,
                                       proto::StartScrubReply* reply) override;
  grpc::ServerUnaryReactor* GetScrubStatus(grpc::CallbackServerContext* ctx,
                                           const proto::GetScrubStatusRequest* req,
                                           proto::ScrubStatus* reply) override;

 private:
  const StatusFn status_;
  chunk::ChunkStore* const store_;
  Scrubber* const scrubber_;
};

// The scrubber's status as GetScrubStatus answers it.
proto::ScrubStatus ScrubStatusToProto(const Scrubber& scrubber, const ScrubStatus& status);

// The handlers' work, without gRPC (unit tests call these).
absl::Status ListChunksOf(chunk::ChunkStore& store, const proto::ListChunksRequest& req,
                          proto::ListChunksReply* reply);
absl::Status DeleteChunksIn(chunk::ChunkStore& store, const proto::DeleteChunksRequest& req,
                            proto::DeleteChunksReply* reply);

}  // namespace cairn::chunkserver

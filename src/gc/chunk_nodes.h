// ChunkNodes: how the garbage collector talks to chunk servers — one page
// of ListChunks and one DeleteChunks batch, addressed by a node's gRPC
// address. An interface so the collector's tests can use fake nodes;
// GrpcChunkNodes is the real one (cairn.proto.ChunkNode, proto/chunk.proto).
//
// Ownership and thread-safety: implementations are thread-safe.
// GrpcChunkNodes keeps one channel per address for its lifetime.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunk.grpc.pb.h"

namespace cairn::gc {

class ChunkNodes {
 public:
  virtual ~ChunkNodes() = default;
  // One page of the node's chunks. An unreachable node: kUnavailable.
  virtual absl::StatusOr<proto::ListChunksReply> ListChunks(
      const std::string& address, const proto::ListChunksRequest& req) = 0;
  // One batch (1..10,000 ids). The reply counts deleted / not_found and
  // lists the ids that failed.
  virtual absl::StatusOr<proto::DeleteChunksReply> DeleteChunks(
      const std::string& address, const proto::DeleteChunksRequest& req) = 0;
};

class GrpcChunkNodes final : public ChunkNodes {
 public:
  // `timeout`: the deadline of each call. Default 30 s (a page of 10,000
  // chunks with times is one stat per chunk).
  explicit GrpcChunkNodes(absl::Duration timeout = absl::Seconds(30)) : timeout_(timeout) {}

  absl::StatusOr<proto::ListChunksReply> ListChunks(const std::string& address,
                                                    const proto::ListChunksRequest& req) override;
  absl::StatusOr<proto::DeleteChunksReply> DeleteChunks(
      const std::string& address, const proto::DeleteChunksRequest& req) override;

 private:
  proto::ChunkNode::Stub* StubFor(const std::string& address);

  const absl::Duration timeout_;
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<proto::ChunkNode::Stub>> stubs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cairn::gc

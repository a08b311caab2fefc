// Rpc: the client library's gRPC channels to meta and the one way every
// part of the library calls it (Meta and Cluster services), with the
// per-call deadline and the typed status rebuilt from the "cairn-errc"
// trailer (service/grpc_status.h).
//
// Thread-safety: thread-safe; calls from many threads share the channels
// (taken in turn when there are several).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cluster.grpc.pb.h"
#include "meta.grpc.pb.h"
#include "service/grpc_status.h"

namespace cairn::client {

class Rpc {
 public:
  using MetaStub = proto::Meta::Stub;
  using ClusterStub = proto::Cluster::Stub;

  // One Meta and one Cluster stub per channel; `timeout` bounds each call.
  Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout);

  // One unary call of the Meta service.
  template <typename Req, typename Reply>
  absl::Status Meta(grpc::Status (MetaStub::*method)(grpc::ClientContext*, const Req&, Reply*),
                    const Req& req, Reply* reply) {
    return Invoke(*meta_[Next()], method, req, reply);
  }

  // One unary call of the Cluster service.
  template <typename Req, typename Reply>
  absl::Status Cluster(grpc::Status (ClusterStub::*method)(grpc::ClientContext*, const Req&,
                                                           Reply*),
                       const Req& req, Reply* reply) {
    return Invoke(*cluster_[Next()], method, req, reply);
  }

  absl::Duration timeout() const { return timeout_; }

 private:
  size_t Next() {
    return meta_.size() == 1 ? 0 : next_.fetch_add(1, std::memory_order_relaxed) % meta_.size();
  }

  template <typename Stub, typename Req, typename Reply>
  absl::Status Invoke(Stub& stub,
                      grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Reply*),
                      const Req& req, Reply* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout_));
    grpc::Status status = (stub.*method)(&ctx, req, reply);
    if (status.ok()) return absl::OkStatus();
    return service::FromGrpcStatus(status, ctx);
  }

  const absl::Duration timeout_;
  std::vector<std::unique_ptr<MetaStub>> meta_;
  std::vector<std::unique_ptr<ClusterStub>> cluster_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace cairn::client

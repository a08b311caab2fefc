// Rpc: the client library's gRPC channels to meta and the one way every
// part of the library calls it (Meta and Cluster services), with the
// per-call deadline and the typed status rebuilt from the "cairn-errc"
// trailer (service/grpc_status.h).
//
// Riding out a meta restart (docs/durability.md): with a retry deadline, a
// call that cannot reach meta waits for the channel to connect (gRPC's
// wait-for-ready; the channel reconnects with back-off), and a call cut
// off without an answer (the connection dropped, or the per-attempt
// timeout passed) is sent again, with back-off, until the deadline.
// Repeating is safe because
//  - every mutating Meta request (one with a `request_id` field) is
//    stamped once with this client's random id and a fresh sequence
//    number, and every copy carries the same id: meta applies it once and
//    answers a repeat with the recorded outcome (docs/metadata.md,
//    "Repeated requests");
//  - every other Meta call only reads (or, Fsync, only makes durable);
//  - of the Cluster calls only GetClusterMap (a read) is repeated; the
//    reports (ReportNodeFailure, ReportBadChunk, ...) are hints sent once.
// A call answered by meta, with success or a typed error, is never
// repeated. Batches travel on streams kept open (client/batch_pipe.h,
// client/batch_stream.h); a broken stream is replaced and its batch
// repeated the same way.
//
// Thread-safety: thread-safe; calls from many threads share the channels
// (taken in turn when there are several).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <type_traits>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/batch_pipe.h"
#include "client/batch_stream.h"
#include "client/meta_batch.h"
#include "cluster.grpc.pb.h"
#include "meta.grpc.pb.h"
#include "service/grpc_status.h"

namespace cairn::client {

struct RpcOptions {
  // Deadline of each attempt of a call.
  absl::Duration timeout = absl::Seconds(30);
  // Bound on a call with all its attempts once meta has answered this
  // client once (ClientOptions::meta_retry_deadline). Zero: one attempt,
  // failing at once while meta cannot be reached.
  absl::Duration retry_deadline = absl::ZeroDuration();
  // Bound before meta has ever answered (ClientOptions::
  // meta_connect_deadline), also capped by `timeout` and retry_deadline:
  // a wrong address is reported soon.
  absl::Duration connect_deadline = absl::ZeroDuration();
  // Batching of namespace calls (client/batch_pipe.h): batches out at once
  // (ClientOptions::meta_batch_in_flight); 0 sends every call on its own.
  size_t batch_in_flight = 0;
  // Operations per batch at most (meta takes up to 256).
  size_t batch_max_ops = 64;
};

class Rpc {
 public:
  using MetaStub = proto::Meta::Stub;
  using ClusterStub = proto::Cluster::Stub;

  // One Meta and one Cluster stub per channel; `timeout` bounds each call,
  // which is tried once.
  Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout);
  Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, const RpcOptions& options);

  // One call of the Meta service: a namespace operation goes in a batch
  // when batching is on, anything else as its own unary call. A mutating
  // request is sent with a request id (unless it carries one already).
  template <typename Req, typename Reply>
  absl::Status Meta(grpc::Status (MetaStub::*method)(grpc::ClientContext*, const Req&, Reply*),
                    const Req& req, Reply* reply) {
    if constexpr (requires(Req & r) { r.mutable_request_id(); }) {
      if (!req.has_request_id()) {
        Req stamped = req;
        stamped.mutable_request_id()->set_client(client_id_);
        stamped.mutable_request_id()->set_seq(next_seq_.fetch_add(1, std::memory_order_relaxed));
        return Send(method, std::move(stamped), reply);
      }
    }
    return Send(method, req, reply);
  }

  // One unary call of the Cluster service.
  template <typename Req, typename Reply>
  absl::Status Cluster(grpc::Status (ClusterStub::*method)(grpc::ClientContext*, const Req&,
                                                           Reply*),
                       const Req& req, Reply* reply) {
    const size_t i = Next();
    constexpr bool kRepeat = std::is_same_v<Req, proto::GetClusterMapRequest>;
    return Invoke(*cluster_[i], i, kRepeat, method, req, reply);
  }

  absl::Duration timeout() const { return options_.timeout; }
  // The random id this client's mutating requests carry (never 0).
  uint64_t client_id() const { return client_id_; }

 private:
  // The attempts of one call: deadlines, when to repeat, back-off, and
  // the status to give up with (rpc.cc).
  class Attempts {
   public:
    // `start`: when the call's first attempt began.
    Attempts(Rpc* rpc, size_t channel, bool repeat, absl::Time start = absl::Now());
    // Sets the deadline (and wait-for-ready) of the next attempt.
    void Prepare(grpc::ClientContext* ctx) const;
    // The next attempt's deadline, and whether it waits for the channel
    // to connect.
    absl::Time Deadline() const;
    bool WaitForReady() const { return window_ > absl::ZeroDuration(); }
    size_t channel() const { return channel_; }
    // After an attempt: true to make another one (after a back-off sleep),
    // false with the call's outcome in *result.
    bool Again(const grpc::Status& status, const grpc::ClientContext& ctx, absl::Status* result);

   private:
    absl::Status GiveUp(const absl::Status& last) const;

    Rpc* const rpc_;
    const size_t channel_;
    const absl::Time start_;
    absl::Duration window_;  // zero: a single attempt
    absl::Time end_;
    absl::Duration backoff_;
  };

  template <typename Req, typename Reply>
  absl::Status Send(grpc::Status (MetaStub::*method)(grpc::ClientContext*, const Req&, Reply*),
                    Req req, Reply* reply) {
    if constexpr (kBatchable<Req>) {
      proto::MetaOp op;
      if (batcher_ != nullptr && PackOp(method, &req, &op)) {
        proto::MetaOpReply r;
        absl::Status st = unary_batches_.load(std::memory_order_relaxed)
                              ? batcher_->Run(std::move(op), &r)
                              : pipe_->Run(std::move(op), &r);
        reply->Clear();
        if (st.ok()) UnpackReply(&r, reply);
        return st;
      }
    }
    const size_t i = Next();
    return Invoke(*meta_[i], i, /*repeat=*/true, method, req, reply);
  }

  // One batch on a stream of the pool (opened when none is free), waited
  // for on the caller's thread, with the attempts of a call: the path of
  // a lone caller's batch (BatchPipe's `alone`), and of a batch whose
  // first attempt failed in the pipe (RetryBatch). A stream that fails is
  // dropped; one taken from the pool that could not even send the batch
  // (it died with an earlier meta or connection) gets one more try on a
  // new stream before that counts as an attempt: the batch never left the
  // client. A meta that has no batch streams gets Meta.Batch calls (for
  // the life of this client).
  absl::Status SendBatch(const proto::BatchRequest& req, proto::BatchReply* reply);
  absl::Status SendBatchOn(Attempts* attempts, std::unique_ptr<BatchStream> stream,
                           const proto::BatchRequest& req, proto::BatchReply* reply);
  // The rest of a batch's attempts after its first, in the pipe, failed.
  absl::Status RetryBatch(const BatchPipe::Failure& failure, const proto::BatchRequest& req,
                          proto::BatchReply* reply);
  // The first attempt of a batch in the pipe.
  BatchPipe::Attempt FirstBatchAttempt();

  size_t Next() {
    return meta_.size() == 1 ? 0 : next_.fetch_add(1, std::memory_order_relaxed) % meta_.size();
  }

  template <typename Stub, typename Req, typename Reply>
  absl::Status Invoke(Stub& stub, size_t channel, bool repeat,
                      grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Reply*),
                      const Req& req, Reply* reply) {
    Attempts attempts(this, channel, repeat);
    for (;;) {
      grpc::ClientContext ctx;
      attempts.Prepare(&ctx);
      reply->Clear();
      grpc::Status status = (stub.*method)(&ctx, req, reply);
      absl::Status result;
      if (!attempts.Again(status, ctx, &result)) return result;
    }
  }

  const RpcOptions options_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<MetaStub>> meta_;
  std::vector<std::unique_ptr<ClusterStub>> cluster_;
  std::atomic<uint64_t> next_{0};
  const uint64_t client_id_;
  std::atomic<uint64_t> next_seq_{1};
  // Meta has answered a call of this client (success or a typed error).
  std::atomic<bool> reached_{false};
  // Meta answered a batch stream with UNIMPLEMENTED (an older server):
  // batches go as Meta.Batch calls.
  std::atomic<bool> unary_batches_{false};
  // Open batch streams of SendBatch no sender is using (at most
  // batch_in_flight).
  absl::Mutex streams_mu_;
  std::vector<std::unique_ptr<BatchStream>> free_streams_ ABSL_GUARDED_BY(streams_mu_);
  // Declared last: destroyed first, while the stubs and streams exist.
  // Batching on: batches go through pipe_, or through batcher_ as
  // Meta.Batch calls once unary_batches_ is set.
  std::unique_ptr<MetaBatcher> batcher_;  // null: batching off
  std::unique_ptr<BatchPipe> pipe_;
};

}  // namespace cairn::client

// BatchStream: one Meta.BatchStream call, which carries the batches of one
// sender at a time (a lone caller or a retry, client/rpc.h), each answered
// on it in order (BatchPipe drives the streams of concurrent callers).
// A message on an open stream costs gRPC much less than a call of its own
// (no call set-up, headers, trailers or deadline timer): docs/BENCHMARKS.md,
// "Batches on streams".
//
// The stream is driven from the caller's thread through a completion queue
// of its own, so that each batch is waited for with a deadline of its own
// (a stream has one deadline for its whole life). Once a batch fails
// (no answer in time, the connection dropped, meta stopping, a batch
// refused whole) the stream is broken: the caller reads the status and
// opens another.
//
// Thread-safety: one caller at a time.
#pragma once

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "meta.grpc.pb.h"

namespace cairn::client {

// The status of a batch whose stream ended without its answer: `status`
// (the call's final one), DEADLINE_EXCEEDED when we cancelled it for
// `timed_out` and meta had not answered first, UNAVAILABLE when meta
// ended the stream with OK.
grpc::Status UnansweredBatchStatus(const grpc::Status& status, bool timed_out);

class BatchStream {
 public:
  // Opens the stream on `stub`; with `wait_for_ready` the call waits for
  // the channel to connect instead of failing while meta is away.
  BatchStream(proto::Meta::Stub& stub, size_t channel, bool wait_for_ready);
  ~BatchStream();  // cancels the call if it is still open
  BatchStream(const BatchStream&) = delete;
  BatchStream& operator=(const BatchStream&) = delete;

  // Sends `req` and waits for its reply until `deadline`. OK: *reply is
  // the answer and the stream can carry the next batch. Otherwise the
  // stream is broken and this is its final status, with the server's
  // trailers (if any) in context().
  grpc::Status Send(const proto::BatchRequest& req, proto::BatchReply* reply, absl::Time deadline);

  // The channel it was opened on.
  size_t channel() const { return channel_; }
  // Has carried at least one batch.
  bool used() const { return used_; }
  // The last batch never left the client (its write failed: the call was
  // already over).
  bool write_failed() const { return write_failed_; }
  const grpc::ClientContext& context() const { return ctx_; }

 private:
  // Waits for the outstanding operations until `deadline`; false when one
  // failed or the deadline passed (*timed_out).
  bool Wait(absl::Time deadline, bool* timed_out);
  // Waits for every outstanding operation, cancelling the call when they
  // take longer than a short bound.
  void Drain();
  // Ends the broken call: its final status (DEADLINE_EXCEEDED after
  // `timed_out` unless meta's status arrived first; UNAVAILABLE when meta
  // ended the stream with OK, i.e. without an answer).
  grpc::Status Break(bool timed_out);

  const size_t channel_;
  grpc::ClientContext ctx_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<proto::BatchRequest, proto::BatchReply>> rw_;
  int outstanding_ = 0;  // operations started, not yet back from cq_
  bool broken_ = false;
  bool used_ = false;
  bool write_failed_ = false;
};

}  // namespace cairn::client

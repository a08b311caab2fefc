// BatchPipe: gathers the metadata calls a client's threads make at the
// same time into batches on kept-open Meta.BatchStream calls, driven by
// one thread of its own (docs/metadata.md, "Batches").
//
// A call queues its operation. While fewer than `in_flight` batches are
// out, the caller sends what is queued (up to `max_ops`) at once as the
// next batch: on its own thread through `alone` when no other batch is
// out (a lone caller waits for its answer itself, without a hop to
// another thread), else on a free stream of the pipe. The pipe's thread
// waits on the one completion queue of all its streams: when a batch's
// reply arrives it hands each caller its reply (waking only the callers)
// and sends whatever queued meanwhile on the same stream. So a lone
// thread sees one round trip per call, and many threads see batches about
// as large as the number waiting, with no thread taking turns at sending
// and waiting (docs/BENCHMARKS.md, "Batches driven by one thread").
//
// A batch that fails on a stream (no answer by its deadline, the
// connection dropped, meta stopping, a batch refused whole) is not
// retried here: the stream is dropped and the batch handed, with the
// failure, to the first of its callers, which runs `retry` on its own
// thread (the call's further attempts, client/rpc.h) and hands the
// others their replies; the slot stays taken until then (batches out,
// retries included, stay at most `in_flight`). The next batch on that
// slot opens a new stream.
//
// Thread-safety: Run is thread-safe. `start`, `alone` and `retry` run on
// callers' threads (and `start` on the pipe's), never under its lock;
// `alone` and `retry` may block. `reached` runs on the pipe's thread
// under its lock: it must be quick and must not call back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "meta.grpc.pb.h"

namespace cairn::client {

class BatchPipe {
 public:
  // How a batch's first attempt is made: its deadline, and whether a new
  // stream waits for the channel to connect.
  struct Attempt {
    absl::Time deadline;
    bool wait_for_ready = false;
  };
  // A batch that failed on its stream.
  struct Failure {
    size_t channel = 0;
    absl::Time start;  // when the batch was sent
    grpc::Status status;
    // The failed call (its server trailers); valid until `retry` returns.
    const grpc::ClientContext* context = nullptr;
    // The batch never left the client: a stream that had carried batches
    // could not take it (it died with an earlier meta or connection).
    bool never_sent = false;
  };
  using Start = std::function<Attempt()>;
  // Sends a batch and returns its transport status (attempts included).
  using SendBatch = std::function<absl::Status(const proto::BatchRequest&, proto::BatchReply*)>;
  using Retry =
      std::function<absl::Status(const Failure&, const proto::BatchRequest&, proto::BatchReply*)>;
  using Reached = std::function<void()>;

  // Streams go round-robin over `stubs` (not owned; they must outlive the
  // pipe). `max_ops` is capped at what meta takes in one batch. `alone`
  // may be empty: lone callers use the pipe too.
  BatchPipe(std::vector<proto::Meta::Stub*> stubs, size_t in_flight, size_t max_ops,
            absl::Duration timeout, Start start, SendBatch alone, Retry retry, Reached reached);
  // Cancels the open streams and stops the thread; no Run may be under way.
  ~BatchPipe();
  BatchPipe(const BatchPipe&) = delete;
  BatchPipe& operator=(const BatchPipe&) = delete;

  // Runs `op` in some batch; returns its status (the batch's, when the
  // batch as a whole failed) and, when OK, its reply in *reply.
  absl::Status Run(proto::MetaOp op, proto::MetaOpReply* reply);

  // Batches answered on the pipe's streams and the operations they
  // carried; batches sent through `alone` (for tests and benchmarks).
  uint64_t batches() const;
  uint64_t ops() const;
  uint64_t alone_batches() const;

 private:
  struct Waiter;
  struct Stream;
  struct Slot;

  // Moves up to max_ops_ queued callers into `slot`'s batch.
  void Take(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After `slot`'s batch: takes the next one when callers are queued
  // (true: send it), else frees the slot.
  bool Release(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks for the final status of `slot`'s call (its stream is done with).
  void EndCall(Slot* slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sends `slot`'s batch on its stream (opening one when it has none).
  void Send(Slot* slot) ABSL_LOCKS_EXCLUDED(mu_);
  // A lone caller's batch through `alone_`, then the slot passed on.
  void SendAlone(Slot* slot) ABSL_LOCKS_EXCLUDED(mu_);
  // A batch sent on a caller's thread (alone_, retry_) came back with
  // `sent` and *reply: hands each caller its outcome, then passes `slot`
  // on (the next queued batch, or free).
  void HandBack(Slot* slot, const std::vector<Waiter*>& batch, absl::Status sent,
                proto::BatchReply* reply, bool alone) ABSL_LOCKS_EXCLUDED(mu_);
  // The pipe's thread.
  void Poll() ABSL_LOCKS_EXCLUDED(mu_);
  // A stream's operation came back.
  void Complete(Stream* stream, int kind, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // Called with mu_ held, which they release. Deliver: both operations
  // of `slot`'s batch came back OK: hands out the replies and sends the
  // next batch or frees the slot. Fail: the call of `slot`'s stream is
  // over after its batch failed: hands the batch, and the slot, to its
  // first caller.
  void Deliver(Slot* slot) ABSL_UNLOCK_FUNCTION(mu_);
  void Fail(Slot* slot) ABSL_UNLOCK_FUNCTION(mu_);
  // Cancels the calls past their batch's deadline (or stuck finishing);
  // returns when to look again.
  absl::Time CancelLate(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The caller was handed a failed batch: runs `retry`, hands out the
  // replies and passes the batch's slot on.
  void RunRetry(Waiter* self) ABSL_LOCKS_EXCLUDED(mu_);

  const std::vector<proto::Meta::Stub*> stubs_;
  const size_t max_ops_;
  const absl::Duration tick_;  // the longest the thread waits between looks
  const Start start_;
  const SendBatch alone_;
  const Retry retry_;
  const Reached reached_;
  grpc::CompletionQueue cq_;
  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> free_ ABSL_GUARDED_BY(mu_);
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int active_ops_ ABSL_GUARDED_BY(mu_) = 0;       // operations of all streams not back yet
  size_t next_channel_ ABSL_GUARDED_BY(mu_) = 0;  // of the next stream opened
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ops_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t alone_batches_ ABSL_GUARDED_BY(mu_) = 0;
  grpc::Alarm wake_;  // set by the destructor
  std::thread thread_;
};

}  // namespace cairn::client

#include "client/rpc.h"

#include <algorithm>
#include <random>
#include <string>

#include "absl/time/clock.h"
#include "common/errors.h"

namespace cairn::client {
namespace {

constexpr absl::Duration kFirstBackoff = absl::Milliseconds(50);
constexpr absl::Duration kMaxBackoff = absl::Seconds(1);

uint64_t RandomClientId() {
  std::random_device rd;
  uint64_t id = 0;
  while (id == 0) id = (uint64_t{rd()} << 32) ^ rd();
  return id;
}

// A status gRPC made itself because the call got no answer: meta was not
// reachable, the connection dropped (UNAVAILABLE; CANCELLED when the
// server went away mid-call), or the attempt's deadline passed. The call
// may or may not have been applied.
bool NoAnswer(const grpc::Status& status, const grpc::ClientContext& ctx) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      break;
    default:
      return false;
  }
  return ctx.GetServerTrailingMetadata().count(service::kErrcTrailer) == 0;
}

// Meta has no Meta.BatchStream (an older server, UNIMPLEMENTED made by
// gRPC, not by meta): batches go as Meta.Batch calls of their own.
bool NoBatchStreams(const grpc::Status& status, const grpc::ClientContext& ctx) {
  return status.error_code() == grpc::StatusCode::UNIMPLEMENTED &&
         ctx.GetServerTrailingMetadata().count(service::kErrcTrailer) == 0;
}

std::string Seconds(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Milliseconds(100)));
}

}  // namespace

Rpc::Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout)
    : Rpc(channels, RpcOptions{timeout, absl::ZeroDuration(), absl::ZeroDuration()}) {}

Rpc::Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, const RpcOptions& options)
    : options_(options), channels_(channels), client_id_(RandomClientId()) {
  for (const auto& channel : channels) {
    meta_.push_back(proto::Meta::NewStub(channel));
    cluster_.push_back(proto::Cluster::NewStub(channel));
  }
  if (options.batch_in_flight > 0) {
    batcher_ = std::make_unique<MetaBatcher>(
        options.batch_in_flight, options.batch_max_ops,
        [this](const proto::BatchRequest& req, proto::BatchReply* reply) {
          return SendBatch(req, reply);
        });
    std::vector<proto::Meta::Stub*> stubs;
    for (auto& stub : meta_) stubs.push_back(stub.get());
    pipe_ = std::make_unique<BatchPipe>(
        std::move(stubs), options.batch_in_flight, options.batch_max_ops, options.timeout,
        [this] { return FirstBatchAttempt(); },
        [this](const proto::BatchRequest& req, proto::BatchReply* reply) {
          return SendBatch(req, reply);
        },
        [this](const BatchPipe::Failure& failure, const proto::BatchRequest& req,
               proto::BatchReply* reply) { return RetryBatch(failure, req, reply); },
        [this] { reached_.store(true, std::memory_order_relaxed); });
  }
}

BatchPipe::Attempt Rpc::FirstBatchAttempt() {
  const Attempts attempts(this, /*channel=*/0, /*repeat=*/true);  // the channel is not used
  return BatchPipe::Attempt{attempts.Deadline(), attempts.WaitForReady()};
}

absl::Status Rpc::RetryBatch(const BatchPipe::Failure& failure, const proto::BatchRequest& req,
                             proto::BatchReply* reply) {
  if (NoBatchStreams(failure.status, *failure.context)) {
    unary_batches_.store(true, std::memory_order_relaxed);
    return SendBatch(req, reply);
  }
  Attempts attempts(this, failure.channel, /*repeat=*/true, failure.start);
  if (!failure.never_sent) {  // a batch that never left costs no attempt
    absl::Status result;
    if (!attempts.Again(failure.status, *failure.context, &result)) return result;
  }
  return SendBatchOn(&attempts, nullptr, req, reply);
}

absl::Status Rpc::SendBatch(const proto::BatchRequest& req, proto::BatchReply* reply) {
  if (unary_batches_.load(std::memory_order_relaxed)) {
    const size_t i = Next();
    return Invoke(*meta_[i], i, /*repeat=*/true, &MetaStub::Batch, req, reply);
  }
  std::unique_ptr<BatchStream> stream;
  {
    absl::MutexLock l(&streams_mu_);
    if (!free_streams_.empty()) {
      stream = std::move(free_streams_.back());
      free_streams_.pop_back();
    }
  }
  Attempts attempts(this, stream != nullptr ? stream->channel() : Next(), /*repeat=*/true);
  return SendBatchOn(&attempts, std::move(stream), req, reply);
}

absl::Status Rpc::SendBatchOn(Attempts* attempts, std::unique_ptr<BatchStream> stream,
                              const proto::BatchRequest& req, proto::BatchReply* reply) {
  for (;;) {
    if (stream == nullptr) {
      stream = std::make_unique<BatchStream>(*meta_[attempts->channel()], attempts->channel(),
                                             attempts->WaitForReady());
    }
    const bool reused = stream->used();
    reply->Clear();
    const grpc::Status status = stream->Send(req, reply, attempts->Deadline());
    if (status.ok()) {
      reached_.store(true, std::memory_order_relaxed);
      absl::MutexLock l(&streams_mu_);
      // Kept for the next lone batch or retry; as many as batches in
      // flight at most.
      if (free_streams_.size() < options_.batch_in_flight) {
        free_streams_.push_back(std::move(stream));
      }
      return absl::OkStatus();
    }
    if (NoBatchStreams(status, stream->context())) {
      unary_batches_.store(true, std::memory_order_relaxed);
      return SendBatch(req, reply);
    }
    if (reused && stream->write_failed()) {
      stream.reset();
      continue;
    }
    absl::Status result;
    const bool again = attempts->Again(status, stream->context(), &result);
    stream.reset();
    if (!again) return result;
  }
}

Rpc::Attempts::Attempts(Rpc* rpc, size_t channel, bool repeat, absl::Time start)
    : rpc_(rpc),
      channel_(channel),
      start_(start),
      window_(absl::ZeroDuration()),
      backoff_(kFirstBackoff) {
  const RpcOptions& o = rpc->options_;
  if (repeat) {
    window_ = rpc->reached_.load(std::memory_order_relaxed)
                  ? o.retry_deadline
                  : std::min({o.connect_deadline, o.timeout, o.retry_deadline});
  }
  end_ = start_ + window_;
}

absl::Time Rpc::Attempts::Deadline() const {
  const absl::Time deadline = absl::Now() + rpc_->options_.timeout;
  return window_ > absl::ZeroDuration() ? std::min(deadline, end_) : deadline;
}

void Rpc::Attempts::Prepare(grpc::ClientContext* ctx) const {
  // Queue the call until the channel connects instead of failing at once
  // while meta is away.
  if (WaitForReady()) ctx->set_wait_for_ready(true);
  ctx->set_deadline(absl::ToChronoTime(Deadline()));
}

bool Rpc::Attempts::Again(const grpc::Status& status, const grpc::ClientContext& ctx,
                          absl::Status* result) {
  *result = service::FromGrpcStatus(status, ctx);
  if (!NoAnswer(status, ctx)) {
    rpc_->reached_.store(true, std::memory_order_relaxed);
    return false;
  }
  if (window_ <= absl::ZeroDuration()) return false;
  const absl::Time now = absl::Now();
  if (now >= end_) {
    *result = GiveUp(*result);
    return false;
  }
  absl::SleepFor(std::min(backoff_, end_ - now));
  backoff_ = std::min(backoff_ * 2, kMaxBackoff);
  return true;
}

absl::Status Rpc::Attempts::GiveUp(const absl::Status& last) const {
  const grpc_connectivity_state state = rpc_->channels_[channel_]->GetState(false);
  const std::string waited = Seconds(absl::Now() - start_);
  if (state != GRPC_CHANNEL_READY || ErrcOf(last) == Errc::kUnavailable) {
    return Error(Errc::kUnavailable,
                 "no answer from meta for " + waited + " (" + std::string(last.message()) + ")");
  }
  return Error(ErrcOf(last), "no answer from meta for " + waited +
                                 ", the last attempt: " + std::string(last.message()));
}

}  // namespace cairn::client

#include "client/batch_stream.h"

#include <chrono>

namespace cairn::client {
namespace {

// The tags of the stream's operations: at most one of each is outstanding.
void* const kWrite = reinterpret_cast<void*>(2);
void* const kRead = reinterpret_cast<void*>(3);
void* const kFinish = reinterpret_cast<void*>(4);

// How long a broken call's outstanding operations may take to come back
// before it is cancelled outright.
constexpr absl::Duration kDrainWait = absl::Seconds(1);

}  // namespace

BatchStream::BatchStream(proto::Meta::Stub& stub, size_t channel, bool wait_for_ready)
    : channel_(channel) {
  ctx_.set_wait_for_ready(wait_for_ready);
  // The call's headers go out with its first batch (StartCall and Write
  // would share one operation set otherwise).
  ctx_.set_initial_metadata_corked(true);
  rw_ = stub.PrepareAsyncBatchStream(&ctx_, &cq_);
  rw_->StartCall(nullptr);
}

BatchStream::~BatchStream() {
  if (!broken_) {
    ctx_.TryCancel();
    (void)Break(/*timed_out=*/false);
  }
  cq_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
  }
}

grpc::Status BatchStream::Send(const proto::BatchRequest& req, proto::BatchReply* reply,
                               absl::Time deadline) {
  used_ = true;
  rw_->Write(req, kWrite);
  rw_->Read(reply, kRead);
  outstanding_ += 2;
  bool timed_out = false;
  if (!Wait(deadline, &timed_out)) return Break(timed_out);
  return grpc::Status::OK;
}

bool BatchStream::Wait(absl::Time deadline, bool* timed_out) {
  bool all_ok = true;
  while (outstanding_ > 0) {
    void* tag = nullptr;
    bool ok = false;
    if (cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline)) !=
        grpc::CompletionQueue::GOT_EVENT) {
      *timed_out = true;
      return false;
    }
    --outstanding_;
    if (tag == kWrite && !ok) write_failed_ = true;
    all_ok = all_ok && ok;
  }
  return all_ok;
}

void BatchStream::Drain() {
  bool late = false;
  if (!Wait(absl::Now() + kDrainWait, &late) && late) {
    ctx_.TryCancel();
    for (bool timed_out = false; outstanding_ > 0;) (void)Wait(absl::InfiniteFuture(), &timed_out);
  }
}

grpc::Status BatchStream::Break(bool timed_out) {
  broken_ = true;
  if (timed_out) ctx_.TryCancel();
  // A failed operation usually means the call is over and the others come
  // back at once; a reply that did not parse leaves the call open, so
  // every wait here is bounded and then the call cancelled.
  Drain();
  grpc::Status status;
  rw_->Finish(&status, kFinish);
  ++outstanding_;
  Drain();
  return UnansweredBatchStatus(status, timed_out);
}

grpc::Status UnansweredBatchStatus(const grpc::Status& status, bool timed_out) {
  if (timed_out && status.error_code() == grpc::StatusCode::CANCELLED) {
    return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no answer from meta in time");
  }
  if (status.ok()) {  // meta ended the stream without answering the batch
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the batch stream ended without an answer");
  }
  return status;
}

}  // namespace cairn::client

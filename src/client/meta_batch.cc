#include "client/meta_batch.h"

#include <string>
#include <utility>

#include "common/errors.h"
#include "service/grpc_status.h"

namespace cairn::client {

MetaBatcher::MetaBatcher(size_t in_flight, size_t max_ops, Send send)
    : in_flight_limit_(in_flight < 1 ? 1 : in_flight),
      max_ops_(max_ops < 1 ? 1 : max_ops),
      send_(std::move(send)) {}

absl::Status MetaBatcher::Run(proto::MetaOp op, proto::MetaOpReply* reply) {
  Waiter self;
  self.op = std::move(op);
  self.reply = reply;
  std::vector<Waiter*> batch;
  {
    absl::MutexLock l(&mu_);
    if (in_flight_ < in_flight_limit_) {
      ++in_flight_;
      batch.push_back(&self);
    } else {
      queue_.push_back(&self);
      mu_.Await(absl::Condition(
          +[](Waiter* w) { return w->done || w->lead; }, &self));
      if (self.done) return self.status;
      batch = std::move(self.batch);
    }
  }
  SendBatch(batch);
  Finish(batch, &self);
  return self.status;
}

void MetaBatcher::SendBatch(const std::vector<Waiter*>& batch) {
  proto::BatchRequest req;
  req.mutable_ops()->Reserve(static_cast<int>(batch.size()));
  for (Waiter* w : batch) *req.add_ops() = std::move(w->op);
  proto::BatchReply reply;
  absl::Status sent = send_(req, &reply);
  if (sent.ok()) sent = CheckReplyCount(reply, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->status = OpOutcome(sent, &reply, static_cast<int>(i), batch[i]->reply);
  }
}

void MetaBatcher::Finish(const std::vector<Waiter*>& batch, const Waiter* self) {
  absl::MutexLock l(&mu_);
  ++batches_;
  ops_ += batch.size();
  // A waiter may return (and its Waiter go away) as soon as it is marked:
  // nothing below touches a marked one again.
  for (Waiter* w : batch) {
    if (w != self) w->done = true;
  }
  if (queue_.empty()) {
    --in_flight_;
    return;
  }
  Waiter* next = queue_.front();
  const size_t n = std::min(queue_.size(), max_ops_);
  next->batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  next->lead = true;  // the slot passes to it
}

absl::Status OpOutcome(const absl::Status& sent, proto::BatchReply* reply, int i,
                       proto::MetaOpReply* out) {
  if (!sent.ok()) return sent;
  proto::MetaOpReply* r = reply->mutable_replies(i);
  if (r->code() != 0) {
    return service::FromGrpcStatus(
        grpc::Status(static_cast<grpc::StatusCode>(r->code()), r->message()), r->errc());
  }
  out->Swap(r);
  return absl::OkStatus();
}

absl::Status CheckReplyCount(const proto::BatchReply& reply, size_t ops) {
  if (reply.replies_size() == static_cast<int>(ops)) return absl::OkStatus();
  return Error(Errc::kInternal, "meta answered a batch of " + std::to_string(ops) +
                                    " operations with " + std::to_string(reply.replies_size()) +
                                    " replies");
}

uint64_t MetaBatcher::batches() const {
  absl::MutexLock l(&mu_);
  return batches_;
}

uint64_t MetaBatcher::ops() const {
  absl::MutexLock l(&mu_);
  return ops_;
}

size_t MetaBatcher::queued() const {
  absl::MutexLock l(&mu_);
  return queue_.size();
}

}  // namespace cairn::client

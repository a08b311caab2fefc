// Meta.Batch: several namespace operations in one call (docs/metadata.md,
// "Batches"). Each runs exactly as its unary RPC would, one after the
// other, and gets its own status; the metrics count each under its own
// operation. Served from completion queues (MetaServiceBase).
#include <chrono>
#include <string>

#include "common/errors.h"
#include "service/grpc_status.h"
#include "service/meta_service.h"

namespace cairn::service {
namespace {

// Bounds the work one call can ask for (and the reply it builds).
constexpr int kMaxBatchOps = 256;

// One call in flight on a completion queue: its tag. Received (tag comes
// back with ok) -> answered with Finish -> Finish's tag comes back: freed.
struct BatchCall {
  grpc::ServerContext ctx;
  proto::BatchRequest req;
  proto::BatchReply reply;
  grpc::ServerAsyncResponseWriter<proto::BatchReply> responder{&ctx};
  bool answered = false;
};

}  // namespace

absl::Status MetaService::RunBatch(const proto::BatchRequest& req, proto::BatchReply* reply) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  if (req.ops_size() > kMaxBatchOps) {
    status = Invalid("a batch carries at most " + std::to_string(kMaxBatchOps) +
                     " operations, not " + std::to_string(req.ops_size()));
  } else {
    reply->mutable_replies()->Reserve(req.ops_size());
    for (const proto::MetaOp& op : req.ops()) RunBatchOp(op, reply->add_replies());
  }
  Record(kBatch, status, std::chrono::steady_clock::now() - start);
  return status;
}

void MetaService::ServeBatches(grpc::ServerCompletionQueue* cq) {
  // Asks for the next call; only while batch_active_ > 0, so never after
  // StopBatches returned (the queue may be shut down then).
  auto ask = [&] {
    auto* call = new BatchCall;
    RequestBatch(&call->ctx, &call->req, &call->responder, cq, cq, call);
  };
  // The first ask, too, only before StopBatches: the server may be shut
  // down before this thread gets here.
  bool asked = false;
  {
    absl::MutexLock l(&batch_mu_);
    if (!batch_stopping_) {
      ++batch_active_;
      asked = true;
    }
  }
  if (asked) {
    ask();
    absl::MutexLock l(&batch_mu_);
    --batch_active_;
  }
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* call = static_cast<BatchCall*>(tag);
    if (call->answered || !ok) {  // answered, or the server shut down
      delete call;
      continue;
    }
    {
      absl::MutexLock l(&batch_mu_);
      if (batch_stopping_) {  // the server has shut down: never answered
        delete call;
        continue;
      }
      ++batch_active_;
    }
    ask();
    auto answer = [this, call] {
      const absl::Status status = RunBatch(call->req, &call->reply);
      call->answered = true;
      call->responder.Finish(call->reply, ToGrpcStatus(status, &call->ctx), call);
      absl::MutexLock l(&batch_mu_);
      --batch_active_;
    };
    if (options_.disk_pool != nullptr && WaitsOnDisk(kBatch)) {
      options_.disk_pool->Submit(answer);
    } else {
      answer();
    }
  }
}

void MetaService::StopBatches() {
  absl::MutexLock l(&batch_mu_);
  batch_stopping_ = true;
  batch_mu_.Await(absl::Condition(
      +[](int* active) { return *active == 0; }, &batch_active_));
}

void MetaService::RunBatchOp(const proto::MetaOp& op, proto::MetaOpReply* reply) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  Op kind = kBatch;
  switch (op.op_case()) {
    case proto::MetaOp::kLookup:
      kind = kLookup;
      status = DoLookup(op.lookup(), reply->mutable_attr());
      break;
    case proto::MetaOp::kGetattr:
      kind = kGetAttr;
      status = DoGetAttr(op.getattr(), reply->mutable_attr());
      break;
    case proto::MetaOp::kSetattr:
      kind = kSetAttr;
      status = DoSetAttr(op.setattr(), reply->mutable_attr());
      break;
    case proto::MetaOp::kMkdir:
      kind = kMkdir;
      status = DoMkdir(op.mkdir(), reply->mutable_attr());
      break;
    case proto::MetaOp::kCreate:
      kind = kCreate;
      status = DoCreate(op.create(), reply->mutable_attr());
      break;
    case proto::MetaOp::kRmdir: {
      kind = kRmdir;
      proto::RemoveReply none;
      status = DoRmdir(op.rmdir(), &none);
      break;
    }
    case proto::MetaOp::kUnlink: {
      kind = kUnlink;
      proto::RemoveReply none;
      status = DoUnlink(op.unlink(), &none);
      break;
    }
    case proto::MetaOp::kRename: {
      kind = kRename;
      proto::RenameReply none;
      status = DoRename(op.rename(), &none);
      break;
    }
    case proto::MetaOp::kLink:
      kind = kLink;
      status = DoLink(op.link(), reply->mutable_attr());
      break;
    case proto::MetaOp::kSymlink:
      kind = kSymlink;
      status = DoSymlink(op.symlink(), reply->mutable_attr());
      break;
    case proto::MetaOp::kReadlink:
      kind = kReadlink;
      status = DoReadlink(op.readlink(), reply->mutable_readlink());
      break;
    case proto::MetaOp::OP_NOT_SET:
      status = Invalid("a batch operation with no request");
      break;
  }
  if (kind != kBatch) Record(kind, status, std::chrono::steady_clock::now() - start);
  if (!status.ok()) {
    reply->clear_reply();
    reply->set_code(static_cast<int32_t>(status.code()));
    reply->set_message(std::string(status.message()));
    reply->set_errc(ErrcTrailerValue(status));
  }
}

}  // namespace cairn::service

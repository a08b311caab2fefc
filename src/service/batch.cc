// Meta.Batch and Meta.BatchStream: several namespace operations in one
// call, or in one message of a stream (docs/metadata.md, "Batches"). Each
// runs exactly as its unary RPC would, one after the other, and gets its
// own status; the metrics count each under its own operation. Served from
// completion queues (MetaServiceBase).
#include <chrono>
#include <functional>
#include <string>
#include <utility>

#include "common/errors.h"
#include "service/grpc_status.h"
#include "service/meta_service.h"

namespace cairn::service {
namespace {

// Bounds the work one call can ask for (and the reply it builds).
constexpr int kMaxBatchOps = 256;

}  // namespace

// A call on a completion queue; its address is the tag of each of its
// operations (one outstanding at a time). Proceed takes the completion of
// the last one, inside EnterQueueStep, and starts the next operation or
// deletes the call; it (or the disk pool's task) calls LeaveQueueStep.
class MetaService::QueueCall {
 public:
  virtual ~QueueCall() = default;
  virtual void Proceed(bool ok) = 0;
};

// One Meta.Batch: received (tag back with ok) -> answered with Finish ->
// Finish's tag back: deleted.
class MetaService::BatchCall final : public QueueCall {
 public:
  BatchCall(MetaService* svc, grpc::ServerCompletionQueue* cq) : svc_(svc), cq_(cq) {
    svc->RequestBatch(&ctx_, &req_, &responder_, cq, cq, this);
  }

  void Proceed(bool ok) override {
    MetaService* svc = svc_;
    if (answered_ || !ok) {  // answered, or the server shut down
      delete this;
      svc->LeaveQueueStep();
      return;
    }
    svc->AskBatch(cq_);
    svc->RunBatchWork([this, svc] {
      const absl::Status status = svc->RunBatch(req_, &reply_);
      answered_ = true;
      responder_.Finish(reply_, ToGrpcStatus(status, &ctx_), this);
      svc->LeaveQueueStep();
    });
  }

 private:
  MetaService* const svc_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  proto::BatchRequest req_;
  proto::BatchReply reply_;
  grpc::ServerAsyncResponseWriter<proto::BatchReply> responder_{&ctx_};
  bool answered_ = false;
};

// One Meta.BatchStream: accepted -> read a batch -> run it -> write its
// reply -> read the next ... -> finished (the client closed its side, the
// call broke, a batch was refused whole, or the server is closing its
// streams) -> Finish's tag back: deleted.
class MetaService::BatchStreamCall final : public QueueCall {
 public:
  BatchStreamCall(MetaService* svc, grpc::ServerCompletionQueue* cq) : svc_(svc), cq_(cq) {
    svc->RequestBatchStream(&ctx_, &stream_, cq, cq, this);
  }
  ~BatchStreamCall() override {
    absl::MutexLock l(&svc_->batch_mu_);
    svc_->streams_.erase(this);
  }

  void Proceed(bool ok) override {
    MetaService* svc = svc_;
    switch (step_) {
      case Step::kAccept:
        if (!ok) {  // the server shut down
          delete this;
          break;
        }
        svc->AskBatchStream(cq_);
        {
          absl::MutexLock l(&svc->batch_mu_);
          svc->streams_.insert(this);
        }
        ReadNext();
        break;
      case Step::kRead:
        if (ReadDone()) {  // a batch that arrived as the stream was cancelled: not run
          End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "meta is stopping"));
          break;
        }
        if (!ok) {  // the client is done (or gone)
          End(grpc::Status::OK);
          break;
        }
        svc->RunBatchWork([this, svc] {
          reply_.Clear();
          const absl::Status status = svc->RunBatch(req_, &reply_);
          if (status.ok()) {
            step_ = Step::kWrite;
            stream_.Write(reply_, this);
          } else {
            End(ToGrpcStatus(status, &ctx_));
          }
          svc->LeaveQueueStep();
        });
        return;  // the task leaves
      case Step::kWrite:
        if (!ok) {
          End(grpc::Status(grpc::StatusCode::CANCELLED, "the reply could not be sent"));
        } else {
          ReadNext();
        }
        break;
      case Step::kFinish:
        delete this;
        break;
    }
    svc->LeaveQueueStep();
  }

  // Under batch_mu_ (CloseBatchStreams): a stream waiting for its next
  // batch is cancelled; the others end after their batch.
  void CancelIfIdle() ABSL_EXCLUSIVE_LOCKS_REQUIRED(svc_->batch_mu_) {
    if (!reading_) return;
    cancelled_ = true;
    ctx_.TryCancel();
  }

 private:
  enum class Step { kAccept, kRead, kWrite, kFinish };

  void ReadNext() {
    {
      absl::MutexLock l(&svc_->batch_mu_);
      if (!svc_->streams_closing_) {
        reading_ = true;
        req_.Clear();
        step_ = Step::kRead;
        stream_.Read(&req_, this);
        return;
      }
    }
    End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "meta is stopping"));
  }

  // After a Read came back: true when the stream was cancelled while the
  // Read was outstanding (a batch read then must not run: its answer
  // could not be sent).
  bool ReadDone() {
    absl::MutexLock l(&svc_->batch_mu_);
    reading_ = false;
    return cancelled_;
  }

  void End(const grpc::Status& status) {
    step_ = Step::kFinish;
    stream_.Finish(status, this);
  }

  MetaService* const svc_;
  grpc::ServerCompletionQueue* const cq_;
  grpc::ServerContext ctx_;
  grpc::ServerAsyncReaderWriter<proto::BatchReply, proto::BatchRequest> stream_{&ctx_};
  proto::BatchRequest req_;
  proto::BatchReply reply_;
  Step step_ = Step::kAccept;
  bool reading_ ABSL_GUARDED_BY(svc_->batch_mu_) = false;  // a Read is outstanding
  bool cancelled_ ABSL_GUARDED_BY(svc_->batch_mu_) = false;
};

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

void MetaService::AskBatch(grpc::ServerCompletionQueue* cq) { new BatchCall(this, cq); }

void MetaService::AskBatchStream(grpc::ServerCompletionQueue* cq) { new BatchStreamCall(this, cq); }

bool MetaService::EnterQueueStep() {
  absl::MutexLock l(&batch_mu_);
  if (batch_stopping_) return false;
  ++batch_active_;
  return true;
}

void MetaService::LeaveQueueStep() {
  absl::MutexLock l(&batch_mu_);
  --batch_active_;
}

void MetaService::RunBatchWork(std::function<void()> fn) {
  if (options_.disk_pool != nullptr && WaitsOnDisk(kBatch)) {
    options_.disk_pool->Submit(std::move(fn));
  } else {
    fn();
  }
}

void MetaService::ServeBatches(grpc::ServerCompletionQueue* cq) {
  // Asks for calls only inside a step, so never after StopBatches began
  // (the queue may be shut down then); the first asks too: the server may
  // be shut down before this thread gets here.
  if (EnterQueueStep()) {
    AskBatch(cq);
    AskBatchStream(cq);
    LeaveQueueStep();
  }
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    auto* call = static_cast<QueueCall*>(tag);
    if (!EnterQueueStep()) {  // the server has shut down: nothing more
      delete call;
      continue;
    }
    call->Proceed(ok);
  }
}

void MetaService::CloseBatchStreams() {
  absl::MutexLock l(&batch_mu_);
  streams_closing_ = true;
  for (BatchStreamCall* stream : streams_) stream->CancelIfIdle();
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

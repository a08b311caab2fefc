#include "gc/gc_service.h"

#include "service/grpc_status.h"

namespace cairn::gc {

GcService::GcService(Collector* collector) : collector_(collector) {
  worker_ = std::thread([this] { Work(); });
}

GcService::~GcService() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  worker_.join();
}

void GcService::Work() {
  while (true) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](GcService* s)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->stopping_ || !s->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job();
  }
}

GcService::Reactor* GcService::GetGcStatus(Ctx* ctx, const proto::GcStatusRequest*,
                                           proto::GcStatus* reply) {
  Reactor* reactor = ctx->DefaultReactor();
  *reply = collector_->Status();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

GcService::Reactor* GcService::ClearGcAlarm(Ctx* ctx, const proto::ClearGcAlarmRequest*,
                                            proto::ClearGcAlarmReply* reply) {
  Reactor* reactor = ctx->DefaultReactor();
  *reply = collector_->ClearAlarm();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

GcService::Reactor* GcService::RunGc(Ctx* ctx, const proto::RunGcRequest* req,
                                     proto::RunGcReply* reply) {
  Reactor* reactor = ctx->DefaultReactor();
  absl::MutexLock lock(&mu_);
  queue_.push_back([this, ctx, req, reply, reactor] {
    absl::StatusOr<proto::RunGcReply> r = collector_->Run(*req);
    if (r.ok()) *reply = std::move(*r);
    reactor->Finish(service::ToGrpcStatus(r.status(), ctx));
  });
  return reactor;
}

}  // namespace cairn::gc

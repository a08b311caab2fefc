// GcService: the cairn.proto.Gc gRPC service (callback API, proto/gc.proto)
// over a Collector: GetGcStatus, RunGc (a pass now, or a dry run) and
// ClearGcAlarm. Errors are translated once by service/grpc_status.h.
//
// GetGcStatus and ClearGcAlarm run inline (memory only). RunGc lists chunk
// servers and scans meta, which may take long: it runs on one worker
// thread owned by the service, so gRPC's callback threads stay free; calls
// are served one at a time in arrival order.
//
// Ownership and thread-safety: borrows `collector`, which must outlive it;
// thread-safe. The destructor finishes queued calls, then joins the
// worker; destroy it after the gRPC server has shut down.
#pragma once

#include <deque>
#include <functional>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "gc.grpc.pb.h"
#include "gc/collector.h"

namespace cairn::gc {

class GcService final : public proto::Gc::CallbackService {
 public:
  explicit GcService(Collector* collector);
  ~GcService() override;

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* GetGcStatus(Ctx* ctx, const proto::GcStatusRequest* req,
                       proto::GcStatus* reply) override;
  Reactor* RunGc(Ctx* ctx, const proto::RunGcRequest* req, proto::RunGcReply* reply) override;
  Reactor* ClearGcAlarm(Ctx* ctx, const proto::ClearGcAlarmRequest* req,
                        proto::ClearGcAlarmReply* reply) override;

 private:
  void Work();

  Collector* const collector_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread worker_;
};

}  // namespace cairn::gc

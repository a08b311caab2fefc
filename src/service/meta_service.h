// MetaService: the cairn.proto.Meta gRPC service over a meta::Namespace
// (the callback API, but Batch and BatchStream on completion queues: see
// MetaServiceBase).
//
// Each RPC checks every request field (convert.h), calls the Namespace,
// records per-operation metrics and finishes with the status translated in
// one place (grpc_status.h). Operations run inline on gRPC's callback
// thread (they are short store transactions), except those that wait on
// the disk (see MetaServiceOptions), which run on a WorkerPool.
//
// Metrics (all labelled op="<RPC name>"):
//   cairn_meta_requests_total               counter
//   cairn_meta_errors_total{errc="<name>"}  counter
//   cairn_meta_request_duration_seconds     histogram
//
// Handlers are grouped by kind: entries.cc (lookup, create, remove,
// rename, links), attrs.cc (getattr, setattr, statfs, fsync), dirs.cc
// (readdir), xattrs.cc, data.cc (chunks and policies), batch.cc (several
// namespace operations in one call or one message of a stream; each is
// counted under its own op label, and the batch itself under op="Batch").
//
// Ownership and thread-safety: borrows `ns`, `metrics` and the options'
// cluster manager and pool, which must outlive it; thread-safe (RPCs run
// concurrently).
#pragma once

#include <array>
#include <chrono>
#include <functional>
#include <string_view>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/cluster_manager.h"
#include "meta.grpc.pb.h"
#include "meta/namespace.h"
#include "service/grpc_status.h"
#include "service/metrics.h"
#include "service/worker_pool.h"

namespace cairn::service {

struct MetaServiceOptions {
  // Where requests that wait on the disk run: Fsync always, and every
  // change when `changes_wait_for_sync` (the store syncs each commit).
  // Null: everything runs inline. Not owned; must outlive the service.
  WorkerPool* disk_pool = nullptr;
  bool changes_wait_for_sync = false;
  // The cluster map: its replicas fill in policies' "0 = cluster default",
  // its epoch goes into GetChunks replies, its nodes' capacity into
  // Statfs once chunk servers report. Null (tests): replicas
  // kDefaultClusterReplicas, epoch 0, capacity from the namespace. Not
  // owned; must outlive the service.
  const cluster::ClusterManager* cluster = nullptr;
  // CommitWrite refuses (kStaleUpload, changing nothing) a request whose
  // upload_age_ms is at or past this: its chunks may already have been
  // taken for orphans by GC reconciliation. MetaServer sets
  // gc::MaxUploadAge(gc.grace) (docs/gc.md, "Reconciliation"). Default
  // infinite: no limit (a service without GC). An age of 0 (unknown, an
  // older client) is always accepted.
  absl::Duration max_upload_age = absl::InfiniteDuration();
};

inline constexpr uint32_t kDefaultClusterReplicas = 3;

// Every method on the callback API but Batch and BatchStream, which are
// served from completion queues (the asynchronous API) by threads of
// MetaServer that run their operations themselves: measured 20-30 % more
// creates, renames and unlinks per second than on the callback API, with
// a fifth to a quarter less server CPU per operation (docs/BENCHMARKS.md,
// "Batches on completion queues"). They must not get callback methods:
// gRPC marks a method asynchronous only over a synchronous base. A method
// added to meta.proto goes into this list too (its `override` below does
// not compile until it does).
using MetaServiceBase = proto::Meta::WithAsyncMethod_BatchStream<proto::Meta::WithAsyncMethod_Batch<
    proto::Meta::WithCallbackMethod_Lookup<proto::Meta::WithCallbackMethod_GetAttr<
        proto::Meta::WithCallbackMethod_SetAttr<proto::Meta::WithCallbackMethod_Mkdir<
            proto::Meta::WithCallbackMethod_Create<proto::Meta::WithCallbackMethod_Rmdir<
                proto::Meta::WithCallbackMethod_Unlink<proto::Meta::WithCallbackMethod_Rename<
                    proto::Meta::WithCallbackMethod_Link<proto::Meta::WithCallbackMethod_Symlink<
                        proto::Meta::WithCallbackMethod_Readlink<proto::Meta::WithCallbackMethod_Readdir<
                            proto::Meta::WithCallbackMethod_Statfs<proto::Meta::WithCallbackMethod_GetXattr<
                                proto::Meta::WithCallbackMethod_SetXattr<
                                    proto::Meta::WithCallbackMethod_ListXattr<
                                        proto::Meta::WithCallbackMethod_RemoveXattr<
                                            proto::Meta::WithCallbackMethod_Fsync<
                                                proto::Meta::WithCallbackMethod_GetChunks<
                                                    proto::Meta::WithCallbackMethod_CommitWrite<
                                                        proto::Meta::WithCallbackMethod_SetPolicy<
                                                            proto::Meta::WithCallbackMethod_GetPolicy<
                                                                proto::Meta::
                                                                    Service>>>>>>>>>>>>>>>>>>>>>>>>;
class MetaService final : public MetaServiceBase {
 public:
  MetaService(meta::Namespace* ns, MetricsRegistry* metrics,
              MetaServiceOptions options = MetaServiceOptions());

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  // batch.cc: serves Meta.Batch calls and Meta.BatchStream streams from
  // `cq` (registered on the server with this service) until the queue is
  // shut down and drained; each batch's operations run one after the
  // other on this thread, or on the disk pool when changes wait for the
  // disk. MetaServer runs it on threads of its own.
  void ServeBatches(grpc::ServerCompletionQueue* cq);
  // Before the server's Shutdown: ends the streams waiting for their next
  // batch (cancelled) and every other one once its batch is answered
  // (UNAVAILABLE), so that an open stream does not hold the shutdown up
  // for its whole grace; the client sends the next batch again to the
  // next server (client/rpc.h).
  void CloseBatchStreams();
  // After the server's Shutdown: waits for the calls being answered to
  // finish; ServeBatches then answers nothing more and asks for no more
  // calls, so the queues can be shut down.
  void StopBatches();

  // entries.cc
  Reactor* Lookup(Ctx* ctx, const proto::LookupRequest* req, proto::AttrReply* reply) override;
  Reactor* Mkdir(Ctx* ctx, const proto::MkdirRequest* req, proto::AttrReply* reply) override;
  Reactor* Create(Ctx* ctx, const proto::CreateRequest* req, proto::AttrReply* reply) override;
  Reactor* Rmdir(Ctx* ctx, const proto::RemoveRequest* req, proto::RemoveReply* reply) override;
  Reactor* Unlink(Ctx* ctx, const proto::RemoveRequest* req, proto::RemoveReply* reply) override;
  Reactor* Rename(Ctx* ctx, const proto::RenameRequest* req, proto::RenameReply* reply) override;
  Reactor* Link(Ctx* ctx, const proto::LinkRequest* req, proto::AttrReply* reply) override;
  Reactor* Symlink(Ctx* ctx, const proto::SymlinkRequest* req, proto::AttrReply* reply) override;
  Reactor* Readlink(Ctx* ctx, const proto::ReadlinkRequest* req,
                    proto::ReadlinkReply* reply) override;
  // attrs.cc
  Reactor* GetAttr(Ctx* ctx, const proto::GetAttrRequest* req, proto::AttrReply* reply) override;
  Reactor* SetAttr(Ctx* ctx, const proto::SetAttrRequest* req, proto::AttrReply* reply) override;
  Reactor* Statfs(Ctx* ctx, const proto::StatfsRequest* req, proto::StatfsReply* reply) override;
  Reactor* Fsync(Ctx* ctx, const proto::FsyncRequest* req, proto::FsyncReply* reply) override;
  // dirs.cc
  Reactor* Readdir(Ctx* ctx, const proto::ReaddirRequest* req, proto::ReaddirReply* reply) override;
  // xattrs.cc
  Reactor* GetXattr(Ctx* ctx, const proto::GetXattrRequest* req,
                    proto::GetXattrReply* reply) override;
  Reactor* SetXattr(Ctx* ctx, const proto::SetXattrRequest* req, proto::XattrReply* reply) override;
  Reactor* ListXattr(Ctx* ctx, const proto::ListXattrRequest* req,
                     proto::ListXattrReply* reply) override;
  Reactor* RemoveXattr(Ctx* ctx, const proto::RemoveXattrRequest* req,
                       proto::XattrReply* reply) override;
  // data.cc
  Reactor* GetChunks(Ctx* ctx, const proto::GetChunksRequest* req,
                     proto::GetChunksReply* reply) override;
  Reactor* CommitWrite(Ctx* ctx, const proto::CommitWriteRequest* req,
                       proto::CommitWriteReply* reply) override;
  Reactor* SetPolicy(Ctx* ctx, const proto::SetPolicyRequest* req,
                     proto::PolicyReply* reply) override;
  Reactor* GetPolicy(Ctx* ctx, const proto::GetPolicyRequest* req,
                     proto::PolicyReply* reply) override;

 private:
  enum Op {
    kLookup,
    kGetAttr,
    kSetAttr,
    kMkdir,
    kCreate,
    kRmdir,
    kUnlink,
    kRename,
    kLink,
    kSymlink,
    kReadlink,
    kReaddir,
    kStatfs,
    kGetXattr,
    kSetXattr,
    kListXattr,
    kRemoveXattr,
    kFsync,
    kGetChunks,
    kCommitWrite,
    kSetPolicy,
    kGetPolicy,
    kBatch,
    kOpCount
  };
  static std::string_view OpName(Op op);

  // The operations a Batch may carry, each also behind its unary RPC:
  // checks the request, runs it on the namespace, fills the reply.
  absl::Status DoLookup(const proto::LookupRequest& req, proto::AttrReply* reply);
  absl::Status DoGetAttr(const proto::GetAttrRequest& req, proto::AttrReply* reply);
  absl::Status DoSetAttr(const proto::SetAttrRequest& req, proto::AttrReply* reply);
  absl::Status DoMkdir(const proto::MkdirRequest& req, proto::AttrReply* reply);
  absl::Status DoCreate(const proto::CreateRequest& req, proto::AttrReply* reply);
  absl::Status DoRmdir(const proto::RemoveRequest& req, proto::RemoveReply* reply);
  absl::Status DoUnlink(const proto::RemoveRequest& req, proto::RemoveReply* reply);
  absl::Status DoRename(const proto::RenameRequest& req, proto::RenameReply* reply);
  absl::Status DoLink(const proto::LinkRequest& req, proto::AttrReply* reply);
  absl::Status DoSymlink(const proto::SymlinkRequest& req, proto::AttrReply* reply);
  absl::Status DoReadlink(const proto::ReadlinkRequest& req, proto::ReadlinkReply* reply);
  // One op of a batch: runs it, records its metrics, stores its status.
  void RunBatchOp(const proto::MetaOp& op, proto::MetaOpReply* reply);
  // One Batch call: checks it, runs its operations, records its metrics.
  absl::Status RunBatch(const proto::BatchRequest& req, proto::BatchReply* reply);
  // batch.cc: the calls on the completion queues (their tags).
  class QueueCall;
  class BatchCall;
  class BatchStreamCall;
  // Asks `cq` for the next call of each kind.
  void AskBatch(grpc::ServerCompletionQueue* cq);
  void AskBatchStream(grpc::ServerCompletionQueue* cq);
  // Around every step of a call on a queue: false (and no step) once
  // StopBatches began; every true is followed by one LeaveQueueStep.
  bool EnterQueueStep();
  void LeaveQueueStep();
  // Runs `fn` here, or on the disk pool when batches wait on the disk.
  void RunBatchWork(std::function<void()> fn);

  struct OpMetrics {
    Counter* requests = nullptr;
    Histogram* latency = nullptr;
  };

  // Runs `fn` (returning absl::Status), records the metrics of `op` and
  // finishes the call with the translated status. `fn` may run on another
  // thread after Serve returns: it must capture by value (the request and
  // reply stay valid until the call finishes).
  template <typename Fn>
  Reactor* Serve(Op op, Ctx* ctx, Fn fn) {
    Reactor* reactor = ctx->DefaultReactor();
    if (options_.disk_pool != nullptr && WaitsOnDisk(op)) {
      options_.disk_pool->Submit([this, op, ctx, reactor, fn] { Run(op, ctx, reactor, fn); });
    } else {
      Run(op, ctx, reactor, fn);
    }
    return reactor;
  }
  template <typename Fn>
  void Run(Op op, Ctx* ctx, Reactor* reactor, const Fn& fn) {
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = fn();
    Record(op, status, std::chrono::steady_clock::now() - start);
    reactor->Finish(ToGrpcStatus(status, ctx));
  }
  // The id a mutating request carries (docs/metadata.md, "Repeated
  // requests"); client 0 when it has none.
  template <typename Req>
  static meta::RequestId RequestOf(const Req& req) {
    return meta::RequestId{req.request_id().client(), req.request_id().seq()};
  }
  bool WaitsOnDisk(Op op) const;
  // kStaleUpload for a CommitWrite's upload_age_ms at or past
  // options_.max_upload_age (0 passes).
  absl::Status CheckUploadAge(uint64_t upload_age_ms) const;
  uint32_t ClusterReplicas() const;
  uint64_t ClusterEpoch() const;
  // The stored policy and the effective one (cluster defaults filled in).
  void FillPolicyReply(const proto::StoragePolicy& stored, proto::PolicyReply* reply);
  void Record(Op op, const absl::Status& status, std::chrono::steady_clock::duration elapsed);

  meta::Namespace* const ns_;
  const MetaServiceOptions options_;
  absl::Mutex batch_mu_;
  bool batch_stopping_ ABSL_GUARDED_BY(batch_mu_) = false;
  int batch_active_ ABSL_GUARDED_BY(batch_mu_) = 0;  // calls being answered
  bool streams_closing_ ABSL_GUARDED_BY(batch_mu_) = false;
  absl::flat_hash_set<BatchStreamCall*> streams_ ABSL_GUARDED_BY(batch_mu_);  // open
  Family<Counter>* const errors_;
  std::array<OpMetrics, kOpCount> ops_;
};

}  // namespace cairn::service

// ClusterService: the cairn.proto.Cluster gRPC service (callback API) over
// a ClusterManager.
//
// Every request field is checked (validate.h) before the manager sees it;
// a malformed request fails with kInvalid and changes nothing. Errors are
// translated once, by service/grpc_status.h (the "cairn-errc" trailer).
// The calls are short and in memory (a store transaction only when the map
// changes), so they run inline on gRPC's callback threads.
//
//   Register          data_address HOST:PORT required; grpc/http_address
//                     HOST:PORT or empty; zone (validate.h)
//   Heartbeat         node_id != 0; load finite and >= 0
//   GetClusterMap     known_epoch == current epoch: the reply holds only
//                     the epoch; otherwise the whole map
//   ReportBadChunk    chunk_id 16 bytes; node_id != 0 and registered;
//                     reason. Logged and counted; repair comes later
//                     (docs/cluster.md)
//   ReportNodeFailure node_id != 0; reason (ClusterManager::ReportNodeFailure)
//   PgRecovered       node_id != 0; pg < pg_count; epoch != 0
//                     (ClusterManager::PgRecovered checks the claim)
//   DrainNode         node_id != 0 (ClusterManager::Drain)
//   RemoveNode        node_id != 0 (ClusterManager::Remove)
//   Heartbeat.recovery at most pg_count entries, each pg < pg_count and
//                     done <= total
//
// Metrics:
//   cairn_cluster_requests_total{op}          counter
//   cairn_cluster_errors_total{op,errc}       counter
//   cairn_cluster_bad_chunk_reports_total     counter
//
// Ownership and thread-safety: borrows `manager` and `metrics`, which must
// outlive it; thread-safe. Register it with a grpc::ServerBuilder
// (`builder.RegisterService(&service)`).
#pragma once

#include <array>
#include <string_view>

#include "cluster.grpc.pb.h"
#include "cluster/cluster_manager.h"
#include "service/metrics.h"

namespace cairn::cluster {

class ClusterService final : public proto::Cluster::CallbackService {
 public:
  ClusterService(ClusterManager* manager, service::MetricsRegistry* metrics);

  using Ctx = grpc::CallbackServerContext;
  using Reactor = grpc::ServerUnaryReactor;

  Reactor* Register(Ctx* ctx, const proto::RegisterRequest* req,
                    proto::RegisterReply* reply) override;
  Reactor* Heartbeat(Ctx* ctx, const proto::HeartbeatRequest* req,
                     proto::HeartbeatReply* reply) override;
  Reactor* GetClusterMap(Ctx* ctx, const proto::GetClusterMapRequest* req,
                         proto::ClusterMap* reply) override;
  Reactor* ReportBadChunk(Ctx* ctx, const proto::ReportBadChunkRequest* req,
                          proto::ReportReply* reply) override;
  Reactor* ReportNodeFailure(Ctx* ctx, const proto::ReportNodeFailureRequest* req,
                             proto::ReportReply* reply) override;
  Reactor* PgRecovered(Ctx* ctx, const proto::PgRecoveredRequest* req,
                       proto::ReportReply* reply) override;
  Reactor* DrainNode(Ctx* ctx, const proto::NodeRequest* req, proto::ReportReply* reply) override;
  Reactor* RemoveNode(Ctx* ctx, const proto::NodeRequest* req, proto::ReportReply* reply) override;

  uint64_t bad_chunk_reports() const { return bad_chunks_->value(); }

 private:
  enum Op {
    kRegister,
    kHeartbeat,
    kGetClusterMap,
    kReportBadChunk,
    kReportNodeFailure,
    kPgRecovered,
    kDrainNode,
    kRemoveNode,
    kOpCount
  };
  static std::string_view OpName(Op op);
  // Runs `fn` inline, counts it and finishes the call.
  template <typename Fn>
  Reactor* Serve(Op op, Ctx* ctx, Fn fn) {
    Reactor* reactor = ctx->DefaultReactor();
    absl::Status status = fn();
    Record(op, status);
    Finish(reactor, ctx, status);
    return reactor;
  }
  void Record(Op op, const absl::Status& status);
  static void Finish(Reactor* reactor, Ctx* ctx, const absl::Status& status);

  ClusterManager* const manager_;
  service::Family<service::Counter>* const errors_;
  std::array<service::Counter*, kOpCount> requests_{};
  service::Counter* const bad_chunks_;
};

}  // namespace cairn::cluster

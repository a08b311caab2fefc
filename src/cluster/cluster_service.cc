#include "cluster/cluster_service.h"

#include <cmath>
#include <string>

#include <spdlog/spdlog.h>

#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "service/grpc_status.h"

namespace cairn::cluster {

std::string_view ClusterService::OpName(Op op) {
  static constexpr std::string_view kNames[kOpCount] = {
      "Register",          "Heartbeat",   "GetClusterMap", "ReportBadChunk",
      "ReportNodeFailure", "PgRecovered", "DrainNode",     "RemoveNode"};
  return kNames[op];
}

ClusterService::ClusterService(ClusterManager* manager, service::MetricsRegistry* metrics)
    : manager_(manager),
      errors_(metrics->CounterFamily("cairn_cluster_errors_total",
                                     "Cluster requests that failed, by operation and error code.",
                                     {"op", "errc"})),
      bad_chunks_(metrics->GetCounter("cairn_cluster_bad_chunk_reports_total",
                                      "Chunk copies reported as failing their checksums.")) {
  auto* requests = metrics->CounterFamily("cairn_cluster_requests_total",
                                          "Cluster requests served, by operation.", {"op"});
  for (int i = 0; i < kOpCount; ++i) {
    requests_[i] = requests->With({std::string(OpName(static_cast<Op>(i)))});
  }
}

void ClusterService::Record(Op op, const absl::Status& status) {
  requests_[op]->Increment();
  if (!status.ok()) {
    errors_->With({std::string(OpName(op)), std::string(ErrcName(ErrcOf(status)))})->Increment();
  }
}

void ClusterService::Finish(Reactor* reactor, Ctx* ctx, const absl::Status& status) {
  reactor->Finish(service::ToGrpcStatus(status, ctx));
}

ClusterService::Reactor* ClusterService::Register(Ctx* ctx, const proto::RegisterRequest* req,
                                                  proto::RegisterReply* reply) {
  return Serve(kRegister, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckHostPort(req->data_address(), "data_address", /*required=*/true));
    RETURN_IF_ERROR(CheckHostPort(req->grpc_address(), "grpc_address", /*required=*/false));
    RETURN_IF_ERROR(CheckHostPort(req->http_address(), "http_address", /*required=*/false));
    RETURN_IF_ERROR(CheckZone(req->zone()));
    RegisterInfo info;
    info.node_id = NodeId(req->node_id());
    info.data_address = req->data_address();
    info.grpc_address = req->grpc_address();
    info.http_address = req->http_address();
    info.zone = req->zone();
    info.capacity_bytes = req->capacity_bytes();
    info.available_bytes = req->available_bytes();
    ASSIGN_OR_RETURN(NodeId id, manager_->Register(info));
    reply->set_node_id(id.value());
    *reply->mutable_map() = manager_->Map();
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::Heartbeat(Ctx* ctx, const proto::HeartbeatRequest* req,
                                                   proto::HeartbeatReply* reply) {
  return Serve(kHeartbeat, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    if (!std::isfinite(req->load()) || req->load() < 0) {
      return Invalid("load: must be finite and >= 0");
    }
    HeartbeatInfo info;
    info.node_id = NodeId(req->node_id());
    info.capacity_bytes = req->capacity_bytes();
    info.used_bytes = req->used_bytes();
    info.available_bytes = req->available_bytes();
    info.chunk_count = req->chunk_count();
    info.load = req->load();
    info.epoch = req->epoch();
    if (static_cast<uint32_t>(req->recovery_size()) > manager_->pg_count()) {
      return Invalid("recovery: more entries than placement groups");
    }
    for (const proto::PgProgress& p : req->recovery()) {
      if (p.pg() >= manager_->pg_count()) return Invalid("recovery: pg out of range");
      if (p.chunks_done() > p.chunks_total() || p.bytes_done() > p.bytes_total()) {
        return Invalid("recovery: done exceeds total");
      }
      info.recovery.push_back(p);
    }
    ASSIGN_OR_RETURN(uint64_t epoch, manager_->Heartbeat(info));
    reply->set_epoch(epoch);
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::GetClusterMap(Ctx* ctx,
                                                       const proto::GetClusterMapRequest* req,
                                                       proto::ClusterMap* reply) {
  return Serve(kGetClusterMap, ctx, [&]() -> absl::Status {
    proto::ClusterMap map = manager_->Map();
    if (req->known_epoch() != 0 && req->known_epoch() == map.epoch()) {
      reply->set_epoch(map.epoch());
    } else {
      *reply = std::move(map);
    }
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::ReportBadChunk(Ctx* ctx,
                                                        const proto::ReportBadChunkRequest* req,
                                                        proto::ReportReply* reply) {
  return Serve(kReportBadChunk, ctx, [&]() -> absl::Status {
    ASSIGN_OR_RETURN(ChunkId chunk, ChunkIdFromBytes(req->chunk_id()));
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    RETURN_IF_ERROR(CheckReason(req->reason()));
    if (!manager_->IsKnown(NodeId(req->node_id()))) {
      return NotFound("node " + std::to_string(req->node_id()) + " is not registered");
    }
    bad_chunks_->Increment();
    spdlog::warn("msg=\"bad chunk copy reported\" chunk={} node={} reason=\"{}\"", chunk.ToString(),
                 req->node_id(), req->reason());
    reply->set_epoch(manager_->epoch());
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::ReportNodeFailure(
    Ctx* ctx, const proto::ReportNodeFailureRequest* req, proto::ReportReply* reply) {
  return Serve(kReportNodeFailure, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    RETURN_IF_ERROR(CheckReason(req->reason()));
    ASSIGN_OR_RETURN(uint64_t epoch,
                     manager_->ReportNodeFailure(NodeId(req->node_id()), req->reason()));
    reply->set_epoch(epoch);
    return absl::OkStatus();
  });
}

}  // namespace cairn::cluster

namespace cairn::cluster {

ClusterService::Reactor* ClusterService::PgRecovered(Ctx* ctx, const proto::PgRecoveredRequest* req,
                                                     proto::ReportReply* reply) {
  return Serve(kPgRecovered, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    if (req->pg() >= manager_->pg_count()) return Invalid("pg: out of range");
    if (req->epoch() == 0) return Invalid("epoch: must be nonzero");
    ASSIGN_OR_RETURN(uint64_t epoch,
                     manager_->PgRecovered(NodeId(req->node_id()), req->pg(), req->epoch()));
    reply->set_epoch(epoch);
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::DrainNode(Ctx* ctx, const proto::NodeRequest* req,
                                                   proto::ReportReply* reply) {
  return Serve(kDrainNode, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    ASSIGN_OR_RETURN(uint64_t epoch, manager_->Drain(NodeId(req->node_id())));
    reply->set_epoch(epoch);
    return absl::OkStatus();
  });
}

ClusterService::Reactor* ClusterService::RemoveNode(Ctx* ctx, const proto::NodeRequest* req,
                                                    proto::ReportReply* reply) {
  return Serve(kRemoveNode, ctx, [&]() -> absl::Status {
    RETURN_IF_ERROR(CheckNodeId(req->node_id(), "node_id"));
    ASSIGN_OR_RETURN(uint64_t epoch, manager_->Remove(NodeId(req->node_id())));
    reply->set_epoch(epoch);
    return absl::OkStatus();
  });
}

}  // namespace cairn::cluster

#include "chunkserver/chunk_node_service.h"

#include <optional>
#include <vector>

#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "service/grpc_status.h"

namespace cairn::chunkserver {

absl::Status ListChunksOf(chunk::ChunkStore& store, const proto::ListChunksRequest& req,
                          proto::ListChunksReply* reply) {
  uint32_t limit = req.limit() == 0 ? kListChunksDefaultLimit : req.limit();
  if (limit > kListChunksMaxLimit) {
    return Invalid("list chunks: limit " + std::to_string(limit) + " above " +
                   std::to_string(kListChunksMaxLimit));
  }
  const bool filter = req.pg_count() > 0;
  if (filter && req.pg() >= req.pg_count()) {
    return Invalid("list chunks: pg " + std::to_string(req.pg()) + " not below pg_count " +
                   std::to_string(req.pg_count()));
  }
  std::optional<ChunkId> after;
  if (!req.after().empty()) {
    ASSIGN_OR_RETURN(ChunkId id, cluster::ChunkIdFromBytes(req.after()));
    after = id;
  }
  // One page of the store; with a PG filter only a share of it is kept,
  // and the caller pages on from next_after.
  ASSIGN_OR_RETURN(std::vector<chunk::ChunkInfo> page, store.List(after, limit));
  for (const chunk::ChunkInfo& info : page) {
    if (filter && cluster::PgOf(info.id, req.pg_count()).value() != req.pg()) continue;
    proto::ChunkEntry* e = reply->add_chunks();
    e->set_id(cluster::ChunkIdToBytes(info.id));
    e->set_length(info.length);
    if (req.with_times()) {
      absl::StatusOr<int64_t> ns = store.ModifiedNs(info.id);
      if (!ns.ok() && ErrcOf(ns.status()) == Errc::kNotFound) {  // deleted meanwhile
        reply->mutable_chunks()->RemoveLast();
        continue;
      }
      RETURN_IF_ERROR(ns.status());
      e->set_modified_ns(*ns);
    }
  }
  if (!page.empty())
    reply->set_next_after(cluster::ChunkIdToBytes(page.back().id));
  else
    reply->set_next_after(req.after());
  reply->set_done(page.size() < limit);
  return absl::OkStatus();
}

absl::Status DeleteChunksIn(chunk::ChunkStore& store, const proto::DeleteChunksRequest& req,
                            proto::DeleteChunksReply* reply) {
  if (req.ids_size() == 0 || req.ids_size() > kDeleteChunksMaxIds) {
    return Invalid("delete chunks: " + std::to_string(req.ids_size()) + " ids (1.." +
                   std::to_string(kDeleteChunksMaxIds) + " allowed)");
  }
  std::vector<ChunkId> ids;
  ids.reserve(req.ids_size());
  for (const std::string& bytes : req.ids()) {  // all valid, or nothing deleted
    ASSIGN_OR_RETURN(ChunkId id, cluster::ChunkIdFromBytes(bytes));
    ids.push_back(id);
  }
  for (const ChunkId& id : ids) {
    absl::Status s = store.Delete(id);
    if (s.ok()) {
      reply->set_deleted(reply->deleted() + 1);
    } else if (ErrcOf(s) == Errc::kNotFound) {
      reply->set_not_found(reply->not_found() + 1);
    } else {
      reply->add_failed_ids(cluster::ChunkIdToBytes(id));
      reply->add_errors(std::string(s.message()));
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ChunkNodeService::GetStatus(grpc::CallbackServerContext* ctx,
                                                      const proto::GetStatusRequest* /*req*/,
                                                      proto::ChunkNodeStatus* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<proto::ChunkNodeStatus> status = status_();
  if (status.ok()) *reply = std::move(*status);
  reactor->Finish(service::ToGrpcStatus(status.status(), ctx));
  return reactor;
}

grpc::ServerUnaryReactor* ChunkNodeService::ListChunks(grpc::CallbackServerContext* ctx,
                                                       const proto::ListChunksRequest* req,
                                                       proto::ListChunksReply* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status s = ListChunksOf(*store_, *req, reply);
  if (!s.ok()) reply->Clear();
  reactor->Finish(service::ToGrpcStatus(s, ctx));
  return reactor;
}

grpc::ServerUnaryReactor* ChunkNodeService::DeleteChunks(grpc::CallbackServerContext* ctx,
                                                         const proto::DeleteChunksRequest* req,
                                                         proto::DeleteChunksReply* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status s = DeleteChunksIn(*store_, *req, reply);
  if (!s.ok()) reply->Clear();
  reactor->Finish(service::ToGrpcStatus(s, ctx));
  return reactor;
}

proto::ScrubStatus ScrubStatusToProto(const Scrubber& scrubber, const ScrubStatus& st) {
  proto::ScrubStatus p;
  p.set_running(st.running);
  p.set_cycles_completed(st.cycles_completed);
  p.set_chunks_done(st.chunks_done);
  p.set_chunks_total(st.chunks_total);
  p.set_bytes_done(st.bytes_done);
  p.set_bytes_total(st.bytes_total);
  p.set_bad_found(st.bad_found);
  p.set_repaired(st.repaired);
  p.set_unrepaired(st.unrepaired);
  p.set_last_start_ns(st.last_start_ns);
  p.set_last_end_ns(st.last_end_ns);
  p.set_total_bad(st.total_bad);
  p.set_total_repaired(st.total_repaired);
  p.set_total_unrepaired(st.total_unrepaired);
  p.set_waiting_repair(st.waiting_repair);
  p.set_rate_bytes_per_sec(scrubber.options().rate_bytes_per_sec);
  p.set_interval_seconds(absl::ToInt64Seconds(scrubber.options().interval));
  return p;
}

grpc::ServerUnaryReactor* ChunkNodeService::StartScrub(grpc::CallbackServerContext* ctx,
                                                       const proto::StartScrubRequest* /*req*/,
                                                       proto::StartScrubReply* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (scrubber_ == nullptr) {
    reactor->Finish(service::ToGrpcStatus(Error(Errc::kUnavailable, "no scrubber"), ctx));
    return reactor;
  }
  // The status of the moment of the request: the cycle may be over before
  // this line could read it again (admin scrub --wait compares against it).
  ScrubStatus before;
  reply->set_started(scrubber_->StartCycle(&before));
  *reply->mutable_status() = ScrubStatusToProto(*scrubber_, before);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* ChunkNodeService::GetScrubStatus(
    grpc::CallbackServerContext* ctx, const proto::GetScrubStatusRequest* /*req*/,
    proto::ScrubStatus* reply) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  if (scrubber_ == nullptr) {
    reactor->Finish(service::ToGrpcStatus(Error(Errc::kUnavailable, "no scrubber"), ctx));
    return reactor;
  }
  *reply = ScrubStatusToProto(*scrubber_, scrubber_->status());
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace cairn::chunkserver

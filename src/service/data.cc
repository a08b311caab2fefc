// Meta RPCs on file data and storage policies: GetChunks, CommitWrite,
// SetPolicy, GetPolicy (docs/metadata.md, "File data").
//
// Effective values fill the cluster's defaults into what is stored:
// replicas 0 is the cluster map's replicas, chunk_size 0 is
// meta::kDefaultChunkSize. A policy may not ask for more replicas than
// the cluster map keeps (kInvalid). CommitWrite refuses uploads older
// than options_.max_upload_age (kStaleUpload; docs/gc.md, "Reconciliation").
#include <algorithm>
#include <string>

#include "common/errors.h"
#include "common/status_macros.h"
#include "service/convert.h"
#include "service/meta_service.h"

namespace cairn::service {

uint32_t MetaService::ClusterReplicas() const {
  return options_.cluster != nullptr ? options_.cluster->replicas() : kDefaultClusterReplicas;
}

uint64_t MetaService::ClusterEpoch() const {
  return options_.cluster != nullptr ? options_.cluster->epoch() : 0;
}

absl::Status MetaService::CheckUploadAge(uint64_t upload_age_ms) const {
  // 0: unknown (a client older than the field): accepted, as before.
  if (upload_age_ms == 0 || options_.max_upload_age == absl::InfiniteDuration()) {
    return absl::OkStatus();
  }
  const int64_t limit_ms = absl::ToInt64Milliseconds(options_.max_upload_age);
  if (upload_age_ms < static_cast<uint64_t>(std::max<int64_t>(limit_ms, 0))) {
    return absl::OkStatus();
  }
  return Error(Errc::kStaleUpload,
               "commit refused: its oldest chunk started uploading " +
                   std::to_string(upload_age_ms) + " ms ago, at or past meta's limit of " +
                   std::to_string(limit_ms) +
                   " ms (the GC grace minus a margin); GC may have deleted it as an orphan");
}

MetaService::Reactor* MetaService::GetChunks(Ctx* ctx, const proto::GetChunksRequest* req,
                                             proto::GetChunksReply* reply) {
  return Serve(kGetChunks, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    // The epoch is read first: a map change after it makes the client's
    // epoch stale, never the reverse.
    const uint64_t epoch = ClusterEpoch();
    ASSIGN_OR_RETURN(meta::FileChunks fc,
                     ns_->GetChunks(target, req->first_slot(), req->max_slots()));
    ToProto(fc.attr, reply->mutable_attr());
    reply->set_chunk_size(fc.chunk_size);
    reply->set_replicas(fc.replicas != 0 ? fc.replicas : ClusterReplicas());
    reply->set_first_slot(fc.first_slot);
    reply->mutable_chunks()->Reserve(static_cast<int>(fc.chunks.size()));
    for (proto::ChunkRef& ref : fc.chunks) *reply->add_chunks() = std::move(ref);
    reply->set_cluster_epoch(epoch);
    return absl::OkStatus();
  });
}

MetaService::Reactor* MetaService::CommitWrite(Ctx* ctx, const proto::CommitWriteRequest* req,
                                               proto::CommitWriteReply* reply) {
  return Serve(kCommitWrite, ctx, [this, req, reply]() -> absl::Status {
    if (req->ino() == 0) return Invalid("ino: inode 0 does not exist");
    if (static_cast<size_t>(req->updates_size()) > meta::kMaxSlotUpdates) {
      return Invalid("at most " + std::to_string(meta::kMaxSlotUpdates) +
                     " slot updates per commit");
    }
    RETURN_IF_ERROR(CheckUploadAge(req->upload_age_ms()));
    meta::CommitWriteArgs args;
    args.min_size = req->min_size();
    args.mtime_ns = req->mtime_ns();
    args.updates.reserve(static_cast<size_t>(req->updates_size()));
    for (const proto::SlotUpdate& u : req->updates()) {
      if (!u.has_chunk()) return Invalid("slot " + std::to_string(u.slot()) + ": missing chunk");
      meta::SlotUpdate update;
      update.slot = u.slot();
      update.expected_id = u.expected_id();
      update.chunk = u.chunk();
      args.updates.push_back(std::move(update));
    }
    ASSIGN_OR_RETURN(proto::InodeRecord rec,
                     ns_->CommitWrite(InodeId(req->ino()), args, RequestOf(*req)));
    ToProto(rec, reply->mutable_attr());
    return absl::OkStatus();
  });
}

void MetaService::FillPolicyReply(const proto::StoragePolicy& stored, proto::PolicyReply* reply) {
  *reply->mutable_policy() = stored;
  proto::StoragePolicy* effective = reply->mutable_effective();
  effective->set_replicas(stored.replicas() != 0 ? stored.replicas() : ClusterReplicas());
  effective->set_chunk_size(stored.chunk_size() != 0 ? stored.chunk_size()
                                                     : meta::kDefaultChunkSize);
}

MetaService::Reactor* MetaService::SetPolicy(Ctx* ctx, const proto::SetPolicyRequest* req,
                                             proto::PolicyReply* reply) {
  return Serve(kSetPolicy, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    if (!req->has_policy()) return Invalid("missing policy");
    const uint32_t cluster_replicas = ClusterReplicas();
    if (req->policy().replicas() > cluster_replicas) {
      return Invalid("at most " + std::to_string(cluster_replicas) +
                     " replicas in this cluster, not " + std::to_string(req->policy().replicas()));
    }
    ASSIGN_OR_RETURN(proto::InodeRecord rec,
                     ns_->SetPolicy(target, req->policy(), RequestOf(*req)));
    FillPolicyReply(rec.policy(), reply);
    return absl::OkStatus();
  });
}

MetaService::Reactor* MetaService::GetPolicy(Ctx* ctx, const proto::GetPolicyRequest* req,
                                             proto::PolicyReply* reply) {
  return Serve(kGetPolicy, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    ASSIGN_OR_RETURN(proto::StoragePolicy policy, ns_->GetPolicy(target));
    FillPolicyReply(policy, reply);
    return absl::OkStatus();
  });
}

}  // namespace cairn::service

// Meta RPCs on attributes and the file system as a whole: GetAttr,
// SetAttr, Statfs, Fsync. Statfs reports the chunk servers' capacity (the
// sums of capacity and available bytes over UP nodes that reported one)
// and, before any has, the namespace's (NamespaceOptions::capacity_path).
#include "common/status_macros.h"
#include "service/cluster_stats.h"
#include "service/convert.h"
#include "service/meta_service.h"

namespace cairn::service {

absl::Status MetaService::DoGetAttr(const proto::GetAttrRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req.target(), req.has_target(), "target"));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, ns_->GetAttr(target));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::GetAttr(Ctx* ctx, const proto::GetAttrRequest* req,
                                           proto::AttrReply* reply) {
  return Serve(kGetAttr, ctx, [this, req, reply] { return DoGetAttr(*req, reply); });
}

absl::Status MetaService::DoSetAttr(const proto::SetAttrRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req.target(), req.has_target(), "target"));
  meta::SetAttrArgs args;
  if (req.has_mode()) {
    RETURN_IF_ERROR(CheckMode(req.mode()));
    args.mode = req.mode();
  }
  if (req.has_uid()) args.uid = req.uid();
  if (req.has_gid()) args.gid = req.gid();
  if (req.has_size()) args.size = req.size();
  // Times: any value is a valid time (before 1970 too); -1 means now.
  if (req.has_atime_ns()) args.atime_ns = req.atime_ns();
  if (req.has_mtime_ns()) args.mtime_ns = req.mtime_ns();
  ASSIGN_OR_RETURN(proto::InodeRecord rec, ns_->SetAttr(target, args, RequestOf(req)));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::SetAttr(Ctx* ctx, const proto::SetAttrRequest* req,
                                           proto::AttrReply* reply) {
  return Serve(kSetAttr, ctx, [this, req, reply] { return DoSetAttr(*req, reply); });
}

MetaService::Reactor* MetaService::Statfs(Ctx* ctx, const proto::StatfsRequest* /*req*/,
                                          proto::StatfsReply* reply) {
  return Serve(kStatfs, ctx, [this, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::StatfsInfo info, ns_->Statfs());
    // Once chunk servers report, capacity is theirs: the sums over UP nodes.
    if (options_.cluster != nullptr) {
      const ClusterStats stats = Summarize(options_.cluster->Map());
      if (stats.reporting_nodes > 0) {
        info.total_bytes = stats.capacity_bytes;
        info.free_bytes = stats.available_bytes;
        info.avail_bytes = stats.available_bytes;
      }
    }
    reply->set_total_bytes(info.total_bytes);
    reply->set_free_bytes(info.free_bytes);
    reply->set_avail_bytes(info.avail_bytes);
    reply->set_files(info.files);
    reply->set_files_free(info.files_free);
    reply->set_name_max(info.name_max);
    reply->set_block_size(info.block_size);
    return absl::OkStatus();
  });
}

MetaService::Reactor* MetaService::Fsync(Ctx* ctx, const proto::FsyncRequest* /*req*/,
                                         proto::FsyncReply* /*reply*/) {
  return Serve(kFsync, ctx, [this]() -> absl::Status { return ns_->Fsync(); });
}

}  // namespace cairn::service

// Meta RPCs on directory entries: Lookup, Mkdir, Create, Rmdir, Unlink,
// Rename, Link, Symlink, Readlink.
#include "common/status_macros.h"
#include "service/convert.h"
#include "service/meta_service.h"

namespace cairn::service {

absl::Status MetaService::DoLookup(const proto::LookupRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  ASSIGN_OR_RETURN(proto::InodeRecord rec, ns_->Lookup(parent, req.name()));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Lookup(Ctx* ctx, const proto::LookupRequest* req,
                                          proto::AttrReply* reply) {
  return Serve(kLookup, ctx, [this, req, reply] { return DoLookup(*req, reply); });
}

absl::Status MetaService::DoMkdir(const proto::MkdirRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  RETURN_IF_ERROR(CheckMode(req.mode()));
  ASSIGN_OR_RETURN(proto::InodeRecord rec,
                   ns_->Mkdir(parent, req.name(), req.mode(), meta::Caller{req.uid(), req.gid()},
                              RequestOf(req)));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Mkdir(Ctx* ctx, const proto::MkdirRequest* req,
                                         proto::AttrReply* reply) {
  return Serve(kMkdir, ctx, [this, req, reply] { return DoMkdir(*req, reply); });
}

absl::Status MetaService::DoCreate(const proto::CreateRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  RETURN_IF_ERROR(CheckMode(req.mode()));
  ASSIGN_OR_RETURN(proto::InodeRecord rec,
                   ns_->Create(parent, req.name(), req.mode(), req.exclusive(),
                               meta::Caller{req.uid(), req.gid()}, RequestOf(req)));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Create(Ctx* ctx, const proto::CreateRequest* req,
                                          proto::AttrReply* reply) {
  return Serve(kCreate, ctx, [this, req, reply] { return DoCreate(*req, reply); });
}

absl::Status MetaService::DoRmdir(const proto::RemoveRequest& req, proto::RemoveReply* /*reply*/) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  return ns_->Rmdir(parent, req.name(), RequestOf(req));
}

MetaService::Reactor* MetaService::Rmdir(Ctx* ctx, const proto::RemoveRequest* req,
                                         proto::RemoveReply* reply) {
  return Serve(kRmdir, ctx, [this, req, reply] { return DoRmdir(*req, reply); });
}

absl::Status MetaService::DoUnlink(const proto::RemoveRequest& req, proto::RemoveReply* /*reply*/) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  return ns_->Unlink(parent, req.name(), RequestOf(req));
}

MetaService::Reactor* MetaService::Unlink(Ctx* ctx, const proto::RemoveRequest* req,
                                          proto::RemoveReply* reply) {
  return Serve(kUnlink, ctx, [this, req, reply] { return DoUnlink(*req, reply); });
}

absl::Status MetaService::DoRename(const proto::RenameRequest& req, proto::RenameReply* /*reply*/) {
  ASSIGN_OR_RETURN(meta::Ref src,
                   RefFromProto(req.src_parent(), req.has_src_parent(), "src_parent"));
  RETURN_IF_ERROR(CheckName(req.src_name(), "src_name"));
  ASSIGN_OR_RETURN(meta::Ref dst,
                   RefFromProto(req.dst_parent(), req.has_dst_parent(), "dst_parent"));
  RETURN_IF_ERROR(CheckName(req.dst_name(), "dst_name"));
  RETURN_IF_ERROR(CheckRenameFlags(req.flags()));
  return ns_->Rename(src, req.src_name(), dst, req.dst_name(), req.flags(), RequestOf(req));
}

MetaService::Reactor* MetaService::Rename(Ctx* ctx, const proto::RenameRequest* req,
                                          proto::RenameReply* reply) {
  return Serve(kRename, ctx, [this, req, reply] { return DoRename(*req, reply); });
}

absl::Status MetaService::DoLink(const proto::LinkRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req.target(), req.has_target(), "target"));
  ASSIGN_OR_RETURN(meta::Ref parent,
                   RefFromProto(req.new_parent(), req.has_new_parent(), "new_parent"));
  RETURN_IF_ERROR(CheckName(req.new_name(), "new_name"));
  ASSIGN_OR_RETURN(proto::InodeRecord rec,
                   ns_->Link(target, parent, req.new_name(), RequestOf(req)));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Link(Ctx* ctx, const proto::LinkRequest* req,
                                        proto::AttrReply* reply) {
  return Serve(kLink, ctx, [this, req, reply] { return DoLink(*req, reply); });
}

absl::Status MetaService::DoSymlink(const proto::SymlinkRequest& req, proto::AttrReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref parent, RefFromProto(req.parent(), req.has_parent(), "parent"));
  RETURN_IF_ERROR(CheckName(req.name(), "name"));
  RETURN_IF_ERROR(CheckSymlinkTarget(req.target()));
  ASSIGN_OR_RETURN(proto::InodeRecord rec,
                   ns_->Symlink(parent, req.name(), req.target(),
                                meta::Caller{req.uid(), req.gid()}, RequestOf(req)));
  ToProto(rec, reply->mutable_attr());
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Symlink(Ctx* ctx, const proto::SymlinkRequest* req,
                                           proto::AttrReply* reply) {
  return Serve(kSymlink, ctx, [this, req, reply] { return DoSymlink(*req, reply); });
}

absl::Status MetaService::DoReadlink(const proto::ReadlinkRequest& req,
                                     proto::ReadlinkReply* reply) {
  ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req.target(), req.has_target(), "target"));
  ASSIGN_OR_RETURN(std::string link, ns_->Readlink(target));
  reply->set_target(std::move(link));
  return absl::OkStatus();
}

MetaService::Reactor* MetaService::Readlink(Ctx* ctx, const proto::ReadlinkRequest* req,
                                            proto::ReadlinkReply* reply) {
  return Serve(kReadlink, ctx, [this, req, reply] { return DoReadlink(*req, reply); });
}

}  // namespace cairn::service

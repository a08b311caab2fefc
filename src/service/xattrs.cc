// Meta RPCs on extended attributes: GetXattr, SetXattr, ListXattr,
// RemoveXattr.
#include "common/status_macros.h"
#include "service/convert.h"
#include "service/meta_service.h"

namespace cairn::service {

MetaService::Reactor* MetaService::GetXattr(Ctx* ctx, const proto::GetXattrRequest* req,
                                            proto::GetXattrReply* reply) {
  return Serve(kGetXattr, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    RETURN_IF_ERROR(CheckXattrName(req->name()));
    ASSIGN_OR_RETURN(std::string value, ns_->GetXattr(target, req->name()));
    reply->set_value(std::move(value));
    return absl::OkStatus();
  });
}

MetaService::Reactor* MetaService::SetXattr(Ctx* ctx, const proto::SetXattrRequest* req,
                                            proto::XattrReply* /*reply*/) {
  return Serve(kSetXattr, ctx, [this, req]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    RETURN_IF_ERROR(CheckXattrName(req->name()));
    RETURN_IF_ERROR(CheckXattrValue(req->value()));
    RETURN_IF_ERROR(CheckXattrFlags(req->flags()));
    return ns_->SetXattr(target, req->name(), req->value(), req->flags(), RequestOf(*req));
  });
}

MetaService::Reactor* MetaService::ListXattr(Ctx* ctx, const proto::ListXattrRequest* req,
                                             proto::ListXattrReply* reply) {
  return Serve(kListXattr, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    ASSIGN_OR_RETURN(std::vector<std::string> names, ns_->ListXattr(target));
    for (std::string& n : names) reply->add_names(std::move(n));
    return absl::OkStatus();
  });
}

MetaService::Reactor* MetaService::RemoveXattr(Ctx* ctx, const proto::RemoveXattrRequest* req,
                                               proto::XattrReply* /*reply*/) {
  return Serve(kRemoveXattr, ctx, [this, req]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref target, RefFromProto(req->target(), req->has_target(), "target"));
    RETURN_IF_ERROR(CheckXattrName(req->name()));
    return ns_->RemoveXattr(target, req->name(), RequestOf(*req));
  });
}

}  // namespace cairn::service

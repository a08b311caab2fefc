// Meta RPCs on directory contents: Readdir.
#include "common/status_macros.h"
#include "service/convert.h"
#include "service/meta_service.h"

namespace cairn::service {

MetaService::Reactor* MetaService::Readdir(Ctx* ctx, const proto::ReaddirRequest* req,
                                           proto::ReaddirReply* reply) {
  return Serve(kReaddir, ctx, [this, req, reply]() -> absl::Status {
    ASSIGN_OR_RETURN(meta::Ref dir, RefFromProto(req->dir(), req->has_dir(), "dir"));
    // `after` is a cursor: any name (even one that does not exist) is
    // fine, but it is bounded like one.
    if (!req->after().empty()) RETURN_IF_ERROR(CheckName(req->after(), "after"));
    ASSIGN_OR_RETURN(meta::ReaddirPage page,
                     ns_->Readdir(dir, req->after(), req->limit(), req->with_attrs()));
    reply->mutable_entries()->Reserve(static_cast<int>(page.entries.size()));
    for (meta::DirEntry& e : page.entries) {
      proto::DirEntry* out = reply->add_entries();
      out->set_name(std::move(e.name));
      out->set_ino(e.ino.value());
      out->set_type(e.type);
      if (e.attr.has_value()) ToProto(*e.attr, out->mutable_attr());
    }
    reply->set_eof(page.eof);
    return absl::OkStatus();
  });
}

}  // namespace cairn::service

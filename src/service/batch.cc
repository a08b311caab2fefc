// Meta.Batch: several namespace operations in one call (docs/metadata.md,
// "Batches"). Each runs exactly as its unary RPC would, one after the
// other on the calling thread, and gets its own status; the metrics count
// each under its own operation.
#include <chrono>
#include <string>

#include "common/errors.h"
#include "service/meta_service.h"

namespace cairn::service {
namespace {

// Bounds the work one call can ask for (and the reply it builds).
constexpr int kMaxBatchOps = 256;

}  // namespace

MetaService::Reactor* MetaService::Batch(Ctx* ctx, const proto::BatchRequest* req,
                                         proto::BatchReply* reply) {
  return Serve(kBatch, ctx, [this, req, reply]() -> absl::Status {
    if (req->ops_size() > kMaxBatchOps) {
      return Invalid("a batch carries at most " + std::to_string(kMaxBatchOps) +
                     " operations, not " + std::to_string(req->ops_size()));
    }
    reply->mutable_replies()->Reserve(req->ops_size());
    for (const proto::MetaOp& op : req->ops()) RunBatchOp(op, reply->add_replies());
    return absl::OkStatus();
  });
}

void MetaService::RunBatchOp(const proto::MetaOp& op, proto::MetaOpReply* reply) {
  const auto start = std::chrono::steady_clock::now();
  absl::Status status;
  Op kind = kBatch;
  switch (op.op_case()) {
    case proto::MetaOp::kLookup:
      kind = kLookup;
      status = DoLookup(op.lookup(), reply->mutable_attr());
      break;
    case proto::MetaOp::kGetattr:
      kind = kGetAttr;
      status = DoGetAttr(op.getattr(), reply->mutable_attr());
      break;
    case proto::MetaOp::kSetattr:
      kind = kSetAttr;
      status = DoSetAttr(op.setattr(), reply->mutable_attr());
      break;
    case proto::MetaOp::kMkdir:
      kind = kMkdir;
      status = DoMkdir(op.mkdir(), reply->mutable_attr());
      break;
    case proto::MetaOp::kCreate:
      kind = kCreate;
      status = DoCreate(op.create(), reply->mutable_attr());
      break;
    case proto::MetaOp::kRmdir: {
      kind = kRmdir;
      proto::RemoveReply none;
      status = DoRmdir(op.rmdir(), &none);
      break;
    }
    case proto::MetaOp::kUnlink: {
      kind = kUnlink;
      proto::RemoveReply none;
      status = DoUnlink(op.unlink(), &none);
      break;
    }
    case proto::MetaOp::kRename: {
      kind = kRename;
      proto::RenameReply none;
      status = DoRename(op.rename(), &none);
      break;
    }
    case proto::MetaOp::kLink:
      kind = kLink;
      status = DoLink(op.link(), reply->mutable_attr());
      break;
    case proto::MetaOp::kSymlink:
      kind = kSymlink;
      status = DoSymlink(op.symlink(), reply->mutable_attr());
      break;
    case proto::MetaOp::kReadlink:
      kind = kReadlink;
      status = DoReadlink(op.readlink(), reply->mutable_readlink());
      break;
    case proto::MetaOp::OP_NOT_SET:
      status = Invalid("a batch operation with no request");
      break;
  }
  if (kind != kBatch) Record(kind, status, std::chrono::steady_clock::now() - start);
  if (!status.ok()) {
    reply->clear_reply();
    reply->set_code(static_cast<int32_t>(status.code()));
    reply->set_message(std::string(status.message()));
    reply->set_errc(ErrcTrailerValue(status));
  }
}

}  // namespace cairn::service

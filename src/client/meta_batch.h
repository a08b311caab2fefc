// MetaBatcher: gathers the metadata calls a client's threads make at the
// same time into Meta.Batch calls (docs/metadata.md, "Batches"), so the
// per-call cost of gRPC (HTTP/2 framing, completion queues, thread hops)
// is paid once for several operations. The client uses it against a meta
// without Meta.BatchStream; batches on streams go through BatchPipe
// (client/batch_pipe.h).
//
// No call waits for company: while fewer than `in_flight` batches are out,
// a call is sent at once (as a batch of one). Past that, calls queue; when
// a batch comes back, its sender hands everything queued (up to `max_ops`)
// to the first queued caller, which sends it as the next batch and hands
// on in turn. So a lone thread sees one round trip per call, and many
// threads see batches about as large as the number waiting.
//
// Packing (PackOp/UnpackReply) maps the unary calls that have a batch form
// (the namespace operations on entries and attributes) to MetaOp and back;
// the others (readdir, data, xattrs, policies, fsync) stay unary.
//
// Thread-safety: Run is thread-safe. `send` is called from the callers'
// threads, never under the batcher's lock.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <type_traits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "meta.grpc.pb.h"

namespace cairn::client {

class MetaBatcher {
 public:
  // Sends one batch and returns its transport status (retries included).
  using Send = std::function<absl::Status(const proto::BatchRequest&, proto::BatchReply*)>;

  MetaBatcher(size_t in_flight, size_t max_ops, Send send);
  MetaBatcher(const MetaBatcher&) = delete;
  MetaBatcher& operator=(const MetaBatcher&) = delete;

  // Runs `op` in some batch; returns its status (the batch's, when the
  // batch as a whole failed) and, when OK, its reply in *reply.
  absl::Status Run(proto::MetaOp op, proto::MetaOpReply* reply);

  // Batches sent and operations carried, and callers waiting now (for
  // tests and benchmarks).
  uint64_t batches() const;
  uint64_t ops() const;
  size_t queued() const;

 private:
  struct Waiter {
    proto::MetaOp op;
    proto::MetaOpReply* reply = nullptr;
    absl::Status status;
    bool done = false;           // reply and status are filled in
    bool lead = false;           // this caller sends `batch`
    std::vector<Waiter*> batch;  // set with `lead`
  };

  // Sends `batch` and fills in each waiter's reply and status.
  void SendBatch(const std::vector<Waiter*>& batch);
  // After a batch: marks the others done and hands the queue on (or frees
  // the slot). Returns with mu_ released.
  void Finish(const std::vector<Waiter*>& batch, const Waiter* self);

  const size_t in_flight_limit_;
  const size_t max_ops_;
  const Send send_;
  mutable absl::Mutex mu_;
  size_t in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<Waiter*> queue_ ABSL_GUARDED_BY(mu_);
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t ops_ ABSL_GUARDED_BY(mu_) = 0;
};

// The outcome of the i-th operation of a batch: `sent` (the whole batch's
// failure) when it is not OK, else the operation's own status, its reply
// moved into *out when OK. The batch's reply must carry one reply per
// operation (CheckReplyCount).
absl::Status OpOutcome(const absl::Status& sent, proto::BatchReply* reply, int i,
                       proto::MetaOpReply* out);
// kInternal when meta answered `ops` operations with another number of
// replies.
absl::Status CheckReplyCount(const proto::BatchReply& reply, size_t ops);

// ---- Packing

using MetaMethod = proto::Meta::Stub;

// The MetaOp of a unary call `method(*req)`, moving *req into it; false
// (and *req untouched) when the call has no batch form.
template <typename Req, typename Reply>
bool PackOp(grpc::Status (MetaMethod::*method)(grpc::ClientContext*, const Req&, Reply*), Req* req,
            proto::MetaOp* op) {
  if constexpr (std::is_same_v<Req, proto::LookupRequest>) {
    *op->mutable_lookup() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::GetAttrRequest>) {
    *op->mutable_getattr() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::SetAttrRequest>) {
    *op->mutable_setattr() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::MkdirRequest>) {
    *op->mutable_mkdir() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::CreateRequest>) {
    *op->mutable_create() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::RemoveRequest>) {
    if (method == &MetaMethod::Unlink) {
      *op->mutable_unlink() = std::move(*req);
    } else if (method == &MetaMethod::Rmdir) {
      *op->mutable_rmdir() = std::move(*req);
    } else {
      return false;
    }
  } else if constexpr (std::is_same_v<Req, proto::RenameRequest>) {
    *op->mutable_rename() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::LinkRequest>) {
    *op->mutable_link() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::SymlinkRequest>) {
    *op->mutable_symlink() = std::move(*req);
  } else if constexpr (std::is_same_v<Req, proto::ReadlinkRequest>) {
    *op->mutable_readlink() = std::move(*req);
  } else {
    return false;
  }
  return true;
}

// True when calls with this request type may have a batch form.
template <typename Req>
inline constexpr bool kBatchable =
    std::is_same_v<Req, proto::LookupRequest> || std::is_same_v<Req, proto::GetAttrRequest> ||
    std::is_same_v<Req, proto::SetAttrRequest> || std::is_same_v<Req, proto::MkdirRequest> ||
    std::is_same_v<Req, proto::CreateRequest> || std::is_same_v<Req, proto::RemoveRequest> ||
    std::is_same_v<Req, proto::RenameRequest> || std::is_same_v<Req, proto::LinkRequest> ||
    std::is_same_v<Req, proto::SymlinkRequest> || std::is_same_v<Req, proto::ReadlinkRequest>;

// Moves the reply of a successful batched op into the unary reply type.
template <typename Reply>
void UnpackReply(proto::MetaOpReply* from, Reply* to) {
  if constexpr (std::is_same_v<Reply, proto::AttrReply>) {
    to->Swap(from->mutable_attr());
  } else if constexpr (std::is_same_v<Reply, proto::ReadlinkReply>) {
    to->Swap(from->mutable_readlink());
  } else {
    static_assert(
        std::is_same_v<Reply, proto::RemoveReply> || std::is_same_v<Reply, proto::RenameReply>,
        "a batched call's reply type without an unpacking");
  }
}

}  // namespace cairn::client

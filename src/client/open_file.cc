// Client::Open: resolves the path (following symlinks), creates or
// truncates as asked, and loads the slot table.
//
// Round trips: opening an existing file costs one GetChunks (two with a
// symlink per hop, plus a SetAttr to truncate). A file created empty, or
// truncated, needs no GetChunks once the client knows the cluster
// defaults (learned from the first GetChunks of a file on the default
// policy): a small new file costs Create + one chunk write + CommitWrite.
#include "client/open_file.h"

#include <memory>
#include <string>

#include "client/file_impl.h"
#include "client/paths.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "dataplane/protocol.h"
#include "meta/names.h"

namespace cairn::client {
namespace {

constexpr int kMaxSymlinkHops = 40;
constexpr uint32_t kKnownFlags =
    kOpenRead | kOpenWrite | kOpenCreate | kOpenExclusive | kOpenTruncate | kOpenAppend;

absl::Status CheckFlags(uint32_t flags) {
  if ((flags & ~kKnownFlags) != 0) return Invalid("open: unknown flags");
  if ((flags & (kOpenRead | kOpenWrite)) == 0) return Invalid("open: neither read nor write");
  if ((flags & (kOpenTruncate | kOpenAppend)) != 0 && (flags & kOpenWrite) == 0) {
    return Invalid("open: truncate or append without write");
  }
  if ((flags & kOpenExclusive) != 0 && (flags & kOpenCreate) == 0) {
    return Invalid("open: exclusive without create");
  }
  return absl::OkStatus();
}

// The inode at `path` when it is a symlink: the path its target names.
absl::StatusOr<std::optional<std::string>> SymlinkTarget(Rpc& rpc, const std::string& path) {
  proto::GetAttrRequest req;
  req.mutable_target()->set_path(path);
  proto::AttrReply reply;
  RETURN_IF_ERROR(rpc.Meta(&Rpc::MetaStub::GetAttr, req, &reply));
  if (reply.attr().type() != proto::FILE_TYPE_SYMLINK) return std::optional<std::string>();
  ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
  ASSIGN_OR_RETURN(std::string target,
                   meta::NormalizePath(pn.parent, reply.attr().symlink_target()));
  return std::optional<std::string>(std::move(target));
}

absl::Status CheckChunkSize(uint64_t chunk_size) {
  if (chunk_size == 0 || chunk_size > dataplane::kMaxPayload) {
    return Error(Errc::kInternal, "meta sent a chunk size of " + std::to_string(chunk_size));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<File>> OpenFile(DataContext& ctx, std::string_view path_arg,
                                               uint32_t flags, uint32_t mode) {
  RETURN_IF_ERROR(CheckFlags(flags));
  RETURN_IF_ERROR(CheckPath(path_arg));
  Rpc& rpc = ctx.rpc();
  std::string path(path_arg);
  FileState state;
  std::optional<proto::GetChunksReply> chunks;
  for (int hop = 0;; ++hop) {
    if (hop > kMaxSymlinkHops)
      return Error(Errc::kLoop, "open " + std::string(path_arg) + ": too many symlinks");
    absl::Status s;
    if ((flags & kOpenCreate) != 0) {
      ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
      if (pn.name.empty()) return IsDir("open /: a directory");
      proto::CreateRequest req;
      req.mutable_parent()->set_path(std::move(pn.parent));
      req.set_name(std::move(pn.name));
      req.set_mode(mode);
      req.set_uid(ctx.options().uid);
      req.set_gid(ctx.options().gid);
      req.set_exclusive((flags & kOpenExclusive) != 0);
      proto::AttrReply reply;
      s = rpc.Meta(&Rpc::MetaStub::Create, req, &reply);
      if (s.ok()) {
        state.attr = std::move(*reply.mutable_attr());
        break;
      }
      // A symlink is "something else" to Create: follow it.
      if (ErrcOf(s) != Errc::kExists || (flags & kOpenExclusive) != 0) return s;
    } else {
      proto::GetChunksRequest req;
      req.mutable_target()->set_path(path);
      proto::GetChunksReply reply;
      s = rpc.Meta(&Rpc::MetaStub::GetChunks, req, &reply);
      if (s.ok()) {
        state.attr = reply.attr();
        chunks = std::move(reply);
        break;
      }
      if (ErrcOf(s) == Errc::kNotFound || ErrcOf(s) == Errc::kUnavailable ||
          ErrcOf(s) == Errc::kTimeout) {
        return s;
      }
    }
    // Not a regular file: a symlink to follow, or an error to return.
    absl::StatusOr<std::optional<std::string>> target = SymlinkTarget(rpc, path);
    if (!target.ok() || !target->has_value()) return s;
    path = std::move(**target);
  }
  if (state.attr.type() == proto::FILE_TYPE_DIRECTORY)
    return IsDir("open " + path + ": a directory");
  if (state.attr.type() != proto::FILE_TYPE_REGULAR) {
    return Invalid("open " + path + ": not a regular file");
  }
  const proto::Attr created = state.attr;  // the policy lives here
  if ((flags & kOpenTruncate) != 0 && state.attr.size() != 0) {
    proto::SetAttrRequest req;
    req.mutable_target()->set_ino(state.attr.ino());
    req.set_size(0);
    proto::AttrReply reply;
    RETURN_IF_ERROR(rpc.Meta(&Rpc::MetaStub::SetAttr, req, &reply));
    state.attr = std::move(*reply.mutable_attr());
    chunks.reset();
  }
  if (!chunks.has_value()) {
    state.chunk_size = ctx.ChunkSizeFor(state.attr.policy());
    state.replicas = ctx.ReplicasFor(state.attr.policy());
    // An empty file whose slot size we know: nothing to load.
    if (state.attr.size() != 0 || state.chunk_size == 0 || state.replicas == 0) {
      proto::GetChunksRequest req;
      req.mutable_target()->set_ino(state.attr.ino());
      proto::GetChunksReply reply;
      RETURN_IF_ERROR(rpc.Meta(&Rpc::MetaStub::GetChunks, req, &reply));
      state.attr = reply.attr();
      chunks = std::move(reply);
    }
  }
  if (chunks.has_value()) {
    RETURN_IF_ERROR(CheckChunkSize(chunks->chunk_size()));
    state.chunk_size = chunks->chunk_size();
    state.replicas = chunks->replicas();
    ctx.LearnDefaults(created.policy(), chunks->chunk_size(), chunks->replicas());
    RETURN_IF_ERROR(AddSlots(*chunks, &state.slots));
    RETURN_IF_ERROR(
        AddRemainingPages(rpc, InodeId(state.attr.ino()), UINT64_MAX, &*chunks, &state.slots));
    state.attr = chunks->attr();
    ctx.maps().NoteEpoch(chunks->cluster_epoch());
  }
  RETURN_IF_ERROR(CheckChunkSize(state.chunk_size));
  if (state.replicas == 0) return Error(Errc::kInternal, "meta sent a replica count of 0");
  return std::unique_ptr<File>(new FileImpl(&ctx, flags, std::move(state)));
}

}  // namespace cairn::client

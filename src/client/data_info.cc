// Client calls about where data lives: storage policies, the cluster map,
// a file's chunks.
#include <algorithm>
#include <string>

#include "client/convert.h"
#include "client/open_file.h"
#include "client/paths.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::client {
namespace {

PolicyInfo FromReply(const proto::PolicyReply& reply) {
  return PolicyInfo{.stored = FromProto(reply.policy()), .effective = FromProto(reply.effective())};
}

}  // namespace

absl::StatusOr<PolicyInfo> SetPolicy(DataContext& ctx, std::string_view path,
                                     const StoragePolicy& policy) {
  RETURN_IF_ERROR(CheckPath(path));
  proto::SetPolicyRequest req;
  req.mutable_target()->set_path(std::string(path));
  *req.mutable_policy() = ToProto(policy);
  proto::PolicyReply reply;
  RETURN_IF_ERROR(ctx.rpc().Meta(&Rpc::MetaStub::SetPolicy, req, &reply));
  return FromReply(reply);
}

absl::StatusOr<PolicyInfo> GetPolicy(DataContext& ctx, std::string_view path) {
  RETURN_IF_ERROR(CheckPath(path));
  proto::GetPolicyRequest req;
  req.mutable_target()->set_path(std::string(path));
  proto::PolicyReply reply;
  RETURN_IF_ERROR(ctx.rpc().Meta(&Rpc::MetaStub::GetPolicy, req, &reply));
  return FromReply(reply);
}

absl::StatusOr<ClusterInfo> GetClusterStatus(DataContext& ctx) {
  proto::GetClusterMapRequest req;  // known_epoch 0: the whole map
  proto::ClusterMap reply;
  RETURN_IF_ERROR(ctx.rpc().Cluster(&Rpc::ClusterStub::GetClusterMap, req, &reply));
  return FromProto(reply);
}

namespace {

// Appends the slots of one GetChunks page to `out` with their chains in `map`.
absl::Status AppendSlots(const proto::GetChunksReply& reply, const MapSnapshot& map,
                         FileChunksInfo* out) {
  for (int i = 0; i < reply.chunks_size(); ++i) {
    const proto::ChunkRef& c = reply.chunks(i);
    SlotChunk slot;
    slot.slot = reply.first_slot() + static_cast<uint64_t>(i);
    slot.offset = slot.slot * reply.chunk_size();
    slot.length = c.length();
    if (!c.id().empty()) {
      ASSIGN_OR_RETURN(ChunkId id, cluster::ChunkIdFromBytes(c.id()));
      slot.id = id.ToString();
      slot.pg = map.PgOf(id);
      const proto::PgChain& chain = map.map().pgs(static_cast<int>(slot.pg.value()));
      // Writes go to the first `replicas` members of the chain.
      for (int n = 0; n < chain.nodes_size() && n < static_cast<int>(out->replicas); ++n) {
        NodeId node(chain.nodes(n));
        slot.chain.push_back({node, map.AddressOf(node)});
      }
    }
    out->slots.push_back(std::move(slot));
  }
  return absl::OkStatus();
}

}  // namespace

// Meta answers a bounded number of slots per GetChunks; files with more
// chunks than that are read page by page (by inode, so a rename between
// pages cannot switch files).
absl::StatusOr<FileChunksInfo> GetFileChunks(DataContext& ctx, std::string_view path) {
  RETURN_IF_ERROR(CheckPath(path));
  proto::GetChunksRequest req;
  req.mutable_target()->set_path(std::string(path));
  proto::GetChunksReply reply;
  RETURN_IF_ERROR(ctx.rpc().Meta(&Rpc::MetaStub::GetChunks, req, &reply));
  ctx.maps().NoteEpoch(reply.cluster_epoch());
  ASSIGN_OR_RETURN(std::shared_ptr<const MapSnapshot> map, ctx.maps().Get());
  FileChunksInfo out;
  out.attr = FromProto(reply.attr());
  out.chunk_size = reply.chunk_size();
  out.replicas = reply.replicas();
  out.epoch = map->epoch();
  const uint64_t size = reply.attr().size();
  const uint64_t file_slots =
      size == 0 || out.chunk_size == 0 ? 0 : (size - 1) / out.chunk_size + 1;
  out.slots.reserve(std::min<uint64_t>(file_slots, 1u << 20));
  for (;;) {
    RETURN_IF_ERROR(AppendSlots(reply, *map, &out));
    const uint64_t next = reply.first_slot() + static_cast<uint64_t>(reply.chunks_size());
    if (reply.chunks_size() == 0 || next >= file_slots) return out;
    proto::GetChunksRequest more;
    more.mutable_target()->set_ino(reply.attr().ino());
    more.set_first_slot(next);
    reply.Clear();
    RETURN_IF_ERROR(ctx.rpc().Meta(&Rpc::MetaStub::GetChunks, more, &reply));
    if (reply.chunk_size() != out.chunk_size) {
      return Error(Errc::kConflict,
                   std::string(path) + ": the file changed while its chunk list was read");
    }
  }
}

}  // namespace cairn::client

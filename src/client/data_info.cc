// Client calls about where data lives: storage policies, the cluster map,
// a file's chunks.
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
  out.slots.reserve(reply.chunks_size());
  for (int i = 0; i < reply.chunks_size(); ++i) {
    const proto::ChunkRef& c = reply.chunks(i);
    SlotChunk slot;
    slot.slot = reply.first_slot() + static_cast<uint64_t>(i);
    slot.offset = slot.slot * reply.chunk_size();
    slot.length = c.length();
    if (!c.id().empty()) {
      ASSIGN_OR_RETURN(ChunkId id, cluster::ChunkIdFromBytes(c.id()));
      slot.id = id.ToString();
      slot.pg = map->PgOf(id);
      const proto::PgChain& chain = map->map().pgs(static_cast<int>(slot.pg.value()));
      // Writes go to the first `replicas` members of the chain.
      for (int n = 0; n < chain.nodes_size() && n < static_cast<int>(out.replicas); ++n) {
        NodeId node(chain.nodes(n));
        slot.chain.push_back({node, map->AddressOf(node)});
      }
    }
    out.slots.push_back(std::move(slot));
  }
  return out;
}

}  // namespace cairn::client

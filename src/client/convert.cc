#include "client/convert.h"

namespace cairn::client {

FileType FromProto(proto::FileType t) {
  switch (t) {
    case proto::FILE_TYPE_REGULAR:
      return FileType::kRegular;
    case proto::FILE_TYPE_DIRECTORY:
      return FileType::kDirectory;
    case proto::FILE_TYPE_SYMLINK:
      return FileType::kSymlink;
    default:
      return FileType::kUnknown;
  }
}

Attr FromProto(const proto::Attr& a) {
  Attr out;
  out.ino = InodeId(a.ino());
  out.type = FromProto(a.type());
  out.mode = a.mode();
  out.uid = a.uid();
  out.gid = a.gid();
  out.size = a.size();
  out.nlink = a.nlink();
  out.atime_ns = a.atime_ns();
  out.mtime_ns = a.mtime_ns();
  out.ctime_ns = a.ctime_ns();
  out.crtime_ns = a.crtime_ns();
  out.symlink_target = a.symlink_target();
  return out;
}

StoragePolicy FromProto(const proto::StoragePolicy& p) {
  return StoragePolicy{.replicas = p.replicas(), .chunk_size = p.chunk_size()};
}

proto::StoragePolicy ToProto(const StoragePolicy& p) {
  proto::StoragePolicy out;
  out.set_replicas(p.replicas);
  out.set_chunk_size(p.chunk_size);
  return out;
}

NodeState FromProto(proto::NodeState s) {
  switch (s) {
    case proto::NODE_UP:
      return NodeState::kUp;
    case proto::NODE_DOWN:
      return NodeState::kDown;
    case proto::NODE_OUT:
      return NodeState::kOut;
    case proto::NODE_DRAINING:
      return NodeState::kDraining;
    default:
      return NodeState::kUnknown;
  }
}

NodeStatus FromProto(const proto::NodeInfo& n) {
  NodeStatus out;
  out.id = NodeId(n.id());
  out.data_address = n.data_address();
  out.grpc_address = n.grpc_address();
  out.http_address = n.http_address();
  out.zone = n.zone();
  out.state = FromProto(n.state());
  out.capacity_bytes = n.capacity_bytes();
  out.used_bytes = n.used_bytes();
  out.available_bytes = n.available_bytes();
  out.chunk_count = n.chunk_count();
  out.last_heartbeat_ns = n.last_heartbeat_ns();
  out.load = n.load();
  return out;
}

ClusterInfo FromProto(const proto::ClusterMap& map) {
  ClusterInfo out;
  out.epoch = map.epoch();
  out.pg_count = map.pg_count();
  out.replicas = map.replicas();
  out.nodes.reserve(map.nodes_size());
  for (const proto::NodeInfo& n : map.nodes()) out.nodes.push_back(FromProto(n));
  out.pgs.reserve(map.pgs_size());
  for (const proto::PgChain& c : map.pgs()) {
    PgStatus pg;
    pg.pg = PgId(c.pg());
    for (uint64_t id : c.nodes()) pg.chain.push_back(NodeId(id));
    out.pgs.push_back(std::move(pg));
  }
  return out;
}

}  // namespace cairn::client

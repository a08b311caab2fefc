// Conversions between the client API's value types (cairn/*.h) and the
// protos of the Meta and Cluster services. Pure functions.
#pragma once

#include "cairn/cluster_info.h"
#include "cairn/types.h"
#include "cluster.pb.h"
#include "common.pb.h"

namespace cairn::client {

FileType FromProto(proto::FileType type);
Attr FromProto(const proto::Attr& attr);
StoragePolicy FromProto(const proto::StoragePolicy& policy);
proto::StoragePolicy ToProto(const StoragePolicy& policy);
NodeState FromProto(proto::NodeState state);
NodeStatus FromProto(const proto::NodeInfo& node);
ClusterInfo FromProto(const proto::ClusterMap& map);

}  // namespace cairn::client

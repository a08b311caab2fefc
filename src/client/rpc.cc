#include "client/rpc.h"

namespace cairn::client {

Rpc::Rpc(const std::vector<std::shared_ptr<grpc::Channel>>& channels, absl::Duration timeout)
    : timeout_(timeout) {
  for (const auto& channel : channels) {
    meta_.push_back(proto::Meta::NewStub(channel));
    cluster_.push_back(proto::Cluster::NewStub(channel));
  }
}

}  // namespace cairn::client

#include "client/cluster_map.h"

#include <algorithm>
#include <utility>

#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"

namespace cairn::client {
namespace {

// Meta keeps reasons as printable ASCII of at most 1024 bytes.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 512));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

}  // namespace

MapSnapshot::MapSnapshot(proto::ClusterMap map) : map_(std::move(map)) {
  for (int i = 0; i < map_.nodes_size(); ++i) node_index_[map_.nodes(i).id()] = i;
}

absl::StatusOr<std::shared_ptr<const MapSnapshot>> MapSnapshot::Build(proto::ClusterMap map) {
  if (map.pg_count() == 0) return Error(Errc::kInternal, "cluster map without placement groups");
  if (static_cast<uint64_t>(map.pgs_size()) != map.pg_count()) {
    return Error(Errc::kInternal, "cluster map with " + std::to_string(map.pgs_size()) +
                                      " chains for " + std::to_string(map.pg_count()) + " PGs");
  }
  for (int i = 0; i < map.pgs_size(); ++i) {
    if (map.pgs(i).pg() != static_cast<uint32_t>(i)) {
      return Error(Errc::kInternal, "cluster map chains out of order");
    }
  }
  return std::shared_ptr<const MapSnapshot>(new MapSnapshot(std::move(map)));
}

PgId MapSnapshot::PgOf(const ChunkId& id) const { return cluster::PgOf(id, map_.pg_count()); }

std::vector<Replica> MapSnapshot::Chain(const ChunkId& id) const {
  std::vector<Replica> out;
  const proto::PgChain& chain = map_.pgs(static_cast<int>(PgOf(id).value()));
  out.reserve(chain.nodes_size());
  for (uint64_t node : chain.nodes()) {
    auto it = node_index_.find(node);
    if (it == node_index_.end()) continue;
    const proto::NodeInfo& info = map_.nodes(it->second);
    if ((info.state() != proto::NODE_UP && info.state() != proto::NODE_DRAINING) ||
        info.data_address().empty()) {
      continue;
    }
    out.push_back({NodeId(node), info.data_address()});
  }
  return out;
}

bool MapSnapshot::IsRecovering(const ChunkId& id, NodeId node) const {
  const proto::PgChain& chain = map_.pgs(static_cast<int>(PgOf(id).value()));
  return std::find(chain.recovering().begin(), chain.recovering().end(), node.value()) !=
         chain.recovering().end();
}

std::vector<Replica> MapSnapshot::WriteChain(const ChunkId& id, uint32_t replicas) const {
  std::vector<Replica> out;
  uint32_t healthy = 0;
  for (Replica& r : Chain(id)) {
    if (IsRecovering(id, r.node)) {
      out.push_back(std::move(r));
    } else if (healthy < std::max<uint32_t>(replicas, 1)) {
      ++healthy;
      out.push_back(std::move(r));
    }
  }
  if (healthy == 0) out.clear();
  return out;
}

std::vector<Replica> MapSnapshot::ReadChain(const ChunkId& id) const {
  std::vector<Replica> out;
  for (Replica& r : Chain(id)) {
    if (!IsRecovering(id, r.node)) out.push_back(std::move(r));
  }
  return out;
}

std::optional<NodeId> MapSnapshot::NodeAt(std::string_view data_address) const {
  for (const proto::NodeInfo& n : map_.nodes()) {
    if (n.data_address() == data_address) return NodeId(n.id());
  }
  return std::nullopt;
}

std::string MapSnapshot::AddressOf(NodeId node) const {
  auto it = node_index_.find(node.value());
  return it == node_index_.end() ? std::string() : map_.nodes(it->second).data_address();
}

std::shared_ptr<const MapSnapshot> ClusterMapCache::Cached() const {
  absl::MutexLock l(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const MapSnapshot>> ClusterMapCache::Get() {
  if (auto cached = Cached()) return cached;
  return Refresh(0);
}

absl::StatusOr<std::shared_ptr<const MapSnapshot>> ClusterMapCache::Refresh(uint64_t seen) {
  absl::MutexLock refresh(&refresh_mu_);
  std::shared_ptr<const MapSnapshot> cached = Cached();
  // Someone refreshed past what the caller saw while it waited.
  if (cached != nullptr && seen != 0 && cached->epoch() > seen) return cached;
  proto::GetClusterMapRequest req;
  if (cached != nullptr) req.set_known_epoch(cached->epoch());
  proto::ClusterMap reply;
  absl::Status s = rpc_->Cluster(&Rpc::ClusterStub::GetClusterMap, req, &reply);
  if (!s.ok()) return s;
  // Only the epoch: the map has not changed.
  if (cached != nullptr && reply.epoch() == cached->epoch() && reply.pgs_size() == 0) {
    return cached;
  }
  absl::StatusOr<std::shared_ptr<const MapSnapshot>> built = MapSnapshot::Build(std::move(reply));
  if (!built.ok()) return built.status();
  absl::MutexLock l(&mu_);
  // Never go back to an older map.
  if (current_ == nullptr || (*built)->epoch() >= current_->epoch()) current_ = *built;
  return current_;
}

void ClusterMapCache::NoteEpoch(uint64_t epoch) {
  std::shared_ptr<const MapSnapshot> cached = Cached();
  if (cached != nullptr && cached->epoch() >= epoch) return;
  (void)Refresh(cached == nullptr ? 0 : cached->epoch());
}

void ClusterMapCache::ReportNodeFailure(NodeId node, uint64_t epoch, std::string_view reason) {
  proto::ReportNodeFailureRequest req;
  req.set_node_id(node.value());
  req.set_epoch(epoch);
  req.set_reason(Printable(reason));
  proto::ReportReply reply;
  (void)rpc_->Cluster(&Rpc::ClusterStub::ReportNodeFailure, req, &reply);
}

void ClusterMapCache::ReportBadChunk(const ChunkId& id, NodeId node, std::string_view reason) {
  proto::ReportBadChunkRequest req;
  req.set_chunk_id(cluster::ChunkIdToBytes(id));
  req.set_node_id(node.value());
  req.set_reason(Printable(reason));
  proto::ReportReply reply;
  (void)rpc_->Cluster(&Rpc::ClusterStub::ReportBadChunk, req, &reply);
}

}  // namespace cairn::client

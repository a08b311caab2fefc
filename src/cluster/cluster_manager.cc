#include "cluster/cluster_manager.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "store/run_txn.h"

namespace cairn::cluster {
namespace keys = meta::keys;
namespace {

absl::Status Corrupt(std::string_view what) {
  return Error(Errc::kInternal, "corrupt cluster record: " + std::string(what));
}

proto::ClusterMap StoredMap(uint64_t epoch, uint32_t pg_count, uint32_t replicas,
                            const std::vector<Chain>& chains) {
  proto::ClusterMap map;
  map.set_epoch(epoch);
  map.set_pg_count(pg_count);
  map.set_replicas(replicas);
  for (uint32_t pg = 0; pg < chains.size(); ++pg) {
    proto::PgChain* c = map.add_pgs();
    c->set_pg(pg);
    for (NodeId n : chains[pg]) c->add_nodes(n.value());
  }
  return map;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ClusterManager>> ClusterManager::Open(store::KvStore* store,
                                                                     Clock* clock,
                                                                     ClusterOptions options) {
  if (options.pg_count == 0 || options.pg_count > (1u << 20)) {
    return Invalid("pg_count must be in 1..1048576");
  }
  if (options.replicas == 0 || options.replicas > 16) return Invalid("replicas must be in 1..16");

  struct Loaded {
    State state;
    uint32_t pg_count = 0;
    uint32_t replicas = 0;
  };
  // Reads everything, creating the map in an empty store.
  ASSIGN_OR_RETURN(
      Loaded loaded,
      store::RunTxn(*store, store::RetryOptions{}, [&](store::Txn& txn) -> absl::StatusOr<Loaded> {
        Loaded out;
        ASSIGN_OR_RETURN(auto map_value, txn.Get(keys::Cluster(keys::kClusterMap)));
        if (!map_value) {
          out.pg_count = options.pg_count;
          out.replicas = options.replicas;
          out.state.epoch = 1;
          out.state.next_node_id = 1;
          out.state.chains.assign(out.pg_count, Chain());
          txn.Put(keys::Cluster(keys::kClusterMap),
                  StoredMap(1, out.pg_count, out.replicas, out.state.chains).SerializeAsString());
          txn.Put(keys::Cluster(keys::kNextNodeId), keys::EncodeU64(1));
          return out;
        }
        proto::ClusterMap map;
        if (!map.ParseFromString(*map_value)) return Corrupt("map does not parse");
        if (map.pg_count() == 0 || map.replicas() == 0 ||
            static_cast<uint32_t>(map.pgs_size()) != map.pg_count()) {
          return Corrupt("map pg_count/replicas/pgs inconsistent");
        }
        out.pg_count = map.pg_count();
        out.replicas = map.replicas();
        out.state.epoch = map.epoch();
        out.state.chains.assign(out.pg_count, Chain());
        for (const proto::PgChain& c : map.pgs()) {
          if (c.pg() >= out.pg_count) return Corrupt("pg out of range");
          for (uint64_t n : c.nodes()) out.state.chains[c.pg()].push_back(NodeId(n));
        }
        ASSIGN_OR_RETURN(auto next, txn.Get(keys::Cluster(keys::kNextNodeId)));
        if (!next) return Corrupt("next_node missing");
        ASSIGN_OR_RETURN(out.state.next_node_id, keys::DecodeU64(*next));
        ASSIGN_OR_RETURN(auto records, txn.Scan(keys::NodeBegin(), keys::NodeEnd(), 0));
        for (const store::KeyValue& kv : records) {
          Node node;
          if (!node.record.ParseFromString(kv.value)) return Corrupt("node record does not parse");
          NodeId id(node.record.info().id());
          if (!id.valid() || keys::Node(id) != kv.key)
            return Corrupt("node record id/key mismatch");
          if (id.value() >= out.state.next_node_id) return Corrupt("node id >= next_node");
          out.state.nodes.emplace(id, std::move(node));
        }
        for (const Chain& chain : out.state.chains) {
          for (NodeId n : chain) {
            if (!out.state.nodes.count(n)) return Corrupt("chain names an unknown node");
          }
        }
        return out;
      }));

  if (loaded.pg_count != options.pg_count || loaded.replicas != options.replicas) {
    spdlog::warn(
        "msg=\"cluster map keeps its stored shape\" pg_count={} replicas={} "
        "requested_pg_count={} requested_replicas={}",
        loaded.pg_count, loaded.replicas, options.pg_count, options.replicas);
  }
  const int64_t now = clock->NowNanos();
  for (auto& [id, node] : loaded.state.nodes) {
    if (node.record.info().state() == proto::NODE_UP) node.last_heartbeat_ns = now;
  }
  return std::unique_ptr<ClusterManager>(new ClusterManager(
      store, clock, options, loaded.pg_count, loaded.replicas, std::move(loaded.state)));
}

ClusterManager::ClusterManager(store::KvStore* store, Clock* clock, ClusterOptions options,
                               uint32_t pg_count, uint32_t replicas, State state)
    : store_(store),
      clock_(clock),
      options_(options),
      pg_count_(pg_count),
      replicas_(replicas),
      state_(std::move(state)) {}

ClusterManager::~ClusterManager() { Stop(); }

void ClusterManager::Start() {
  absl::MutexLock lock(&thread_mu_);
  if (thread_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  thread_ = std::thread([this, stop = stop_.get()] {
    while (!stop->WaitForNotificationWithTimeout(options_.tick_interval)) {
      absl::Status s = Tick();
      if (!s.ok())
        spdlog::error("msg=\"cluster failure detection failed\" error=\"{}\"", s.ToString());
    }
  });
}

void ClusterManager::Stop() {
  absl::MutexLock lock(&thread_mu_);
  if (!thread_.joinable()) return;
  stop_->Notify();
  thread_.join();
  thread_ = std::thread();
}

std::vector<PlacementNode> ClusterManager::PlacementNodes(const State& state) const {
  std::vector<PlacementNode> out;
  for (const auto& [id, node] : state.nodes) {
    const proto::NodeInfo& info = node.record.info();
    out.push_back(
        PlacementNode{id, info.zone(), info.state() == proto::NODE_UP, info.capacity_bytes()});
  }
  return out;
}

void ClusterManager::MarkDown(State& next, NodeId node) const {
  proto::NodeRecord& rec = next.nodes.at(node).record;
  rec.mutable_info()->set_state(proto::NODE_DOWN);
  std::vector<uint32_t> left = RemoveNode(next.chains, node);
  rec.clear_left_pgs();
  for (uint32_t pg : left) rec.add_left_pgs(pg);
}

void ClusterManager::MarkUp(State& next, NodeId node) const {
  proto::NodeRecord& rec = next.nodes.at(node).record;
  rec.mutable_info()->set_state(proto::NODE_UP);
  std::vector<uint32_t> preferred(rec.left_pgs().begin(), rec.left_pgs().end());
  rec.clear_left_pgs();

  // A cluster that never had a placement (every chain empty, no node
  // remembering chains it left) starts with a balanced one once enough
  // nodes are up.
  bool never_placed = preferred.empty() && std::all_of(next.chains.begin(), next.chains.end(),
                                                       [](const Chain& c) { return c.empty(); });
  for (const auto& [id, n] : next.nodes) never_placed = never_placed && n.record.left_pgs().empty();
  std::vector<PlacementNode> nodes = PlacementNodes(next);
  if (never_placed) {
    size_t up =
        std::count_if(nodes.begin(), nodes.end(), [](const PlacementNode& n) { return n.up; });
    if (up >= options_.bootstrap_nodes) next.chains = ComputeChains(nodes, pg_count_, replicas_);
    return;
  }
  AddNode(next.chains, nodes, node, replicas_, preferred);
}

absl::Status ClusterManager::Commit(State next, const std::vector<NodeId>& changed) {
  const uint64_t expected = state_.epoch;
  next.epoch = expected + 1;
  std::string map = StoredMap(next.epoch, pg_count_, replicas_, next.chains).SerializeAsString();
  std::vector<std::pair<std::string, std::string>> records;
  for (NodeId id : changed) {
    records.emplace_back(keys::Node(id), next.nodes.at(id).record.SerializeAsString());
  }
  store::RetryOptions retry;
  retry.commit.sync = options_.sync_commits;
  RETURN_IF_ERROR(store::RunTxn(*store_, retry, [&](store::Txn& txn) -> absl::Status {
    // Reading the map makes a second writer (another meta that believes
    // it leads) conflict instead of silently interleaving.
    ASSIGN_OR_RETURN(auto stored, txn.Get(keys::Cluster(keys::kClusterMap)));
    proto::ClusterMap current;
    if (!stored || !current.ParseFromString(*stored)) return Corrupt("map missing or unparsable");
    if (current.epoch() != expected) {
      return Error(Errc::kStaleEpoch, "stored cluster map is at epoch " +
                                          std::to_string(current.epoch()) + ", this manager at " +
                                          std::to_string(expected) + ": another meta wrote it");
    }
    txn.Put(keys::Cluster(keys::kClusterMap), map);
    txn.Put(keys::Cluster(keys::kNextNodeId), keys::EncodeU64(next.next_node_id));
    for (const auto& [key, value] : records) txn.Put(key, value);
    return absl::OkStatus();
  }));
  state_ = std::move(next);
  return absl::OkStatus();
}

absl::StatusOr<NodeId> ClusterManager::Register(const RegisterInfo& info) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, node] : state_.nodes) {
    if (id != info.node_id && node.record.info().state() == proto::NODE_UP &&
        node.record.info().data_address() == info.data_address) {
      return Error(Errc::kExists, "data address " + info.data_address + " belongs to node " +
                                      id.ToString() + ", which is up");
    }
  }
  State next = state_;
  NodeId id = info.node_id;
  bool was_up = false;
  if (!id.valid()) {
    id = NodeId(next.next_node_id++);
    next.nodes[id].record.mutable_info()->set_id(id.value());
  } else {
    auto it = next.nodes.find(id);
    if (it == next.nodes.end()) {
      return Error(Errc::kNotFound,
                   "node " + id.ToString() + " is not registered (register with id 0)");
    }
    was_up = it->second.record.info().state() == proto::NODE_UP;
  }
  Node& node = next.nodes.at(id);
  proto::NodeInfo before = node.record.info();
  proto::NodeInfo* rec = node.record.mutable_info();
  rec->set_data_address(info.data_address);
  rec->set_grpc_address(info.grpc_address);
  rec->set_http_address(info.http_address);
  rec->set_zone(info.zone);
  rec->set_capacity_bytes(info.capacity_bytes);
  node.last_heartbeat_ns = clock_->NowNanos();
  node.live.set_capacity_bytes(info.capacity_bytes);
  node.live.set_available_bytes(info.available_bytes);
  if (!was_up) MarkUp(next, id);

  const bool changed = !was_up || before.SerializeAsString() != rec->SerializeAsString();
  if (!changed) {
    state_ = std::move(next);  // liveness only; no epoch bump
    return id;
  }
  RETURN_IF_ERROR(Commit(std::move(next), {id}));
  spdlog::info("msg=\"node registered\" node={} data={} zone=\"{}\" returning={} epoch={}",
               id.value(), info.data_address, info.zone, info.node_id.valid(), state_.epoch);
  return id;
}

absl::StatusOr<uint64_t> ClusterManager::Heartbeat(const HeartbeatInfo& info) {
  absl::MutexLock lock(&mu_);
  auto it = state_.nodes.find(info.node_id);
  if (it == state_.nodes.end()) {
    return Error(Errc::kNotFound, "node " + info.node_id.ToString() + " is not registered");
  }
  const int64_t now = clock_->NowNanos();
  auto record_live = [&](Node& node) {
    node.last_heartbeat_ns = now;
    ++node.heartbeats;
    node.live.set_capacity_bytes(info.capacity_bytes);
    node.live.set_used_bytes(info.used_bytes);
    node.live.set_available_bytes(info.available_bytes);
    node.live.set_chunk_count(info.chunk_count);
    node.live.set_load(info.load);
  };
  if (it->second.record.info().state() == proto::NODE_UP) {
    record_live(it->second);
    return state_.epoch;
  }
  State next = state_;
  record_live(next.nodes.at(info.node_id));
  MarkUp(next, info.node_id);
  RETURN_IF_ERROR(Commit(std::move(next), {info.node_id}));
  spdlog::info("msg=\"node back up\" node={} epoch={}", info.node_id.value(), state_.epoch);
  return state_.epoch;
}

absl::StatusOr<uint64_t> ClusterManager::ReportNodeFailure(NodeId node, std::string_view reason) {
  absl::MutexLock lock(&mu_);
  auto it = state_.nodes.find(node);
  if (it == state_.nodes.end()) {
    return Error(Errc::kNotFound, "node " + node.ToString() + " is not registered");
  }
  if (it->second.record.info().state() != proto::NODE_UP) return state_.epoch;
  const int64_t silent_ns = clock_->NowNanos() - it->second.last_heartbeat_ns;
  if (silent_ns <= absl::ToInt64Nanoseconds(options_.report_grace)) {
    spdlog::info(
        "msg=\"node failure reported, node heartbeats\" node={} silent_ms={} reason=\"{}\"",
        node.value(), silent_ns / 1'000'000, reason);
    return state_.epoch;
  }
  State next = state_;
  MarkDown(next, node);
  RETURN_IF_ERROR(Commit(std::move(next), {node}));
  spdlog::warn("msg=\"node down on report\" node={} silent_ms={} reason=\"{}\" epoch={}",
               node.value(), silent_ns / 1'000'000, reason, state_.epoch);
  return state_.epoch;
}

absl::Status ClusterManager::Tick() {
  absl::MutexLock lock(&mu_);
  const int64_t now = clock_->NowNanos();
  const int64_t limit = absl::ToInt64Nanoseconds(options_.down_after);
  std::vector<NodeId> late;
  for (const auto& [id, node] : state_.nodes) {
    if (node.record.info().state() == proto::NODE_UP && now - node.last_heartbeat_ns > limit) {
      late.push_back(id);
    }
  }
  if (late.empty()) return absl::OkStatus();
  State next = state_;
  for (NodeId id : late) MarkDown(next, id);
  RETURN_IF_ERROR(Commit(std::move(next), late));
  for (NodeId id : late) {
    spdlog::warn("msg=\"node down: heartbeats stopped\" node={} epoch={}", id.value(),
                 state_.epoch);
  }
  return absl::OkStatus();
}

absl::StatusOr<ChainView> ClusterManager::ChainFor(const ChunkId& id) const {
  absl::ReaderMutexLock lock(&mu_);
  const bool any_up = std::any_of(state_.nodes.begin(), state_.nodes.end(), [](const auto& kv) {
    return kv.second.record.info().state() == proto::NODE_UP;
  });
  if (!any_up) return Error(Errc::kUnavailable, "no chunk server is up");
  ChainView view;
  view.epoch = state_.epoch;
  view.pg = PgOf(id, pg_count_);
  const Chain& chain = state_.chains[view.pg.value()];
  if (chain.empty()) {
    return Error(Errc::kUnavailable, "placement group " + std::to_string(view.pg.value()) +
                                         " has no up chunk server (epoch " +
                                         std::to_string(state_.epoch) + ")");
  }
  for (NodeId n : chain) {
    view.members.push_back(ChainMember{n, state_.nodes.at(n).record.info().data_address()});
  }
  return view;
}

proto::ClusterMap ClusterManager::Map() const {
  absl::ReaderMutexLock lock(&mu_);
  proto::ClusterMap map = StoredMap(state_.epoch, pg_count_, replicas_, state_.chains);
  for (const auto& [id, node] : state_.nodes) {
    proto::NodeInfo* info = map.add_nodes();
    *info = node.record.info();
    info->set_used_bytes(node.live.used_bytes());
    info->set_available_bytes(node.live.available_bytes());
    info->set_chunk_count(node.live.chunk_count());
    info->set_load(node.live.load());
    if (node.live.capacity_bytes() != 0) info->set_capacity_bytes(node.live.capacity_bytes());
    info->set_last_heartbeat_ns(node.last_heartbeat_ns);
  }
  return map;
}

uint64_t ClusterManager::epoch() const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.epoch;
}

bool ClusterManager::IsKnown(NodeId node) const {
  absl::ReaderMutexLock lock(&mu_);
  return state_.nodes.count(node) > 0;
}

}  // namespace cairn::cluster

#include "cluster/cluster_manager.h"

#include <algorithm>
#include <tuple>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/hash.h"
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
                            const std::vector<Chain>& chains,
                            const std::vector<std::vector<NodeId>>& recovering,
                            const std::vector<std::vector<NodeId>>& last_healthy) {
  proto::ClusterMap map;
  map.set_epoch(epoch);
  map.set_pg_count(pg_count);
  map.set_replicas(replicas);
  for (uint32_t pg = 0; pg < chains.size(); ++pg) {
    proto::PgChain* c = map.add_pgs();
    c->set_pg(pg);
    for (NodeId n : chains[pg]) c->add_nodes(n.value());
    if (pg < recovering.size()) {
      for (NodeId n : recovering[pg]) c->add_recovering(n.value());
    }
    if (pg < last_healthy.size()) {
      for (NodeId n : last_healthy[pg]) c->add_last_healthy(n.value());
    }
  }
  return map;
}

bool InService(const proto::NodeInfo& info) {
  return info.state() == proto::NODE_UP || info.state() == proto::NODE_DRAINING;
}

bool Has(const std::vector<NodeId>& ids, NodeId node) {
  return std::find(ids.begin(), ids.end(), node) != ids.end();
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
          out.state.recovering.assign(out.pg_count, {});
          out.state.last_healthy.assign(out.pg_count, {});
          txn.Put(keys::Cluster(keys::kClusterMap),
                  StoredMap(1, out.pg_count, out.replicas, out.state.chains, out.state.recovering,
                            out.state.last_healthy)
                      .SerializeAsString());
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
        out.state.recovering.assign(out.pg_count, {});
        out.state.last_healthy.assign(out.pg_count, {});
        for (const proto::PgChain& c : map.pgs()) {
          if (c.pg() >= out.pg_count) return Corrupt("pg out of range");
          for (uint64_t n : c.nodes()) out.state.chains[c.pg()].push_back(NodeId(n));
          for (uint64_t n : c.recovering()) {
            if (std::find(c.nodes().begin(), c.nodes().end(), n) == c.nodes().end()) {
              return Corrupt("recovering node not in its chain");
            }
            out.state.recovering[c.pg()].push_back(NodeId(n));
            out.state.since[{c.pg(), n}] = map.epoch();
          }
          for (uint64_t n : c.last_healthy()) out.state.last_healthy[c.pg()].push_back(NodeId(n));
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
        // A map stored before last_healthy existed: start from the chains.
        NoteHealthy(out.state);
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
    if (InService(node.record.info())) node.last_heartbeat_ns = now;
    // Out counts from meta's start when meta was away (its clock may differ).
    if (node.record.info().state() == proto::NODE_DOWN) {
      node.record.set_down_since_ns(std::min(node.record.down_since_ns(), now));
      if (node.record.down_since_ns() <= 0) node.record.set_down_since_ns(now);
    }
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

bool ClusterManager::IsRecovering(const State& s, uint32_t pg, NodeId node) {
  const auto& r = s.recovering[pg];
  return std::find(r.begin(), r.end(), node) != r.end();
}

size_t ClusterManager::HealthyCount(const State& s, uint32_t pg) {
  return s.chains[pg].size() - s.recovering[pg].size();
}

bool ClusterManager::MayReenter(const State& s, uint32_t pg, NodeId node) {
  // Empty: the PG never had a healthy member (nothing was written to it),
  // or a map stored before the set was kept.
  return s.last_healthy[pg].empty() || Has(s.last_healthy[pg], node);
}

void ClusterManager::NoteHealthy(State& s) {
  for (uint32_t pg = 0; pg < s.chains.size(); ++pg) {
    std::vector<NodeId> healthy;
    for (NodeId n : s.chains[pg]) {
      if (!IsRecovering(s, pg, n)) healthy.push_back(n);
    }
    if (healthy.empty()) continue;  // keep who held it last
    std::sort(healthy.begin(), healthy.end());
    s.last_healthy[pg] = std::move(healthy);
  }
}

void ClusterManager::Join(State& next, uint32_t pg, NodeId node) {
  Chain& chain = next.chains[pg];
  if (HealthyCount(next, pg) == 0 && MayReenter(next, pg, node)) {
    // A last holder of the PG: healthy, and head (every member present
    // is recovering and waits to copy from it).
    chain.insert(chain.begin(), node);
    return;
  }
  chain.push_back(node);
  next.recovering[pg].push_back(node);
  next.since[{pg, node.value()}] = next.epoch + 1;  // the epoch Commit gives it
}

void ClusterManager::Leave(State& next, uint32_t pg, NodeId node) {
  auto& chain = next.chains[pg];
  chain.erase(std::remove(chain.begin(), chain.end(), node), chain.end());
  auto& rec = next.recovering[pg];
  rec.erase(std::remove(rec.begin(), rec.end(), node), rec.end());
  next.since.erase({pg, node.value()});
}

void ClusterManager::MarkDown(State& next, NodeId node) const {
  proto::NodeRecord& rec = next.nodes.at(node).record;
  rec.mutable_info()->set_state(proto::NODE_DOWN);
  rec.set_down_since_ns(clock_->NowNanos());
  rec.clear_left_pgs();
  for (uint32_t pg = 0; pg < next.chains.size(); ++pg) {
    const Chain& chain = next.chains[pg];
    if (std::find(chain.begin(), chain.end(), node) == chain.end()) continue;
    Leave(next, pg, node);
    rec.add_left_pgs(pg);
  }
}

void ClusterManager::MarkUp(State& next, NodeId node) const {
  proto::NodeRecord& rec = next.nodes.at(node).record;
  rec.mutable_info()->set_state(proto::NODE_UP);
  rec.set_down_since_ns(0);
  std::vector<uint32_t> preferred(rec.left_pgs().begin(), rec.left_pgs().end());
  rec.clear_left_pgs();

  // A cluster that never had a placement (every chain empty, no node
  // remembering chains it left) starts with a balanced one once enough
  // nodes are up.
  bool never_placed = preferred.empty() && std::all_of(next.chains.begin(), next.chains.end(),
                                                       [](const Chain& c) { return c.empty(); });
  for (const auto& [id, n] : next.nodes) never_placed = never_placed && n.record.left_pgs().empty();
  for (const auto& last : next.last_healthy) never_placed = never_placed && last.empty();
  std::vector<PlacementNode> nodes = PlacementNodes(next);
  if (never_placed) {
    size_t up =
        std::count_if(nodes.begin(), nodes.end(), [](const PlacementNode& n) { return n.up; });
    if (up >= options_.bootstrap_nodes) next.chains = ComputeChains(nodes, pg_count_, replicas_);
    return;
  }
  // A last holder of a PG that has no healthy member rejoins it, even
  // when the chain is full of members waiting to copy from it.
  for (uint32_t pg = 0; pg < pg_count_; ++pg) {
    const Chain& chain = next.chains[pg];
    if (HealthyCount(next, pg) == 0 && Has(next.last_healthy[pg], node) && !Has(chain, node)) {
      Join(next, pg, node);
    }
  }
  // AddNode appends; recovering unless it is a last holder of an empty PG.
  std::vector<Chain> before = next.chains;
  for (uint32_t pg : AddNode(next.chains, nodes, node, replicas_, preferred)) {
    next.chains[pg] = before[pg];
    Join(next, pg, node);
  }
}

absl::Status ClusterManager::Commit(State next, const std::vector<NodeId>& changed,
                                    const std::vector<NodeId>& removed) {
  const uint64_t expected = state_.epoch;
  next.epoch = expected + 1;
  NoteHealthy(next);
  std::string map =
      StoredMap(next.epoch, pg_count_, replicas_, next.chains, next.recovering, next.last_healthy)
          .SerializeAsString();
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
    for (NodeId id : removed) txn.Delete(keys::Node(id));
    return absl::OkStatus();
  }));
  state_ = std::move(next);
  return absl::OkStatus();
}

absl::StatusOr<NodeId> ClusterManager::Register(const RegisterInfo& info) {
  absl::MutexLock lock(&mu_);
  for (const auto& [id, node] : state_.nodes) {
    if (id != info.node_id && InService(node.record.info()) &&
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
    was_up = InService(it->second.record.info());
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
    node.live.set_map_epoch(info.epoch);
    node.live.clear_recovery();
    for (const proto::PgProgress& p : info.recovery) *node.live.add_recovery() = p;
  };
  if (InService(it->second.record.info())) {
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
  if (!InService(it->second.record.info())) return state_.epoch;
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
  const int64_t out_limit = absl::ToInt64Nanoseconds(options_.out_after);
  std::vector<NodeId> late, out;
  for (const auto& [id, node] : state_.nodes) {
    const proto::NodeInfo& info = node.record.info();
    if (InService(info) && now - node.last_heartbeat_ns > limit) late.push_back(id);
    if (info.state() == proto::NODE_DOWN && now - node.record.down_since_ns() > out_limit) {
      out.push_back(id);
    }
  }
  State next = state_;
  for (NodeId id : late) MarkDown(next, id);
  for (NodeId id : out) {
    proto::NodeRecord& rec = next.nodes.at(id).record;
    rec.mutable_info()->set_state(proto::NODE_OUT);
    rec.clear_left_pgs();
  }
  const bool repaired = Repair(next);
  if (late.empty() && out.empty() && !repaired) return absl::OkStatus();
  std::vector<NodeId> changed = late;
  changed.insert(changed.end(), out.begin(), out.end());
  RETURN_IF_ERROR(Commit(std::move(next), changed));
  for (NodeId id : late) {
    spdlog::warn("msg=\"node down: heartbeats stopped\" node={} epoch={}", id.value(),
                 state_.epoch);
  }
  for (NodeId id : out) {
    spdlog::warn("msg=\"node out: its placement groups are re-replicated\" node={} epoch={}",
                 id.value(), state_.epoch);
  }
  if (repaired) spdlog::info("msg=\"chains repaired or moved\" epoch={}", state_.epoch);
  return absl::OkStatus();
}

bool ClusterManager::Repair(State& next) const {
  bool changed = false;
  // PGs a DOWN node left wait for it (until it is OUT) rather than copy.
  std::vector<bool> waiting(pg_count_, false);
  for (const auto& [id, node] : next.nodes) {
    if (node.record.info().state() != proto::NODE_DOWN) continue;
    for (uint32_t pg : node.record.left_pgs()) {
      if (pg < pg_count_) waiting[pg] = true;
    }
  }
  auto draining = [&](NodeId n) {
    return next.nodes.at(n).record.info().state() == proto::NODE_DRAINING;
  };
  const bool placed = std::any_of(next.chains.begin(), next.chains.end(),
                                  [](const Chain& c) { return !c.empty(); });
  for (uint32_t pg = 0; pg < pg_count_ && placed; ++pg) {
    // Members that stay: everything but draining nodes.
    size_t staying = 0;
    bool has_draining = false;
    for (NodeId n : next.chains[pg]) {
      if (draining(n)) {
        has_draining = true;
      } else {
        ++staying;
      }
    }
    if (staying >= replicas_ || (waiting[pg] && !has_draining)) continue;
    std::vector<PlacementNode> nodes = PlacementNodes(next);
    while (staying < replicas_) {
      NodeId pick = PickMember(next.chains, nodes, pg);
      if (!pick.valid()) break;
      Join(next, pg, pick);
      ++staying;
      changed = true;
    }
  }
  for (uint32_t pg = 0; pg < pg_count_; ++pg) changed = Trim(next, pg) || changed;
  return Rebalance(next) || changed;
}

bool ClusterManager::Trim(State& next, uint32_t pg) const {
  bool changed = false;
  while (HealthyCount(next, pg) > replicas_) {
    // Drop a draining member first, else the healthy member with the most
    // healthy memberships per unit of capacity (a move's source), never the
    // recovering ones. Counted as Rebalance counts them (recovering
    // memberships left out), and ties drop the earlier (head side) member:
    // a move's target just recovered sits behind its source, and dropping
    // it would only start the same move again.
    std::map<NodeId, uint32_t> members;
    for (uint32_t p = 0; p < pg_count_; ++p)
      for (NodeId n : next.chains[p])
        if (!IsRecovering(next, p, n)) ++members[n];
    NodeId victim;
    std::tuple<bool, double> best_key{false, 0.0};
    for (NodeId n : next.chains[pg]) {
      if (IsRecovering(next, pg, n)) continue;
      const proto::NodeInfo& info = next.nodes.at(n).record.info();
      const double cap = static_cast<double>(std::max<uint64_t>(info.capacity_bytes(), 1));
      auto key = std::make_tuple(info.state() == proto::NODE_DRAINING, members[n] / cap);
      if (!victim.valid() || key > best_key) {
        victim = n;
        best_key = key;
      }
    }
    if (!victim.valid()) break;
    Leave(next, pg, victim);
    changed = true;
  }
  return changed;
}

bool ClusterManager::Rebalance(State& next) const {
  if (options_.max_moves == 0) return false;
  // Weighted memberships of the nodes that can take PGs.
  struct Load {
    double weight = 1;
    double members = 0;
    uint32_t moves_in = 0;
    std::string zone;
  };
  std::map<NodeId, Load> load;
  uint64_t max_cap = 0;
  bool weighted = true;
  for (const auto& [id, node] : next.nodes) {
    const proto::NodeInfo& info = node.record.info();
    if (info.state() != proto::NODE_UP) continue;
    load[id].zone = info.zone();
    max_cap = std::max<uint64_t>(max_cap, info.capacity_bytes());
    weighted = weighted && info.capacity_bytes() > 0;
  }
  if (load.size() < 2) return false;
  // Nothing moves while any PG is short or waits for a DOWN member.
  for (const auto& [id, node] : next.nodes) {
    if (node.record.info().state() == proto::NODE_DOWN ||
        node.record.info().state() == proto::NODE_DRAINING) {
      return false;
    }
  }
  uint32_t in_flight = 0;
  for (uint32_t pg = 0; pg < pg_count_; ++pg) {
    if (next.chains[pg].size() < replicas_) return false;
    if (!next.recovering[pg].empty()) ++in_flight;
    for (NodeId n : next.recovering[pg]) {
      if (load.count(n)) ++load[n].moves_in;
    }
    for (NodeId n : next.chains[pg]) {
      if (load.count(n) && !IsRecovering(next, pg, n)) load[n].members += 1;
    }
  }
  for (auto& [id, l] : load) {
    if (weighted && max_cap > 0) {
      l.weight = static_cast<double>(next.nodes.at(id).record.info().capacity_bytes()) /
                 static_cast<double>(max_cap);
    }
  }
  const bool zoned =
      std::any_of(load.begin(), load.end(), [](const auto& kv) { return !kv.second.zone.empty(); });
  bool changed = false;
  while (in_flight < options_.max_moves) {
    double sum = 0;
    for (const auto& [id, l] : load) sum += l.members / l.weight;
    const double mean = sum / static_cast<double>(load.size());
    NodeId full, empty;
    for (const auto& [id, l] : load) {
      const double v = l.members / l.weight;
      if (!full.valid() || v > load[full].members / load[full].weight) full = id;
      if (l.moves_in < options_.max_moves_per_node &&
          (!empty.valid() || v < load[empty].members / load[empty].weight)) {
        empty = id;
      }
    }
    if (!full.valid() || !empty.valid() || full == empty) break;
    const double gap =
        load[full].members / load[full].weight - load[empty].members / load[empty].weight;
    if (gap <= options_.rebalance_threshold * mean ||
        load[full].members - load[empty].members < 2) {
      break;
    }
    // A full, settled chain of `full` that `empty` may join (zones kept).
    uint32_t chosen = pg_count_;
    for (uint32_t i = 0; i < pg_count_ && chosen == pg_count_; ++i) {
      // Start at a spread offset so moves do not all take the low PGs.
      const uint32_t pg = static_cast<uint32_t>((i + Mix64(empty.value())) % pg_count_);
      const Chain& chain = next.chains[pg];
      if (chain.size() != replicas_ || !next.recovering[pg].empty()) continue;
      if (std::find(chain.begin(), chain.end(), full) == chain.end()) continue;
      if (std::find(chain.begin(), chain.end(), empty) != chain.end()) continue;
      bool zone_clash = false;
      if (zoned) {
        for (NodeId m : chain) {
          if (m != full && next.nodes.at(m).record.info().zone() == load[empty].zone) {
            zone_clash = true;
          }
        }
      }
      if (!zone_clash) chosen = pg;
    }
    if (chosen == pg_count_) break;
    Join(next, chosen, empty);
    load[empty].moves_in++;
    load[empty].members += 1;
    load[full].members -= 1;
    ++in_flight;
    changed = true;
    spdlog::info("msg=\"rebalance: moving pg\" pg={} from={} to={}", chosen, full.value(),
                 empty.value());
  }
  return changed;
}

absl::StatusOr<uint64_t> ClusterManager::PgRecovered(NodeId node, uint32_t pg, uint64_t epoch) {
  absl::MutexLock lock(&mu_);
  if (!state_.nodes.count(node)) {
    return Error(Errc::kNotFound, "node " + node.ToString() + " is not registered");
  }
  if (pg >= pg_count_) return Invalid("pg " + std::to_string(pg) + " out of range");
  if (epoch == 0 || epoch > state_.epoch) {
    return Invalid("epoch " + std::to_string(epoch) + " is not an epoch of this map (at " +
                   std::to_string(state_.epoch) + ")");
  }
  const Chain& chain = state_.chains[pg];
  if (std::find(chain.begin(), chain.end(), node) == chain.end()) {
    return Invalid("node " + node.ToString() + " is not a member of pg " + std::to_string(pg));
  }
  if (!IsRecovering(state_, pg, node)) return state_.epoch;  // a retried claim
  if (HealthyCount(state_, pg) == 0) {
    return Error(Errc::kBusy, "pg " + std::to_string(pg) +
                                  " has no healthy member to have copied from: it recovers once "
                                  "one of its last holders returns");
  }
  const uint64_t since = state_.since.at({pg, node.value()});
  if (epoch < since) {
    return Error(Errc::kStaleEpoch, "node " + node.ToString() + " became recovering in pg " +
                                        std::to_string(pg) + " at epoch " + std::to_string(since) +
                                        ", after the claimed epoch " + std::to_string(epoch));
  }
  for (NodeId m : chain) {
    const uint64_t seen = state_.nodes.at(m).live.map_epoch();
    if (seen < epoch) {
      return Error(Errc::kBusy, "member " + m.ToString() + " of pg " + std::to_string(pg) +
                                    " has reported epoch " + std::to_string(seen) + ", not yet " +
                                    std::to_string(epoch));
    }
  }
  State next = state_;
  auto& rec = next.recovering[pg];
  rec.erase(std::remove(rec.begin(), rec.end(), node), rec.end());
  next.since.erase({pg, node.value()});
  Trim(next, pg);
  RETURN_IF_ERROR(Commit(std::move(next), {}));
  spdlog::info("msg=\"pg recovered\" node={} pg={} claim_epoch={} epoch={}", node.value(), pg,
               epoch, state_.epoch);
  return state_.epoch;
}

absl::StatusOr<uint64_t> ClusterManager::Drain(NodeId node) {
  absl::MutexLock lock(&mu_);
  auto it = state_.nodes.find(node);
  if (it == state_.nodes.end()) {
    return Error(Errc::kNotFound, "node " + node.ToString() + " is not registered");
  }
  const proto::NodeState st = it->second.record.info().state();
  if (st == proto::NODE_DRAINING) return state_.epoch;
  if (st != proto::NODE_UP) {
    return Error(Errc::kBusy, "node " + node.ToString() + " is " + proto::NodeState_Name(st) +
                                  ", not up: only an up node can be drained");
  }
  State next = state_;
  next.nodes.at(node).record.mutable_info()->set_state(proto::NODE_DRAINING);
  Repair(next);
  RETURN_IF_ERROR(Commit(std::move(next), {node}));
  spdlog::warn("msg=\"node draining\" node={} epoch={}", node.value(), state_.epoch);
  return state_.epoch;
}

absl::StatusOr<uint64_t> ClusterManager::Remove(NodeId node) {
  absl::MutexLock lock(&mu_);
  auto it = state_.nodes.find(node);
  if (it == state_.nodes.end()) {
    return Error(Errc::kNotFound, "node " + node.ToString() + " is not registered");
  }
  const proto::NodeRecord& rec = it->second.record;
  const proto::NodeState st = rec.info().state();
  if (st == proto::NODE_UP) {
    return Error(Errc::kBusy, "node " + node.ToString() + " is up: drain it first");
  }
  uint32_t member_of = 0;
  for (const Chain& c : state_.chains) {
    member_of += std::count(c.begin(), c.end(), node);
  }
  if (member_of > 0) {
    return Error(Errc::kBusy, "node " + node.ToString() + " is " + proto::NodeState_Name(st) +
                                  " and still a member of " + std::to_string(member_of) +
                                  " placement groups: wait for the drain to finish");
  }
  for (uint32_t pg : rec.left_pgs()) {
    if (pg < pg_count_ && HealthyCount(state_, pg) == 0) {
      return Error(Errc::kBusy, "node " + node.ToString() + " holds the only copy of pg " +
                                    std::to_string(pg) + " (no healthy member left)");
    }
  }
  // OUT forgets left_pgs; the last healthy members are kept until the PG
  // has R healthy members again.
  for (uint32_t pg = 0; pg < pg_count_; ++pg) {
    const size_t healthy = HealthyCount(state_, pg);
    if (healthy < replicas_ && Has(state_.last_healthy[pg], node)) {
      return Error(Errc::kBusy, "node " + node.ToString() + " may hold the only copy of pg " +
                                    std::to_string(pg) + " (one of its last healthy members; " +
                                    std::to_string(healthy) + " of " + std::to_string(replicas_) +
                                    " healthy now)");
    }
  }
  State next = state_;
  next.nodes.erase(node);
  RETURN_IF_ERROR(Commit(std::move(next), {}, {node}));
  spdlog::warn("msg=\"node removed\" node={} epoch={}", node.value(), state_.epoch);
  return state_.epoch;
}

absl::StatusOr<ChainView> ClusterManager::ChainFor(const ChunkId& id) const {
  absl::ReaderMutexLock lock(&mu_);
  const bool any_up = std::any_of(state_.nodes.begin(), state_.nodes.end(), [](const auto& kv) {
    return InService(kv.second.record.info());
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
  if (HealthyCount(state_, view.pg.value()) == 0) {
    return Error(Errc::kUnavailable, "placement group " + std::to_string(view.pg.value()) +
                                         " has no healthy member; it waits for one of its last "
                                         "holders (epoch " +
                                         std::to_string(state_.epoch) + ")");
  }
  for (NodeId n : chain) {
    view.members.push_back(ChainMember{n, state_.nodes.at(n).record.info().data_address(),
                                       IsRecovering(state_, view.pg.value(), n)});
  }
  return view;
}

proto::ClusterMap ClusterManager::Map() const {
  absl::ReaderMutexLock lock(&mu_);
  proto::ClusterMap map = StoredMap(state_.epoch, pg_count_, replicas_, state_.chains,
                                    state_.recovering, state_.last_healthy);
  for (const auto& [id, node] : state_.nodes) {
    proto::NodeInfo* info = map.add_nodes();
    *info = node.record.info();
    info->set_used_bytes(node.live.used_bytes());
    info->set_available_bytes(node.live.available_bytes());
    info->set_chunk_count(node.live.chunk_count());
    info->set_load(node.live.load());
    if (node.live.capacity_bytes() != 0) info->set_capacity_bytes(node.live.capacity_bytes());
    info->set_last_heartbeat_ns(node.last_heartbeat_ns);
    info->set_map_epoch(node.live.map_epoch());
    *info->mutable_recovery() = node.live.recovery();
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

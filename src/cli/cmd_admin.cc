// cairn admin status [--json] [--pgs]: the cluster map — epoch, nodes with
// their state, capacity and usage, placement groups and their chains.
// Summarized on a terminal (every chain with --pgs), complete in JSON,
// with each PG's health and the recovery in progress (bytes left, ETA).
// cairn admin drain NODE / remove NODE: the Cluster service's admin calls.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "cluster.grpc.pb.h"
#include "service/cluster_stats.h"
#include "service/grpc_status.h"

namespace cairn::cli {
namespace {

struct AdminArgs {
  ClientFlags client;
  bool json = false;
  bool pgs = false;
  uint64_t node = 0;  // drain, remove
};

std::unique_ptr<proto::Cluster::Stub> ClusterStub(const ClientFlags& flags) {
  return proto::Cluster::NewStub(
      grpc::CreateChannel(flags.meta, grpc::InsecureChannelCredentials()));
}

template <typename Req, typename Reply>
absl::Status CallCluster(proto::Cluster::Stub& stub, const ClientFlags& flags,
                         grpc::Status (proto::Cluster::Stub::*method)(grpc::ClientContext*,
                                                                      const Req&, Reply*),
                         const Req& req, Reply* reply) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000)));
  return service::FromGrpcStatus((stub.*method)(&ctx, req, reply), ctx);
}

// The recovery picture: the map with the nodes' progress, sampled twice a
// second apart while something is copying so the rate (and ETA) is seen.
struct Recovery {
  service::ClusterStats stats;
  proto::ClusterMap map;
  double rate = 0;  // bytes/s copied between the two samples; 0: unknown
};

absl::StatusOr<Recovery> FetchRecovery(const ClientFlags& flags) {
  auto stub = ClusterStub(flags);
  Recovery r;
  absl::Status st = CallCluster(*stub, flags, &proto::Cluster::Stub::GetClusterMap,
                                proto::GetClusterMapRequest(), &r.map);
  if (!st.ok()) return st;
  r.stats = service::Summarize(r.map);
  if (r.stats.pgs_by_state[static_cast<size_t>(service::PgState::kRecovering)] == 0) return r;
  const uint64_t done0 = r.stats.recovery_bytes_total - r.stats.recovery_bytes_left;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  proto::ClusterMap again;
  st = CallCluster(*stub, flags, &proto::Cluster::Stub::GetClusterMap,
                   proto::GetClusterMapRequest(), &again);
  if (!st.ok()) return r;
  service::ClusterStats later = service::Summarize(again);
  const uint64_t done1 = later.recovery_bytes_total - later.recovery_bytes_left;
  if (done1 > done0) r.rate = static_cast<double>(done1 - done0);
  r.map = std::move(again);
  r.stats = std::move(later);
  return r;
}

// PGs left to empty per draining node.
std::map<uint64_t, uint32_t> DrainLeft(const proto::ClusterMap& map) {
  std::map<uint64_t, uint32_t> out;
  for (const proto::NodeInfo& n : map.nodes()) {
    if (n.state() == proto::NODE_DRAINING) out[n.id()] = 0;
  }
  for (const proto::PgChain& pg : map.pgs()) {
    for (uint64_t id : pg.nodes()) {
      auto it = out.find(id);
      if (it != out.end()) ++it->second;
    }
  }
  return out;
}

nlohmann::json RecoveryJson(const Recovery& r) {
  nlohmann::json states = nlohmann::json::object();
  for (size_t i = 0; i < service::kPgStateNames.size(); ++i) {
    states[std::string(service::kPgStateNames[i])] = r.stats.pgs_by_state[i];
  }
  nlohmann::json pgs = nlohmann::json::array();
  for (const service::PgHealth& h : r.stats.pgs) {
    pgs.push_back({{"pg", h.pg},
                   {"state", std::string(service::kPgStateNames[static_cast<size_t>(h.state)])},
                   {"healthy", h.healthy},
                   {"recovering", h.recovering},
                   {"bytes_left", h.bytes_left},
                   {"bytes_left_estimated", h.estimated > 0}});
  }
  nlohmann::json draining = nlohmann::json::array();
  for (const auto& [id, left] : DrainLeft(r.map)) {
    draining.push_back({{"node", id}, {"pgs_left", left}});
  }
  nlohmann::json j = {{"pgs_by_state", states},
                      {"bytes_left", r.stats.recovery_bytes_left},
                      {"bytes_total", r.stats.recovery_bytes_total},
                      // bytes_* include pg_bytes_estimate per PG not listed yet.
                      {"bytes_left_estimated", r.stats.recovery_pgs_estimated > 0},
                      {"pgs_estimated", r.stats.recovery_pgs_estimated},
                      {"pg_bytes_estimate", r.stats.pg_bytes_estimate},
                      {"rate_bytes_per_sec", r.rate},
                      {"draining", draining},
                      {"pgs", pgs}};
  if (r.rate > 0) j["eta_seconds"] = static_cast<double>(r.stats.recovery_bytes_left) / r.rate;
  return j;
}

void PrintRecovery(const Recovery& r) {
  std::printf("\nplacement groups:");
  for (size_t i = 0; i < service::kPgStateNames.size(); ++i) {
    std::printf(" %llu %s%s", static_cast<unsigned long long>(r.stats.pgs_by_state[i]),
                std::string(service::kPgStateNames[i]).c_str(),
                i + 1 < service::kPgStateNames.size() ? "," : "");
  }
  std::printf("\n");
  if (r.stats.pgs_by_state[static_cast<size_t>(service::PgState::kRecovering)] > 0) {
    // "~": some PGs are not listed by their backfill yet and count as one
    // estimated PG copy each (ClusterStats::pg_bytes_estimate).
    const char* approx = r.stats.recovery_pgs_estimated > 0 ? "~" : "";
    std::printf("recovery: %s%s left of %s%s", approx,
                Progress::Bytes(static_cast<double>(r.stats.recovery_bytes_left)).c_str(), approx,
                Progress::Bytes(static_cast<double>(r.stats.recovery_bytes_total)).c_str());
    if (r.stats.recovery_pgs_estimated > 0) {
      std::printf(" (estimated for %llu PGs not listed yet)",
                  static_cast<unsigned long long>(r.stats.recovery_pgs_estimated));
    }
    if (r.rate > 0) {
      std::printf(", %s/s, ETA %s%.0fs", Progress::Bytes(r.rate).c_str(), approx,
                  static_cast<double>(r.stats.recovery_bytes_left) / r.rate);
    } else {
      std::printf(", rate not measured yet");
    }
    std::printf("\n");
  }
  for (const auto& [id, left] : DrainLeft(r.map)) {
    std::printf("node %llu draining: %u placement groups left%s\n",
                static_cast<unsigned long long>(id), left,
                left == 0 ? " (drained: remove it)" : "");
  }
}

struct Membership {
  uint32_t pgs = 0;
  uint32_t heads = 0;
};

std::map<uint64_t, Membership> Memberships(const ClusterInfo& info) {
  std::map<uint64_t, Membership> out;
  for (const PgStatus& pg : info.pgs) {
    for (size_t i = 0; i < pg.chain.size(); ++i) {
      Membership& m = out[pg.chain[i].value()];
      ++m.pgs;
      if (i == 0) ++m.heads;
    }
  }
  return out;
}

std::string ChainText(const PgStatus& pg) {
  std::string text;
  for (NodeId n : pg.chain) text += (text.empty() ? "" : ",") + n.ToString();
  return text.empty() ? "-" : text;
}

void PrintJson(const ClusterInfo& info, nlohmann::json recovery) {
  auto members = Memberships(info);
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeStatus& n : info.nodes) {
    nodes.push_back({{"id", n.id.value()},
                     {"state", std::string(NodeStateName(n.state))},
                     {"data_address", n.data_address},
                     {"grpc_address", n.grpc_address},
                     {"http_address", n.http_address},
                     {"zone", n.zone},
                     {"capacity_bytes", n.capacity_bytes},
                     {"used_bytes", n.used_bytes},
                     {"available_bytes", n.available_bytes},
                     {"chunk_count", n.chunk_count},
                     {"last_heartbeat_ns", n.last_heartbeat_ns},
                     {"load", n.load},
                     {"pgs", members[n.id.value()].pgs},
                     {"heads", members[n.id.value()].heads}});
  }
  nlohmann::json pgs = nlohmann::json::array();
  for (const PgStatus& pg : info.pgs) {
    nlohmann::json chain = nlohmann::json::array();
    for (NodeId n : pg.chain) chain.push_back(n.value());
    pgs.push_back({{"pg", pg.pg.value()}, {"chain", chain}});
  }
  nlohmann::json j = {{"epoch", info.epoch},
                      {"pg_count", info.pg_count},
                      {"replicas", info.replicas},
                      {"nodes", nodes},
                      {"pgs", pgs},
                      {"recovery", std::move(recovery)}};
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

void PrintText(const ClusterInfo& info, bool all_pgs) {
  auto members = Memberships(info);
  int up = 0;
  for (const NodeStatus& n : info.nodes) up += n.state == NodeState::kUp;
  std::printf("epoch %llu, %u placement groups, %u replicas, %d of %zu nodes up\n\n",
              static_cast<unsigned long long>(info.epoch), info.pg_count, info.replicas, up,
              info.nodes.size());
  std::printf("%-5s %-9s %-22s %-8s %10s %10s %10s %9s %5s %5s %9s\n", "NODE", "STATE",
              "DATA ADDRESS", "ZONE", "CAPACITY", "USED", "AVAIL", "CHUNKS", "PGS", "HEADS",
              "HEARTBEAT");
  const int64_t now = absl::ToUnixNanos(absl::Now());
  for (const NodeStatus& n : info.nodes) {
    std::string beat = "-";
    if (n.last_heartbeat_ns > 0) {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.1fs ago",
                    std::max<double>(0, static_cast<double>(now - n.last_heartbeat_ns) / 1e9));
      beat = buf;
    }
    const Membership& m = members[n.id.value()];
    std::printf("%-5llu %-9s %-22s %-8s %10s %10s %10s %9llu %5u %5u %9s\n",
                static_cast<unsigned long long>(n.id.value()),
                std::string(NodeStateName(n.state)).c_str(), n.data_address.c_str(),
                n.zone.empty() ? "-" : n.zone.c_str(),
                Progress::Bytes(static_cast<double>(n.capacity_bytes)).c_str(),
                Progress::Bytes(static_cast<double>(n.used_bytes)).c_str(),
                Progress::Bytes(static_cast<double>(n.available_bytes)).c_str(),
                static_cast<unsigned long long>(n.chunk_count), m.pgs, m.heads, beat.c_str());
  }
  // Chains by length: full, short, empty.
  std::map<size_t, uint32_t> by_length;
  std::vector<const PgStatus*> degraded;
  for (const PgStatus& pg : info.pgs) {
    ++by_length[pg.chain.size()];
    if (pg.chain.size() < info.replicas) degraded.push_back(&pg);
  }
  std::printf("\nplacement groups by chain length:");
  for (auto it = by_length.rbegin(); it != by_length.rend(); ++it) {
    std::printf(" %zu: %u", it->first, it->second);
  }
  std::printf("\n");
  if (all_pgs) {
    std::printf("\n%-6s %s\n", "PG", "CHAIN (head first)");
    for (const PgStatus& pg : info.pgs) {
      std::printf("%-6u %s\n", pg.pg.value(), ChainText(pg).c_str());
    }
  } else if (!degraded.empty()) {
    std::printf("short of %u replicas:", info.replicas);
    size_t shown = 0;
    for (const PgStatus* pg : degraded) {
      if (++shown > 16) {
        std::printf(" ... (%zu more; --pgs lists every chain)", degraded.size() - 16);
        break;
      }
      std::printf(" %u[%s]", pg->pg.value(), ChainText(*pg).c_str());
    }
    std::printf("\n");
  }
}

int RunStatus(const AdminArgs& args) {
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  auto info = client->ClusterStatus();
  if (!info.ok()) return Report("admin status", info.status(), &args.client);
  auto recovery = FetchRecovery(args.client);
  if (!recovery.ok()) return Report("admin status", recovery.status(), &args.client);
  if (args.json) {
    PrintJson(*info, RecoveryJson(*recovery));
  } else {
    PrintText(*info, args.pgs);
    PrintRecovery(*recovery);
  }
  return kExitOk;
}

int RunNodeCall(const AdminArgs& args, const char* what,
                grpc::Status (proto::Cluster::Stub::*method)(grpc::ClientContext*,
                                                             const proto::NodeRequest&,
                                                             proto::ReportReply*)) {
  auto stub = ClusterStub(args.client);
  proto::NodeRequest req;
  req.set_node_id(args.node);
  proto::ReportReply reply;
  absl::Status st = CallCluster(*stub, args.client, method, req, &reply);
  if (!st.ok()) {
    std::fprintf(stderr, "cairn: admin %s: %s\n", what, std::string(st.message()).c_str());
    return kExitFailure;
  }
  std::printf("node %llu: %s requested (epoch %llu)\n", static_cast<unsigned long long>(args.node),
              what, static_cast<unsigned long long>(reply.epoch()));
  return kExitOk;
}

}  // namespace

void AddAdminScrub(CLI::App* admin, Registry& registry);  // cmd_admin_scrub.cc
void AddAdminFsck(CLI::App* admin, Registry& registry);   // cmd_admin_fsck.cc
void AddAdminGc(CLI::App* admin, Registry& registry);     // cmd_admin_gc.cc

void AddAdmin(CLI::App& app, Registry& registry) {
  CLI::App* admin = app.add_subcommand("admin", "Cluster administration");
  admin->require_subcommand(1);
  auto args = std::make_shared<AdminArgs>();
  CLI::App* cmd = admin->add_subcommand(
      "status", "The cluster map: nodes with state and usage, placement groups and chains");
  cmd->add_flag("--json", args->json,
                "Print everything as JSON: {epoch, pg_count, replicas, nodes: [...], "
                "pgs: [{pg, chain}]}");
  cmd->add_flag("--pgs", args->pgs, "List every placement group's chain");
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunStatus(*args); });

  auto drain_args = std::make_shared<AdminArgs>();
  CLI::App* drain = admin->add_subcommand(
      "drain",
      "Empty a chunk server: its placement groups are copied elsewhere, then it leaves "
      "their chains (progress in admin status)");
  drain->add_option("NODE", drain_args->node, "Node id")
      ->required()
      ->check(CLI::Range(uint64_t{1}, ~uint64_t{0}));
  AddClientFlags(drain, &drain_args->client);
  registry.Add(drain, [drain_args] {
    return RunNodeCall(*drain_args, "drain", &proto::Cluster::Stub::DrainNode);
  });

  auto remove_args = std::make_shared<AdminArgs>();
  CLI::App* remove = admin->add_subcommand(
      "remove",
      "Forget a chunk server that is down, out or drained (refused while it holds "
      "data the cluster needs)");
  remove->add_option("NODE", remove_args->node, "Node id")
      ->required()
      ->check(CLI::Range(uint64_t{1}, ~uint64_t{0}));
  AddClientFlags(remove, &remove_args->client);
  registry.Add(remove, [remove_args] {
    return RunNodeCall(*remove_args, "remove", &proto::Cluster::Stub::RemoveNode);
  });
  AddAdminScrub(admin, registry);
  AddAdminFsck(admin, registry);
  AddAdminGc(admin, registry);
}

}  // namespace cairn::cli

// cairn admin status [--json] [--pgs]: the cluster map — epoch, nodes with
// their state, capacity and usage, placement groups and their chains.
// Summarized on a terminal (every chain with --pgs), complete in JSON.
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace cairn::cli {
namespace {

struct AdminArgs {
  ClientFlags client;
  bool json = false;
  bool pgs = false;
};

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

void PrintJson(const ClusterInfo& info) {
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
                      {"pgs", pgs}};
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
  if (args.json) {
    PrintJson(*info);
  } else {
    PrintText(*info, args.pgs);
  }
  return kExitOk;
}

}  // namespace

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
}

}  // namespace cairn::cli

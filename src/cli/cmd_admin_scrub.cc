// cairn admin scrub [NODE...] [--wait] [--json] [--status]: starts a scrub
// cycle (docs/chunk-server.md, "Scrub") on the given chunk servers (node
// ids), or on every UP node, through their ChunkNode gRPC service
// (StartScrub), and prints each one's scrub status. --wait polls
// GetScrubStatus until every cycle has ended; --status only prints.
//
// Exit status: 0 when every node answered (and, with --wait, finished its
// cycle with nothing left unrepaired), 1 otherwise, 2 for bad usage.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "chunk.grpc.pb.h"
#include "cli/common.h"
#include "cli/progress.h"
#include "service/grpc_status.h"

namespace cairn::cli {
namespace {

struct ScrubArgs {
  ClientFlags client;
  std::vector<std::string> nodes;
  bool wait = false;
  bool json = false;
  bool status_only = false;
  double poll_seconds = 0.5;
};

struct NodeScrub {
  NodeStatus node;
  std::unique_ptr<proto::ChunkNode::Stub> stub;
  bool started = false;
  proto::ScrubStatus first;  // at the moment of StartScrub, before its cycle
  proto::ScrubStatus status;
  std::string error;
};

template <typename Req, typename Reply>
absl::Status Call(NodeScrub& n, double timeout_seconds,
                  grpc::Status (proto::ChunkNode::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                 Reply*),
                  const Req& req, Reply* reply) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(timeout_seconds * 1000)));
  grpc::Status s = (n.stub.get()->*method)(&ctx, req, reply);
  return s.ok() ? absl::OkStatus() : service::FromGrpcStatus(s, ctx);
}

// The cycle this command started (or found running) has ended.
bool CycleOver(const NodeScrub& n) {
  if (n.status.running()) return false;
  if (!n.started) return true;  // one was running: it ended
  return n.status.cycles_completed() > n.first.cycles_completed() ||
         n.status.last_start_ns() != n.first.last_start_ns();
}

nlohmann::json StatusJson(const NodeScrub& n) {
  const proto::ScrubStatus& s = n.status;
  nlohmann::json j = {{"id", n.node.id.value()}, {"grpc_address", n.node.grpc_address}};
  if (!n.error.empty()) {
    j["error"] = n.error;
    return j;
  }
  j.update({{"started", n.started},
            {"running", s.running()},
            {"cycles_completed", s.cycles_completed()},
            {"chunks_done", s.chunks_done()},
            {"chunks_total", s.chunks_total()},
            {"bytes_done", s.bytes_done()},
            {"bytes_total", s.bytes_total()},
            {"bad_found", s.bad_found()},
            {"repaired", s.repaired()},
            {"unrepaired", s.unrepaired()},
            {"waiting_repair", s.waiting_repair()},
            {"total_bad", s.total_bad()},
            {"total_repaired", s.total_repaired()},
            {"total_unrepaired", s.total_unrepaired()},
            {"last_start_ns", s.last_start_ns()},
            {"last_end_ns", s.last_end_ns()},
            {"rate_bytes_per_sec", s.rate_bytes_per_sec()},
            {"interval_seconds", s.interval_seconds()}});
  return j;
}

void PrintText(const std::vector<NodeScrub>& nodes) {
  std::printf("%-5s %-9s %-17s %-21s %5s %8s %10s %s\n", "NODE", "STATE", "CHUNKS", "BYTES", "BAD",
              "REPAIRED", "UNREPAIRED", "LAST COMPLETE");
  for (const NodeScrub& n : nodes) {
    if (!n.error.empty()) {
      std::printf("%-5llu error: %s\n", static_cast<unsigned long long>(n.node.id.value()),
                  n.error.c_str());
      continue;
    }
    const proto::ScrubStatus& s = n.status;
    std::string chunks = std::to_string(s.chunks_done()) + "/" + std::to_string(s.chunks_total());
    std::string bytes = Progress::Bytes(static_cast<double>(s.bytes_done())) + "/" +
                        Progress::Bytes(static_cast<double>(s.bytes_total()));
    std::printf("%-5llu %-9s %-17s %-21s %5llu %8llu %10llu %s\n",
                static_cast<unsigned long long>(n.node.id.value()),
                s.running() ? "running" : "idle", chunks.c_str(), bytes.c_str(),
                static_cast<unsigned long long>(s.bad_found()),
                static_cast<unsigned long long>(s.repaired()),
                static_cast<unsigned long long>(s.unrepaired()),
                s.last_end_ns() == 0 ? "never" : LongTime(s.last_end_ns()).c_str());
  }
}

int RunScrub(const ScrubArgs& args) {
  if (args.poll_seconds <= 0) return ReportMessage("admin scrub: --poll must be positive");
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  auto info = client->ClusterStatus();
  if (!info.ok()) return Report("admin scrub", info.status(), &args.client);

  std::vector<NodeScrub> nodes;
  std::map<uint64_t, const NodeStatus*> by_id;
  for (const NodeStatus& n : info->nodes) by_id[n.id.value()] = &n;
  if (args.nodes.empty()) {
    for (const NodeStatus& n : info->nodes) {
      if (n.state == NodeState::kUp) nodes.push_back(NodeScrub{n, nullptr, false, {}, {}, ""});
    }
    if (nodes.empty()) return ReportMessage("admin scrub: no chunk server is up");
  } else {
    for (const std::string& text : args.nodes) {
      uint64_t id = 0;
      size_t used = 0;
      try {
        id = std::stoull(text, &used);
      } catch (...) {
        used = 0;
      }
      if (used != text.size() || text.empty() || text[0] == '-' || text[0] == '+') {
        std::fprintf(stderr, "cairn: admin scrub: bad node id '%s' (a number)\n", text.c_str());
        return kExitUsage;
      }
      auto it = by_id.find(id);
      if (it == by_id.end()) {
        return ReportMessage("admin scrub: node " + text + ": no such node in the cluster map");
      }
      nodes.push_back(NodeScrub{*it->second, nullptr, false, {}, {}, ""});
    }
  }

  int rc = kExitOk;
  for (NodeScrub& n : nodes) {
    if (n.node.grpc_address.empty()) {
      n.error = "node has no gRPC address";
      rc = kExitFailure;
      continue;
    }
    n.stub = proto::ChunkNode::NewStub(
        grpc::CreateChannel(n.node.grpc_address, grpc::InsecureChannelCredentials()));
    absl::Status s;
    if (args.status_only) {
      s = Call(n, args.client.timeout_seconds, &proto::ChunkNode::Stub::GetScrubStatus,
               proto::GetScrubStatusRequest(), &n.status);
    } else {
      proto::StartScrubReply reply;
      s = Call(n, args.client.timeout_seconds, &proto::ChunkNode::Stub::StartScrub,
               proto::StartScrubRequest(), &reply);
      n.started = reply.started();
      n.first = reply.status();
      n.status = reply.status();
    }
    if (!s.ok()) {
      n.error = n.node.grpc_address + ": " + std::string(s.message());
      rc = kExitFailure;
    }
  }

  if (args.wait && !args.status_only) {
    bool pending = true;
    while (pending) {
      pending = false;
      for (NodeScrub& n : nodes) {
        if (!n.error.empty() || CycleOver(n)) continue;
        proto::ScrubStatus st;
        absl::Status s =
            Call(n, args.client.timeout_seconds, &proto::ChunkNode::Stub::GetScrubStatus,
                 proto::GetScrubStatusRequest(), &st);
        if (!s.ok()) {
          n.error = n.node.grpc_address + ": " + std::string(s.message());
          rc = kExitFailure;
          continue;
        }
        n.status = st;
        if (!CycleOver(n)) pending = true;
      }
      if (pending) absl::SleepFor(absl::Seconds(args.poll_seconds));
    }
    for (const NodeScrub& n : nodes) {
      if (n.error.empty() && (n.status.unrepaired() > 0 || n.status.waiting_repair() > 0)) {
        rc = kExitFailure;
      }
    }
  }

  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const NodeScrub& n : nodes) out.push_back(StatusJson(n));
    std::printf("%s\n", nlohmann::json{{"nodes", out}}
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    PrintText(nodes);
  }
  return rc;
}

}  // namespace

void AddAdminScrub(CLI::App* admin, Registry& registry) {
  auto args = std::make_shared<ScrubArgs>();
  CLI::App* cmd = admin->add_subcommand(
      "scrub", "Start a scrub cycle (verify every chunk, repair bad copies) on chunk servers");
  cmd->add_option("node", args->nodes, "Node ids (default: every node that is up)");
  cmd->add_flag("--wait", args->wait, "Wait until every cycle has ended");
  cmd->add_flag("--status", args->status_only, "Only print the scrub status, start nothing");
  cmd->add_flag("--json", args->json,
                "Print {nodes: [{id, started, running, chunks_done, chunks_total, bytes_done, "
                "bytes_total, bad_found, repaired, unrepaired, ...}]}");
  cmd->add_option("--poll", args->poll_seconds, "Seconds between status polls with --wait")
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunScrub(*args); });
}

}  // namespace cairn::cli

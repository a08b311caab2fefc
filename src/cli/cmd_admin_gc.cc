// cairn admin gc [--dry-run] [--json] [--clear-alarm] [--status]: garbage
// collection on meta (docs/gc.md) through its Gc gRPC service.
//
//   (no flag)      run a pass now (the queue, then reconciliation) and
//                  print what it deleted
//   --dry-run      print what a pass would delete (queued ids ready now,
//                  orphans per node) and what would raise the alarm;
//                  delete nothing
//   --clear-alarm  clear the alarm (GC resumes) and print its reason
//   --status       print the collector's status only
//
// Exit status: 0 on success, 1 when a call failed or the alarm is raised
// (or a dry run found a reason to raise it), 2 for bad usage.
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/common.h"
#include "gc.grpc.pb.h"
#include "service/grpc_status.h"

namespace cairn::cli {
namespace {

struct GcArgs {
  ClientFlags client;
  bool dry_run = false;
  bool json = false;
  bool clear_alarm = false;
  bool status_only = false;
  uint32_t limit = 1000;
};

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::string When(int64_t ns) {
  if (ns <= 0) return "never";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixNanos(ns), absl::UTCTimeZone());
}

template <typename Req, typename Reply>
absl::Status Call(proto::Gc::Stub& stub, const ClientFlags& flags,
                  grpc::Status (proto::Gc::Stub::*method)(grpc::ClientContext*, const Req&, Reply*),
                  const Req& req, Reply* reply) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(flags.timeout_seconds * 1000)));
  grpc::Status s = (stub.*method)(&ctx, req, reply);
  return s.ok() ? absl::OkStatus() : service::FromGrpcStatus(s, ctx);
}

nlohmann::json StatusJson(const proto::GcStatus& s) {
  return {{"queue_entries", s.queue_entries()},
          {"queue_chunks", s.queue_chunks()},
          {"last_queue_pass_ns", s.last_queue_pass_ns()},
          {"last_reconcile_ns", s.last_reconcile_ns()},
          {"deleted_queue_chunks", s.deleted_queue_chunks()},
          {"deleted_orphan_chunks", s.deleted_orphan_chunks()},
          {"errors", s.errors()},
          {"alarm", s.alarm()},
          {"alarm_reason", s.alarm_reason()},
          {"alarm_since_ns", s.alarm_since_ns()},
          {"last_error", s.last_error()}};
}

void PrintStatus(const proto::GcStatus& s) {
  std::printf("queue: %llu entries, %llu chunks\n",
              static_cast<unsigned long long>(s.queue_entries()),
              static_cast<unsigned long long>(s.queue_chunks()));
  std::printf("deleted since start: %llu from the queue, %llu orphans; %llu errors\n",
              static_cast<unsigned long long>(s.deleted_queue_chunks()),
              static_cast<unsigned long long>(s.deleted_orphan_chunks()),
              static_cast<unsigned long long>(s.errors()));
  std::printf("last queue pass: %s, last reconciliation: %s\n",
              When(s.last_queue_pass_ns()).c_str(), When(s.last_reconcile_ns()).c_str());
  if (!s.last_error().empty()) std::printf("last error: %s\n", s.last_error().c_str());
  if (s.alarm()) {
    std::printf("ALARM since %s: %s\n", When(s.alarm_since_ns()).c_str(), s.alarm_reason().c_str());
  } else {
    std::printf("alarm: none\n");
  }
}

nlohmann::json RunJson(const proto::RunGcReply& r) {
  nlohmann::json ids = nlohmann::json::array();
  for (const std::string& id : r.queue().ids()) ids.push_back(Hex(id));
  nlohmann::json queue = {{"entries_ready", r.queue().entries_ready()},
                          {"entries_removed", r.queue().entries_removed()},
                          {"chunks_ready", r.queue().chunks_ready()},
                          {"deleted", r.queue().deleted()},
                          {"not_found", r.queue().not_found()},
                          {"failed", r.queue().failed()},
                          {"ids", ids}};
  nlohmann::json nodes = nlohmann::json::array();
  for (const proto::GcNodeOrphans& n : r.reconcile().nodes()) {
    nlohmann::json orphan_ids = nlohmann::json::array();
    for (const std::string& id : n.ids()) orphan_ids.push_back(Hex(id));
    nodes.push_back({{"node_id", n.node_id()},
                     {"grpc_address", n.grpc_address()},
                     {"listed", n.listed()},
                     {"unknown", n.unknown()},
                     {"orphans", n.orphans()},
                     {"deleted", n.deleted()},
                     {"failed", n.failed()},
                     {"ids", orphan_ids}});
  }
  nlohmann::json reconcile = {{"ran", r.reconcile().ran()},
                              {"referenced", r.reconcile().referenced()},
                              {"queued", r.reconcile().queued()},
                              {"nodes", nodes}};
  return {{"dry_run", r.dry_run()},
          {"queue", queue},
          {"reconcile", reconcile},
          {"alarm_reason", r.alarm_reason()},
          {"status", StatusJson(r.status())}};
}

void PrintRun(const proto::RunGcReply& r) {
  const bool dry = r.dry_run();
  const auto& q = r.queue();
  std::printf("%s\n", dry ? "dry run: nothing deleted" : "gc pass:");
  std::printf("queue: %llu entries ready (%llu chunks)",
              static_cast<unsigned long long>(q.entries_ready()),
              static_cast<unsigned long long>(q.chunks_ready()));
  if (!dry) {
    std::printf(", %llu removed; copies deleted %llu, already gone %llu, failed %llu",
                static_cast<unsigned long long>(q.entries_removed()),
                static_cast<unsigned long long>(q.deleted()),
                static_cast<unsigned long long>(q.not_found()),
                static_cast<unsigned long long>(q.failed()));
  }
  std::printf("\n");
  for (const std::string& id : q.ids()) std::printf("  queued %s\n", Hex(id).c_str());
  const auto& rc = r.reconcile();
  if (rc.ran()) {
    std::printf("reconcile: %llu referenced, %llu queued chunk ids\n",
                static_cast<unsigned long long>(rc.referenced()),
                static_cast<unsigned long long>(rc.queued()));
  }
  for (const proto::GcNodeOrphans& n : rc.nodes()) {
    std::printf("node %llu (%s): %llu chunks, %llu unknown, %llu orphans",
                static_cast<unsigned long long>(n.node_id()), n.grpc_address().c_str(),
                static_cast<unsigned long long>(n.listed()),
                static_cast<unsigned long long>(n.unknown()),
                static_cast<unsigned long long>(n.orphans()));
    if (!dry) {
      std::printf(", %llu deleted, %llu failed", static_cast<unsigned long long>(n.deleted()),
                  static_cast<unsigned long long>(n.failed()));
    }
    std::printf("\n");
    for (const std::string& id : n.ids()) std::printf("  orphan %s\n", Hex(id).c_str());
  }
  if (!r.alarm_reason().empty()) {
    std::printf("%s: %s\n", dry ? "would raise the alarm" : "ALARM raised",
                r.alarm_reason().c_str());
  }
}

int RunGc(const GcArgs& args) {
  grpc::ChannelArguments channel_args;
  channel_args.SetMaxReceiveMessageSize(64 << 20);
  auto stub = proto::Gc::NewStub(grpc::CreateCustomChannel(
      args.client.meta, grpc::InsecureChannelCredentials(), channel_args));
  if (args.clear_alarm) {
    proto::ClearGcAlarmReply reply;
    absl::Status s = Call(*stub, args.client, &proto::Gc::Stub::ClearGcAlarm,
                          proto::ClearGcAlarmRequest(), &reply);
    if (!s.ok()) return Report("admin gc", s, &args.client);
    if (args.json) {
      nlohmann::json j = {{"was_raised", reply.was_raised()}, {"reason", reply.reason()}};
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else if (reply.was_raised()) {
      std::printf("alarm cleared (was: %s); GC resumes\n", reply.reason().c_str());
    } else {
      std::printf("no alarm was raised\n");
    }
    return kExitOk;
  }
  if (args.status_only) {
    proto::GcStatus status;
    absl::Status s =
        Call(*stub, args.client, &proto::Gc::Stub::GetGcStatus, proto::GcStatusRequest(), &status);
    if (!s.ok()) return Report("admin gc", s, &args.client);
    if (args.json) {
      std::printf("%s\n", StatusJson(status)
                              .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                              .c_str());
    } else {
      PrintStatus(status);
    }
    return status.alarm() ? kExitFailure : kExitOk;
  }
  proto::RunGcRequest req;
  req.set_dry_run(args.dry_run);
  req.set_list_limit(args.limit);
  proto::RunGcReply reply;
  absl::Status s = Call(*stub, args.client, &proto::Gc::Stub::RunGc, req, &reply);
  if (!s.ok()) {
    std::fprintf(stderr, "cairn: admin gc: %s\n", std::string(s.message()).c_str());
    return kExitFailure;
  }
  if (args.json) {
    std::printf(
        "%s\n",
        RunJson(reply).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else {
    PrintRun(reply);
  }
  return reply.alarm_reason().empty() && !reply.status().alarm() ? kExitOk : kExitFailure;
}

}  // namespace

void AddAdminGc(CLI::App* admin, Registry& registry) {
  auto args = std::make_shared<GcArgs>();
  CLI::App* cmd = admin->add_subcommand(
      "gc", "Garbage collection: run a pass now, a dry run, the status, or clear the alarm");
  CLI::Option* dry =
      cmd->add_flag("--dry-run", args->dry_run,
                    "Print what a pass would delete (queued ids ready now, orphans per node); "
                    "delete nothing");
  CLI::Option* clear =
      cmd->add_flag("--clear-alarm", args->clear_alarm,
                    "Clear the GC alarm (after finding its cause) so deletions resume");
  CLI::Option* status = cmd->add_flag("--status", args->status_only, "Print the GC status only");
  clear->excludes(dry);
  status->excludes(dry);
  status->excludes(clear);
  cmd->add_flag("--json", args->json, "Print the result as JSON");
  cmd->add_option("--limit", args->limit, "Chunk ids listed per section of the output")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunGc(*args); });
}

}  // namespace cairn::cli

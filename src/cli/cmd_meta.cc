// cairn meta: run the metadata server until SIGTERM or SIGINT.
#include <pthread.h>
#include <signal.h>

#include <cstdio>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "cli/common.h"
#include "cli/gc_flags.h"
#include "service/meta_server.h"

namespace cairn::cli {
namespace {

struct MetaArgs {
  std::string store;
  std::string listen = "127.0.0.1:9400";
  std::string http = "127.0.0.1:9401";
  std::string sync = "interval";
  int sync_interval_ms = 5;
  std::string read_cache = "64MiB";
  std::string ready_file;
  uint32_t pg_count = 256;
  uint32_t replicas = 3;
  double down_after_s = 5;
  double out_after_s = 600;
  double rebalance_threshold = 0.10;
  uint32_t max_moves = 4;
  uint32_t max_moves_per_node = 1;
  uint32_t bootstrap_nodes = 1;
  GcFlags gc;
};

// Structured lines on stderr: time, level, then key=value pairs.
void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("cairn");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
}

int RunMeta(const MetaArgs& args) {
  SetUpLogging();
  service::MetaServerOptions options;
  options.store = args.store;
  options.grpc_listen = args.listen;
  options.http_listen = args.http;
  options.sync_mode = args.sync == "always" ? store::SyncMode::kAlways : store::SyncMode::kInterval;
  options.sync_interval = absl::Milliseconds(args.sync_interval_ms);
  absl::StatusOr<uint64_t> read_cache = ParseSize(args.read_cache);
  if (!read_cache.ok() || *read_cache > (uint64_t{64} << 30)) {
    return ReportMessage("meta: bad --read-cache '" + args.read_cache +
                         "' (bytes, at most 64GiB; 0: off)");
  }
  options.read_cache_bytes = *read_cache;
  options.cluster.pg_count = args.pg_count;
  options.cluster.replicas = args.replicas;
  options.cluster.down_after = absl::Seconds(args.down_after_s);
  options.cluster.out_after = absl::Seconds(args.out_after_s);
  options.cluster.rebalance_threshold = args.rebalance_threshold;
  options.cluster.max_moves = args.max_moves;
  options.cluster.max_moves_per_node = args.max_moves_per_node;
  options.cluster.bootstrap_nodes = args.bootstrap_nodes;
  options.gc = args.gc.Options();

  // Block the stop signals in every thread (the servers' threads inherit
  // this mask) and wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto server = service::MetaServer::Start(options);
  if (!server.ok()) {
    spdlog::error("msg=\"meta failed to start\" error=\"{}\"",
                  std::string(server.status().message()));
    return ReportMessage("meta: " + std::string(server.status().message()));
  }
  std::printf("cairn meta: serving grpc=%s http=%s\n", (*server)->grpc_address().c_str(),
              (*server)->http_address().c_str());
  std::fflush(stdout);
  if (!args.ready_file.empty()) {
    absl::Status written = service::WriteReadyFile(args.ready_file, (*server)->grpc_address(),
                                                   (*server)->http_address());
    if (!written.ok()) {
      (void)(*server)->Shutdown();
      return ReportMessage("meta: " + std::string(written.message()));
    }
  }

  int sig = 0;
  sigwait(&stop, &sig);
  spdlog::info("msg=\"signal received\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  absl::Status stopped = (*server)->Shutdown();
  server->reset();
  if (!stopped.ok()) return ReportMessage("meta: " + std::string(stopped.message()));
  return kExitOk;
}

}  // namespace

void AddMeta(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<MetaArgs>();
  CLI::App* cmd = app.add_subcommand("meta", "Run the metadata server");
  cmd->add_option("--store", args->store,
                  "Where metadata lives: rocksdb:DIR (created when missing) or memory "
                  "(lost on exit)")
      ->required();
  cmd->add_option("--listen", args->listen, "gRPC listen address HOST:PORT (port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--http", args->http,
                  "HTTP listen address HOST:PORT for /healthz, /readyz, /metrics (port 0: any "
                  "free)")
      ->capture_default_str();
  cmd->add_option("--sync", args->sync,
                  "interval: sync the metadata log to disk every --sync-interval (a power loss "
                  "may lose that window); always: sync before acknowledging each change "
                  "(slower)")
      ->check(CLI::IsMember({"interval", "always"}))
      ->capture_default_str();
  cmd->add_option("--sync-interval", args->sync_interval_ms,
                  "Milliseconds between group syncs with --sync interval")
      ->check(CLI::Range(1, 60000))
      ->capture_default_str();
  cmd->add_option("--read-cache", args->read_cache,
                  "Memory for recently read inodes and entries (path walks, stat, lookup) in "
                  "front of the RocksDB store (0: off)")
      ->capture_default_str();
  cmd->add_option("--pg-count", args->pg_count,
                  "Placement groups of a new cluster (fixed once the map exists)")
      ->check(CLI::Range(1u, 1u << 20))
      ->capture_default_str();
  cmd->add_option("--replicas", args->replicas,
                  "Copies of each chunk in a new cluster (fixed once the map exists); the default "
                  "for policies that leave replicas 0")
      ->check(CLI::Range(1u, 16u))
      ->capture_default_str();
  cmd->add_option("--down-after", args->down_after_s,
                  "Seconds without a heartbeat after which a chunk server is down and leaves its "
                  "chains")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cmd->add_option("--out-after", args->out_after_s,
                  "Seconds a chunk server stays down before it is out and its placement groups "
                  "are re-replicated on other nodes")
      ->check(CLI::Range(0.1, 30.0 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--rebalance-threshold", args->rebalance_threshold,
                  "Move placement groups while the nodes' memberships per unit of capacity "
                  "differ by more than this fraction of the mean")
      ->check(CLI::Range(0.0, 10.0))
      ->capture_default_str();
  cmd->add_option("--max-moves", args->max_moves,
                  "Placement-group moves in flight at once over the cluster (0: no rebalancing)")
      ->check(CLI::Range(0u, 100000u))
      ->capture_default_str();
  cmd->add_option("--max-moves-per-node", args->max_moves_per_node,
                  "Placement-group moves in flight at once onto one node")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  cmd->add_option("--bootstrap-nodes", args->bootstrap_nodes,
                  "Chunk servers that must be up before placement groups are first assigned "
                  "(set to the initial cluster size for an even start)")
      ->check(CLI::Range(1u, 100000u))
      ->capture_default_str();
  cmd->add_option("--ready-file", args->ready_file,
                  "Once serving, write {\"grpc\":..,\"http\":..,\"pid\":..} here (atomically)");
  AddGcFlags(cmd, &args->gc);
  cmd->footer(
      "Prints 'cairn meta: serving grpc=HOST:PORT http=HOST:PORT' once ready.\n"
      "SIGTERM/SIGINT stop it gracefully: in-flight requests finish, the store is "
      "synced, exit 0.\n");
  registry.Add(cmd, [args] { return RunMeta(*args); });
}

}  // namespace cairn::cli

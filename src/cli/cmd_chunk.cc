// cairn chunk: run a chunk server until SIGTERM or SIGINT
// (docs/chunk-server.md). The server itself is chunkserver::ChunkServer;
// this file only parses flags and waits for signals.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <ctime>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "chunkserver/chunk_server.h"
#include "chunkserver/ready_file.h"
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct ChunkArgs {
  std::string meta = "127.0.0.1:9400";
  std::vector<std::string> dirs;
  std::string listen = "127.0.0.1:9500";
  std::string data_listen = "127.0.0.1:9501";
  std::string http = "127.0.0.1:9502";
  std::string zone;
  std::string sync = "per-op";
  double shutdown_grace_s = 10;
  std::string ready_file;
  std::string scrub_rate = "32MiB";
  std::string small_chunk_limit = "128K";
  std::string scrub_interval = "7d";
  std::string recovery_rate = "32MiB";
  double extra_copy_grace_s = 600;  // RecoveryOptions::extra_copy_grace
};

void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("cairn");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
}

int RunChunk(const ChunkArgs& args) {
  SetUpLogging();
  chunkserver::ChunkServerOptions options;
  options.meta_address = args.meta;
  options.dirs = args.dirs;
  options.grpc_listen = args.listen;
  options.data_listen = args.data_listen;
  options.http_listen = args.http;
  options.zone = args.zone;
  options.sync_mode =
      args.sync == "syncfs" ? chunk::SyncMode::kGroupSyncfs : chunk::SyncMode::kPerOp;
  options.shutdown_grace = absl::Seconds(args.shutdown_grace_s);
  absl::StatusOr<uint64_t> small_limit = ParseSize(args.small_chunk_limit);
  if (!small_limit.ok() || *small_limit > (uint64_t{64} << 20)) {
    return ReportMessage("chunk: bad --small-chunk-limit '" + args.small_chunk_limit +
                         "' (bytes, at most 64MiB; 0: off)");
  }
  options.small_chunk_limit = *small_limit;
  absl::StatusOr<uint64_t> scrub_rate = ParseSize(args.scrub_rate);
  if (!scrub_rate.ok() || *scrub_rate == 0) {
    return ReportMessage("chunk: bad --scrub-rate '" + args.scrub_rate +
                         "' (bytes per second, e.g. 32MiB)");
  }
  absl::StatusOr<absl::Duration> scrub_interval =
      chunkserver::ParseScrubInterval(args.scrub_interval);
  if (!scrub_interval.ok())
    return ReportMessage("chunk: " + std::string(scrub_interval.status().message()));
  options.scrub_rate = *scrub_rate;
  options.scrub_interval = *scrub_interval;
  absl::StatusOr<uint64_t> recovery_rate = ParseSize(args.recovery_rate);
  if (!recovery_rate.ok()) {
    return ReportMessage("chunk: bad --recovery-rate '" + args.recovery_rate +
                         "' (bytes per second, e.g. 32MiB; 0: unlimited)");
  }
  options.recovery.rate_bytes_per_sec = *recovery_rate;
  options.recovery.extra_copy_grace = absl::Seconds(args.extra_copy_grace_s);
  // A grace under the 60 s clean-up interval (tests) also runs the clean-up
  // that often, so copies go soon after they are old enough; 0 is off.
  if (args.extra_copy_grace_s > 0 && args.extra_copy_grace_s < 60) {
    options.recovery.cleanup_interval = absl::Seconds(args.extra_copy_grace_s);
  }

  // Block the stop signals in every thread (the servers' threads inherit
  // this mask) and wait for them here.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  auto server = chunkserver::ChunkServer::Start(options);
  if (!server.ok()) {
    spdlog::error("msg=\"chunk server failed to start\" error=\"{}\"",
                  std::string(server.status().message()));
    return ReportMessage("chunk: " + std::string(server.status().message()));
  }
  std::printf("cairn chunk: serving data=%s grpc=%s http=%s\n", (*server)->data_address().c_str(),
              (*server)->grpc_address().c_str(), (*server)->http_address().c_str());
  std::fflush(stdout);

  // Wait for a stop signal; announce the registration when it happens.
  bool announced = false;
  int sig = 0;
  while (true) {
    if (!announced && (*server)->registered()) {
      announced = true;
      std::printf("cairn chunk: registered node_id=%llu meta=%s\n",
                  static_cast<unsigned long long>((*server)->node_id().value()), args.meta.c_str());
      std::fflush(stdout);
      if (!args.ready_file.empty()) {
        absl::Status written = chunkserver::WriteReadyFile(args.ready_file, **server);
        if (!written.ok()) {
          (*server)->Stop();
          return ReportMessage("chunk: " + std::string(written.message()));
        }
      }
    }
    timespec wait{0, 100'000'000};  // 100 ms
    sig = sigtimedwait(&stop, nullptr, &wait);
    if (sig == SIGTERM || sig == SIGINT) break;
  }
  spdlog::info("msg=\"signal received\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  (*server)->Stop();
  server->reset();
  return kExitOk;
}

}  // namespace

void AddChunk(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<ChunkArgs>();
  CLI::App* cmd = app.add_subcommand("chunk", "Run a chunk server");
  cmd->add_option("--meta", args->meta, "Meta server's gRPC address HOST:PORT")
      ->envname("CAIRN_META")
      ->capture_default_str();
  cmd->add_option("--dir", args->dirs,
                  "Data directory (repeat for several disks; created when missing, the parent "
                  "must exist)")
      ->required();
  cmd->add_option("--listen", args->listen,
                  "gRPC listen address HOST:PORT (status and admin; port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--data-listen", args->data_listen,
                  "Data-protocol listen address HOST:PORT (chunk bytes; port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--http", args->http,
                  "HTTP listen address HOST:PORT for /healthz, /readyz, /metrics (port 0: any "
                  "free)")
      ->capture_default_str();
  cmd->add_option("--zone", args->zone,
                  "Failure domain (rack, host...): replicas prefer distinct zones");
  cmd->add_option("--sync", args->sync,
                  "per-op: each chunk write syncs its own file and directory; syncfs: writes "
                  "share syncfs() rounds (only for directories on disks of their own)")
      ->check(CLI::IsMember({"per-op", "syncfs"}))
      ->capture_default_str();
  cmd->add_option("--shutdown-grace", args->shutdown_grace_s,
                  "Seconds SIGTERM lets running requests finish")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cmd->add_option("--small-chunk-limit", args->small_chunk_limit,
                  "Chunks up to this size go to append-only volume files in DIR/volumes, many "
                  "per fdatasync; larger ones to a file each (0: one file per chunk)")
      ->capture_default_str();
  cmd->add_option("--scrub-rate", args->scrub_rate,
                  "Scrub reads at most this many bytes per second (64K, 32MiB, ...)")
      ->capture_default_str();
  cmd->add_option("--scrub-interval", args->scrub_interval,
                  "Time between scrub cycles (30s, 12h, 7d; 0: only on demand, cairn admin scrub)")
      ->capture_default_str();
  cmd->add_option("--recovery-rate", args->recovery_rate,
                  "Backfill of recovering placement groups copies at most this many bytes per "
                  "second (0: unlimited)")
      ->capture_default_str();
  cmd->add_option("--extra-copy-grace", args->extra_copy_grace_s,
                  "Seconds a copy of a placement group this node no longer serves is kept; "
                  "then it is deleted once every healthy member of the group confirms holding "
                  "the chunk (0: never delete)")
      ->check(CLI::Range(0.0, 365.0 * 24 * 3600))
      ->capture_default_str();
  cmd->add_option("--ready-file", args->ready_file,
                  "Once registered with meta, write {\"data\":..,\"grpc\":..,\"http\":..,"
                  "\"node_id\":..,\"pid\":..} here (atomically)");
  cmd->footer(
      "Listen addresses are registered with meta as bound: give addresses clients can reach.\n"
      "Prints 'cairn chunk: serving data=.. grpc=.. http=..' once listening and "
      "'cairn chunk: registered node_id=N' once meta accepted it (retried while meta is away).\n"
      "SIGTERM/SIGINT stop it gracefully: running requests finish, exit 0.\n");
  registry.Add(cmd, [args] { return RunChunk(*args); });
}

}  // namespace cairn::cli

// cairn server: everything for one machine in one process — a meta server
// on rocksdb:DIR/meta and N chunk servers on DIR/chunk-1..N, on loopback
// (docs/chunk-server.md, "cairn server"). Runs until SIGTERM or SIGINT,
// then stops the chunk servers and meta.
#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <thread>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "chunkserver/chunk_server.h"
#include "chunkserver/ready_file.h"
#include "cli/common.h"
#include "cli/gc_flags.h"
#include "service/meta_server.h"

namespace cairn::cli {
namespace {

struct ServerArgs {
  std::string dir;
  int chunk_servers = 3;
  std::string listen = "127.0.0.1:9400";
  std::string http = "127.0.0.1:9401";
  std::string ready_file;
  std::string scrub_rate = "32MiB";
  std::string small_chunk_limit = "128K";
  std::string scrub_interval = "7d";
  std::string recovery_rate = "32MiB";
  GcFlags gc;
};

void SetUpLogging() {
  auto logger = spdlog::stderr_logger_mt("cairn");
  logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%fZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::info);
}

// Waits up to `timeout` for a stop signal; returns it, or 0.
int WaitSignal(const sigset_t& stop, absl::Duration timeout) {
  timespec wait{static_cast<time_t>(absl::ToInt64Seconds(timeout)),
                static_cast<long>(absl::ToInt64Nanoseconds(timeout) % 1'000'000'000)};
  int sig = sigtimedwait(&stop, nullptr, &wait);
  return sig == SIGTERM || sig == SIGINT ? sig : 0;
}

void StopAll(std::vector<std::unique_ptr<chunkserver::ChunkServer>>& chunks,
             std::unique_ptr<service::MetaServer>& meta) {
  // Chunk servers in parallel (each waits for its running requests), then meta.
  std::vector<std::thread> stoppers;
  for (auto& c : chunks) stoppers.emplace_back([&c] { c->Stop(); });
  for (auto& t : stoppers) t.join();
  chunks.clear();
  if (meta) {
    absl::Status st = meta->Shutdown();
    if (!st.ok()) spdlog::error("msg=\"meta shutdown\" error=\"{}\"", std::string(st.message()));
    meta.reset();
  }
}

int RunServer(const ServerArgs& args) {
  absl::StatusOr<uint64_t> scrub_rate_or = ParseSize(args.scrub_rate);
  absl::StatusOr<absl::Duration> scrub_interval_or =
      chunkserver::ParseScrubInterval(args.scrub_interval);
  if (!scrub_rate_or.ok() || *scrub_rate_or == 0 || !scrub_interval_or.ok()) {
    return ReportMessage(!scrub_interval_or.ok()
                             ? "server: " + std::string(scrub_interval_or.status().message())
                             : "server: bad --scrub-rate '" + args.scrub_rate +
                                   "' (bytes per second, e.g. 32MiB)");
  }
  const uint64_t scrub_rate = *scrub_rate_or;
  absl::StatusOr<uint64_t> recovery_rate = ParseSize(args.recovery_rate);
  if (!recovery_rate.ok()) {
    return ReportMessage("server: bad --recovery-rate '" + args.recovery_rate +
                         "' (bytes per second, e.g. 32MiB; 0: unlimited)");
  }
  const absl::Duration scrub_interval = *scrub_interval_or;
  absl::StatusOr<uint64_t> small_limit_or = ParseSize(args.small_chunk_limit);
  if (!small_limit_or.ok() || *small_limit_or > (uint64_t{64} << 20)) {
    return ReportMessage("server: bad --small-chunk-limit '" + args.small_chunk_limit +
                         "' (bytes, at most 64MiB; 0: off)");
  }
  const uint64_t small_chunk_limit = *small_limit_or;
  SetUpLogging();
  std::error_code ec;
  std::filesystem::create_directories(args.dir, ec);
  if (ec) return ReportMessage("server: cannot create " + args.dir + ": " + ec.message());
  const std::string dir = std::filesystem::absolute(args.dir).lexically_normal().string();

  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  service::MetaServerOptions meta_options;
  meta_options.store = "rocksdb:" + dir + "/meta";
  meta_options.grpc_listen = args.listen;
  meta_options.http_listen = args.http;
  // One machine, N servers known up front: place every chain once all are
  // up (balanced heads), with as many copies as servers up to 3.
  meta_options.cluster.bootstrap_nodes = static_cast<uint32_t>(args.chunk_servers);
  meta_options.cluster.replicas = static_cast<uint32_t>(std::min(3, args.chunk_servers));
  meta_options.gc = args.gc.Options();
  auto meta_or = service::MetaServer::Start(meta_options);
  if (!meta_or.ok())
    return ReportMessage("server: meta: " + std::string(meta_or.status().message()));
  std::unique_ptr<service::MetaServer> meta = std::move(*meta_or);

  std::vector<std::unique_ptr<chunkserver::ChunkServer>> chunks;
  for (int i = 1; i <= args.chunk_servers; ++i) {
    chunkserver::ChunkServerOptions o;
    o.meta_address = meta->grpc_address();
    o.dirs = {dir + "/chunk-" + std::to_string(i)};
    // Loopback, free ports: the addresses are registered with meta.
    o.data_listen = "127.0.0.1:0";
    o.grpc_listen = "127.0.0.1:0";
    o.http_listen = "127.0.0.1:0";
    o.scrub_rate = scrub_rate;
    o.small_chunk_limit = small_chunk_limit;
    o.scrub_interval = scrub_interval;
    o.recovery.rate_bytes_per_sec = *recovery_rate;
    // Extra copies: RecoveryOptions' defaults, as `cairn chunk` (10 min
    // grace, then deleted once every healthy member confirms them).
    auto c = chunkserver::ChunkServer::Start(o);
    if (!c.ok()) {
      StopAll(chunks, meta);
      return ReportMessage("server: chunk server " + std::to_string(i) + ": " +
                           std::string(c.status().message()));
    }
    chunks.push_back(std::move(*c));
  }

  // Every chunk server registers within a moment (meta is in-process).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  int sig = 0;
  while (sig == 0) {
    bool all = std::all_of(chunks.begin(), chunks.end(), [](auto& c) { return c->registered(); });
    if (all) break;
    if (absl::Now() > deadline) {
      std::string why;
      for (auto& c : chunks) {
        if (!c->registered()) why = c->link()->last_error();
      }
      StopAll(chunks, meta);
      return ReportMessage("server: chunk servers did not register with meta: " + why);
    }
    sig = WaitSignal(stop, absl::Milliseconds(20));
  }

  if (sig == 0) {
    std::printf("cairn server: meta grpc=%s http=%s data=%s\n", meta->grpc_address().c_str(),
                meta->http_address().c_str(), dir.c_str());
    nlohmann::json servers = nlohmann::json::array();
    for (auto& c : chunks) {
      std::printf("cairn server: chunk node_id=%llu data=%s grpc=%s http=%s\n",
                  static_cast<unsigned long long>(c->node_id().value()), c->data_address().c_str(),
                  c->grpc_address().c_str(), c->http_address().c_str());
      servers.push_back(chunkserver::ServerJson(*c));
    }
    std::fflush(stdout);
    if (!args.ready_file.empty()) {
      nlohmann::json j = {{"grpc", meta->grpc_address()},
                          {"http", meta->http_address()},
                          {"pid", ::getpid()},
                          {"chunk_servers", servers}};
      absl::Status written = chunkserver::WriteJsonFile(args.ready_file, j);
      if (!written.ok()) {
        StopAll(chunks, meta);
        return ReportMessage("server: " + std::string(written.message()));
      }
    }
    while (sig == 0) sig = WaitSignal(stop, absl::Seconds(1));
  }
  spdlog::info("msg=\"signal received\" signal={}", sig == SIGTERM ? "SIGTERM" : "SIGINT");
  StopAll(chunks, meta);
  return kExitOk;
}

}  // namespace

void AddServer(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<ServerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "server", "Run meta and N chunk servers in one process (one machine, one data directory)");
  cmd->add_option("--dir", args->dir,
                  "Data directory: DIR/meta (RocksDB) and DIR/chunk-1..N (created when missing)")
      ->required();
  cmd->add_option("--chunk-servers", args->chunk_servers,
                  "Chunk servers to run; replicas = min(3, N). Keep it the same across restarts "
                  "of one directory")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--listen", args->listen, "Meta gRPC listen address HOST:PORT (port 0: any free)")
      ->capture_default_str();
  cmd->add_option("--http", args->http,
                  "Meta HTTP listen address HOST:PORT for /healthz, /readyz, /metrics (port 0: "
                  "any free)")
      ->capture_default_str();
  cmd->add_option("--small-chunk-limit", args->small_chunk_limit,
                  "Each chunk server keeps chunks up to this size in append-only volume files, "
                  "many per fdatasync; larger ones in a file each (0: one file per chunk)")
      ->capture_default_str();
  cmd->add_option("--scrub-rate", args->scrub_rate,
                  "Each chunk server's scrub reads at most this many bytes per second")
      ->capture_default_str();
  cmd->add_option("--scrub-interval", args->scrub_interval,
                  "Time between scrub cycles (30s, 12h, 7d; 0: only on demand)")
      ->capture_default_str();
  cmd->add_option("--recovery-rate", args->recovery_rate,
                  "Each chunk server's backfill copies at most this many bytes per second (0: "
                  "unlimited)")
      ->capture_default_str();
  cmd->add_option("--ready-file", args->ready_file,
                  "Once every chunk server is registered, write {\"grpc\":..,\"http\":..,"
                  "\"pid\":..,\"chunk_servers\":[{\"data\":..,\"grpc\":..,\"http\":..,"
                  "\"node_id\":..}]} here (atomically)");
  AddGcFlags(cmd, &args->gc);
  cmd->footer(
      "Chunk servers listen on 127.0.0.1 with free ports, printed once they are registered.\n"
      "SIGTERM/SIGINT stop the chunk servers, then meta, gracefully; exit 0.\n");
  registry.Add(cmd, [args] { return RunServer(*args); });
}

}  // namespace cairn::cli

#include "chunkserver/chunk_server.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "chunkserver/chunk_node_service.h"
#include "chunkserver/node_id.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "http/http_server.h"

namespace cairn::chunkserver {

namespace {
constexpr int kOps = 6;  // Op values 1..5
}  // namespace

ChunkServer::ChunkServer(ChunkServerOptions options) : options_(std::move(options)) {
  auto* requests = metrics_.CounterFamily("cairn_chunk_requests_total",
                                          "Data-protocol requests answered, by operation", {"op"});
  for (int op = 1; op < kOps; ++op) {
    requests_[op] =
        requests->With({std::string(dataplane::OpName(static_cast<dataplane::Op>(op)))});
  }
  errors_ =
      metrics_.CounterFamily("cairn_chunk_errors_total",
                             "Data-protocol error replies, by operation and error", {"op", "errc"});
  bytes_in_ = metrics_.GetCounter("cairn_chunk_bytes_in_total", "Chunk bytes stored by writes");
  bytes_out_ = metrics_.GetCounter("cairn_chunk_bytes_out_total", "Chunk bytes sent by reads");
  heartbeat_failures_ =
      metrics_.GetCounter("cairn_chunk_heartbeat_failures_total", "Heartbeats to meta that failed");
  inflight_ =
      metrics_.GetGauge("cairn_chunk_requests_in_flight", "Data-protocol requests being served");
  capacity_ = metrics_.GetGauge("cairn_chunk_store_capacity_bytes",
                                "Size of the file systems holding the data directories");
  available_ =
      metrics_.GetGauge("cairn_chunk_store_available_bytes", "Bytes still free for chunks on them");
  used_ = metrics_.GetGauge("cairn_chunk_store_used_bytes", "Sum of the stored chunks' lengths");
  chunks_ = metrics_.GetGauge("cairn_chunk_store_chunks", "Chunks stored");
  epoch_ = metrics_.GetGauge("cairn_chunk_map_epoch", "Epoch of the cluster map held (0: none)");
  registered_ = metrics_.GetGauge("cairn_chunk_registered", "1 once registered with meta");
}

ChunkServer::~ChunkServer() { Stop(); }

absl::StatusOr<std::unique_ptr<ChunkServer>> ChunkServer::Start(ChunkServerOptions options) {
  std::unique_ptr<ChunkServer> server(new ChunkServer(std::move(options)));
  if (absl::Status st = server->Init(); !st.ok()) {
    server->Stop();
    return st;
  }
  return server;
}

absl::Status ChunkServer::Init() {
  if (options_.meta_address.empty()) return Invalid("chunk server: no meta address");
  if (options_.dirs.empty()) return Invalid("chunk server: no data directory");

  chunk::MultiDirChunkStoreOptions store_options;
  store_options.dirs = options_.dirs;
  store_options.sync_mode = options_.sync_mode;
  store_options.small_chunk_limit = options_.small_chunk_limit;
  ASSIGN_OR_RETURN(store_, chunk::MultiDirChunkStore::Open(store_options));
  if (options_.small_chunk_limit > 0) {
    compactor_ = std::thread([this] {
      while (!compact_stop_.WaitForNotificationWithTimeout(options_.compact_interval)) {
        absl::StatusOr<uint64_t> reclaimed = store_->CompactVolumes();
        if (!reclaimed.ok()) {
          spdlog::error("msg=\"volume compaction\" error=\"{}\"",
                        std::string(reclaimed.status().message()));
        } else if (*reclaimed > 0) {
          spdlog::info("msg=\"volumes compacted\" reclaimed_bytes={}", *reclaimed);
        }
      }
    });
  }

  scrub_peers_ =
      MakeClusterScrubPeers([this] { return epoch_checker_.load(std::memory_order_acquire); },
                            options_.meta_address, options_.rpc_timeout);
  ScrubberOptions scrub_options;
  scrub_options.rate_bytes_per_sec = options_.scrub_rate;
  scrub_options.interval = options_.scrub_interval;
  scrub_options.first_delay = options_.scrub_first_delay;
  scrubber_ =
      std::make_unique<Scrubber>(store_.get(), scrub_peers_.get(), scrub_options, &metrics_);

  // The directories are locked by the store now: the id files are ours.
  ASSIGN_OR_RETURN(StoredNodeId stored, LoadNodeId(options_.dirs));
  if (stored.id.valid() && !stored.missing.empty()) {
    RETURN_IF_ERROR(StoreNodeId(stored.missing, stored.id));
  }

  dataplane::DataServerOptions data_options;
  data_options.listen_address = options_.data_listen;
  data_options.io_threads = options_.data_io_threads;
  data_options.store_threads = options_.store_threads;
  data_options.io_timeout = options_.data_io_timeout;
  data_options.check_epoch = [this](uint64_t epoch, ChunkId) {
    ClusterLink* link = epoch_checker_.load(std::memory_order_acquire);
    return link != nullptr ? link->CheckEpoch(epoch) : absl::OkStatus();
  };
  data_options.on_request = [this](const dataplane::DataServerOptions::RequestDone& done) {
    OnRequest(done);
  };
  data_options.on_corrupt = [this](ChunkId id) { scrubber_->ReportCorrupt(id); };
  ASSIGN_OR_RETURN(data_, dataplane::DataServer::Start(store_.get(), std::move(data_options)));
  data_address_ = data_->address();
  RETURN_IF_ERROR(StartGrpc());
  RETURN_IF_ERROR(StartHttp());

  ClusterLinkOptions link_options;
  link_options.meta_address = options_.meta_address;
  link_options.data_address = data_address_;
  link_options.grpc_address = grpc_address_;
  link_options.http_address = http_address_;
  link_options.zone = options_.zone;
  link_options.heartbeat_interval = options_.heartbeat_interval;
  link_options.rpc_timeout = options_.rpc_timeout;
  link_options.retry_min = options_.retry_min;
  link_options.retry_max = options_.retry_max;
  const std::vector<std::string> dirs = options_.dirs;
  link_ = std::make_unique<ClusterLink>(
      std::move(link_options), stored.id, [this] { return Usage(); },
      [dirs](NodeId id) { return StoreNodeId(dirs, id); });
  epoch_checker_.store(link_.get(), std::memory_order_release);
  recovery_ = std::make_unique<Recovery>(options_.recovery, store_.get(), link_.get());
  link_->set_progress([r = recovery_.get()] { return r->Progress(); });
  link_->Start();
  recovery_->Start();
  RETURN_IF_ERROR(scrubber_->Start());
  spdlog::info("msg=\"chunk server serving\" data={} grpc={} http={} dirs={} node_id={} meta={}",
               data_address_, grpc_address_, http_address_, options_.dirs.size(), stored.id.value(),
               options_.meta_address);
  return absl::OkStatus();
}

absl::Status ChunkServer::StartGrpc() {
  std::string host;
  uint16_t port = 0;
  RETURN_IF_ERROR(http::ParseHostPort(options_.grpc_listen, &host, &port));
  node_service_ = std::make_unique<ChunkNodeService>([this] { return Status(); }, store_.get(),
                                                     scrubber_.get());
  grpc::ServerBuilder builder;
  // Without this gRPC sets SO_REUSEPORT and a second server on the port
  // would share it silently instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  int selected = 0;
  builder.AddListeningPort(options_.grpc_listen, grpc::InsecureServerCredentials(), &selected);
  builder.RegisterService(node_service_.get());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || selected == 0) {
    grpc_server_.reset();
    return Error(Errc::kUnavailable, "grpc: cannot listen on " + options_.grpc_listen);
  }
  grpc_address_ = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                  std::to_string(selected);
  return absl::OkStatus();
}

absl::Status ChunkServer::StartHttp() {
  http::HttpServerOptions http_options;
  RETURN_IF_ERROR(
      http::ParseHostPort(options_.http_listen, &http_options.host, &http_options.port));
  http_server_ = std::make_unique<http::HttpServer>(http_options);
  http_server_->Handle("/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain; charset=utf-8", "ok\n"};
  });
  http_server_->Handle("/readyz", [this](const http::Request&) {
    ClusterLink* link = epoch_checker_.load(std::memory_order_acquire);
    if (link != nullptr && link->registered()) {
      return http::Response{200, "text/plain; charset=utf-8", "ready\n"};
    }
    std::string why = link != nullptr ? link->last_error() : "";
    return http::Response{503, "text/plain; charset=utf-8",
                          "not registered with meta" + (why.empty() ? "" : ": " + why) + "\n"};
  });
  http_server_->Handle("/metrics", [this](const http::Request&) {
    RefreshGauges();
    return http::Response{200, service::kPrometheusContentType, metrics_.Render()};
  });
  RETURN_IF_ERROR(http_server_->Start());
  http_address_ = http_server_->address();
  return absl::OkStatus();
}

void ChunkServer::OnRequest(const dataplane::DataServerOptions::RequestDone& done) {
  const int op = static_cast<int>(done.op);
  if (op > 0 && op < kOps) requests_[op]->Increment();
  if (done.errc != Errc::kOk) {
    errors_->With({std::string(dataplane::OpName(done.op)), std::string(ErrcName(done.errc))})
        ->Increment();
  }
  if (done.bytes_in != 0) bytes_in_->Increment(done.bytes_in);
  if (done.bytes_out != 0) bytes_out_->Increment(done.bytes_out);
}

void ChunkServer::RefreshGauges() {
  absl::MutexLock l(&gauges_mu_);
  if (absl::StatusOr<chunk::StoreStats> st = store_->Stat(); st.ok()) {
    capacity_->Set(static_cast<int64_t>(st->capacity_bytes));
    available_->Set(static_cast<int64_t>(st->available_bytes));
    used_->Set(static_cast<int64_t>(st->chunk_bytes));
    chunks_->Set(static_cast<int64_t>(st->chunk_count));
  }
  inflight_->Set(data_ ? data_->inflight() : 0);
  ClusterLink* link = epoch_checker_.load(std::memory_order_acquire);
  if (link == nullptr) return;
  epoch_->Set(static_cast<int64_t>(link->epoch()));
  registered_->Set(link->registered() ? 1 : 0);
  const uint64_t failures = link->heartbeat_failures();
  if (failures > heartbeat_failures_->value()) {
    heartbeat_failures_->Increment(failures - heartbeat_failures_->value());
  }
  if (recovery_) {
    // Counters catch up with the recovery job's own (monotonic) counts.
    const std::pair<const char*, uint64_t> counts[] = {
        {"cairn_chunk_recovery_bytes_total", recovery_->bytes_copied()},
        {"cairn_chunk_recovery_chunks_total", recovery_->chunks_copied()},
        {"cairn_chunk_recovery_errors_total", recovery_->errors()}};
    for (const auto& [name, value] : counts) {
      service::Counter* c = metrics_.GetCounter(name, "Backfill of recovering PGs (recovery.h)");
      if (value > c->value()) c->Increment(value - c->value());
    }
  }
}

absl::StatusOr<NodeUsage> ChunkServer::Usage() {
  NodeUsage usage;
  ASSIGN_OR_RETURN(usage.stats, store_->Stat());
  usage.load = data_ ? static_cast<double>(data_->inflight()) : 0;
  return usage;
}

absl::StatusOr<proto::ChunkNodeStatus> ChunkServer::Status() {
  proto::ChunkNodeStatus s;
  ClusterLink* link = epoch_checker_.load(std::memory_order_acquire);
  if (link != nullptr) {
    s.set_node_id(link->node_id().value());
    s.set_registered(link->registered());
    s.set_map_epoch(link->epoch());
    s.set_last_meta_error(link->last_error());
  }
  s.set_data_address(data_address_);
  s.set_grpc_address(grpc_address_);
  s.set_http_address(http_address_);
  s.set_zone(options_.zone);
  for (const std::string& d : options_.dirs) s.add_dirs(d);
  ASSIGN_OR_RETURN(chunk::StoreStats st, store_->Stat());
  s.set_capacity_bytes(st.capacity_bytes);
  s.set_available_bytes(st.available_bytes);
  s.set_chunk_count(st.chunk_count);
  s.set_chunk_bytes(st.chunk_bytes);
  s.set_requests_in_flight(data_ ? data_->inflight() : 0);
  return s;
}

void ChunkServer::Stop() {
  {
    absl::MutexLock l(&stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  const auto grace = absl::ToChronoMilliseconds(options_.shutdown_grace);
  if (scrubber_) scrubber_->Stop();  // between two chunks
  if (compactor_.joinable()) {
    compact_stop_.Notify();
    compactor_.join();
  }
  // Data first: no new requests, running ones finish.
  if (data_) data_->Shutdown(grace);
  // Then the heartbeats: meta finds the node down after its down_after.
  if (recovery_) recovery_->Stop();  // between two chunks
  if (link_) link_->Stop();
  if (grpc_server_) {
    grpc_server_->Shutdown(std::chrono::system_clock::now() + grace);
    grpc_server_->Wait();
  }
  if (http_server_) http_server_->Stop();
  if (data_)
    spdlog::info("msg=\"chunk server stopped\" data={} node_id={}", data_address_,
                 link_ ? link_->node_id().value() : 0);
}

}  // namespace cairn::chunkserver

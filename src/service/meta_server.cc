#include "service/meta_server.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "cluster/cluster_service.h"
#include "common/clock.h"
#include "common/errors.h"
#include "common/files.h"
#include "common/status_macros.h"
#include "gc/chunk_nodes.h"
#include "gc/gc_service.h"
#include "http/http_server.h"
#include "service/cluster_stats.h"
#include "service/meta_service.h"
#include "service/metrics.h"
#include "service/worker_pool.h"
#include "store/memory_store.h"

namespace cairn::service {
namespace {

absl::StatusOr<std::unique_ptr<store::KvStore>> OpenStore(const MetaServerOptions& options) {
  const std::string& spec = options.store;
  if (spec == "memory") return std::unique_ptr<store::KvStore>(new store::MemoryStore());
  constexpr std::string_view kRocks = "rocksdb:";
  if (spec.rfind(kRocks, 0) == 0 && spec.size() > kRocks.size()) {
    store::RocksDbOptions ro;
    ro.dir = spec.substr(kRocks.size());
    ro.sync_mode = options.sync_mode;
    ro.sync_interval = options.sync_interval;
    ro.read_cache_bytes = options.read_cache_bytes;
    ASSIGN_OR_RETURN(auto db, store::RocksDbStore::Open(ro));
    return std::unique_ptr<store::KvStore>(std::move(db));
  }
  return Invalid("bad store '" + spec + "': expected 'memory' or 'rocksdb:DIR'");
}

}  // namespace

MetaServer::MetaServer(MetaServerOptions options) : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<MetaServer>> MetaServer::Start(MetaServerOptions options) {
  std::unique_ptr<MetaServer> server(new MetaServer(std::move(options)));
  RETURN_IF_ERROR(server->Init());
  return server;
}

absl::Status MetaServer::Init() {
  std::string grpc_host, http_host;
  uint16_t grpc_port = 0, http_port = 0;
  RETURN_IF_ERROR(http::ParseHostPort(options_.grpc_listen, &grpc_host, &grpc_port));
  RETURN_IF_ERROR(http::ParseHostPort(options_.http_listen, &http_host, &http_port));
  if (options_.sync_interval <= absl::ZeroDuration()) {
    return Invalid("sync interval must be positive");
  }
  RETURN_IF_ERROR(gc::ValidateGcOptions(options_.gc));

  ASSIGN_OR_RETURN(store_, OpenStore(options_));
  meta::NamespaceOptions ns_options = options_.namespace_options;
  if (ns_options.capacity_path.empty() && options_.store.rfind("rocksdb:", 0) == 0) {
    ns_options.capacity_path = options_.store.substr(8);
  }
  ASSIGN_OR_RETURN(ns_, meta::Namespace::Open(store_.get(), ns_options));
  cluster::ClusterOptions cluster_options = options_.cluster;
  if (options_.sync_mode == store::SyncMode::kAlways) cluster_options.sync_commits = true;
  ASSIGN_OR_RETURN(cluster_,
                   cluster::ClusterManager::Open(store_.get(), Clock::Real(), cluster_options));

  metrics_ = std::make_unique<MetricsRegistry>();
  metrics_
      ->GetGauge("cairn_process_start_time_seconds",
                 "Start time of the process since the Unix epoch, in seconds.")
      ->Set(static_cast<int64_t>(std::time(nullptr)));
  Gauge* ready_gauge =
      metrics_->GetGauge("cairn_meta_ready", "1 while the metadata server accepts requests.");
  disk_pool_ = std::make_unique<WorkerPool>(options_.disk_threads);
  MetaServiceOptions service_options;
  service_options.disk_pool = disk_pool_.get();
  // Only a persistent store under --sync always makes each change wait for
  // the disk.
  service_options.changes_wait_for_sync =
      options_.store.rfind("rocksdb:", 0) == 0 && options_.sync_mode == store::SyncMode::kAlways;
  service_options.cluster = cluster_.get();
  // A commit of chunks older than this could lose them to reconciliation.
  service_options.max_upload_age = gc::MaxUploadAge(options_.gc.grace);
  service_ = std::make_unique<MetaService>(ns_.get(), metrics_.get(), service_options);
  cluster_service_ = std::make_unique<cluster::ClusterService>(cluster_.get(), metrics_.get());
  gc_nodes_ = std::make_unique<gc::GrpcChunkNodes>();
  gc_ = std::make_unique<gc::Collector>(
      ns_.get(), [this] { return cluster_->Map(); }, gc_nodes_.get(), metrics_.get(), Clock::Real(),
      options_.gc);
  gc_service_ = std::make_unique<gc::GcService>(gc_.get());

  grpc::ServerBuilder builder;
  int selected_port = 0;
  // Without this gRPC sets SO_REUSEPORT, and a second server on the same
  // port would silently share it instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options_.grpc_listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.SetMaxReceiveMessageSize(options_.max_message_bytes);
  builder.RegisterService(service_.get());
  builder.RegisterService(cluster_service_.get());
  builder.RegisterService(gc_service_.get());
  // Meta.Batch and Meta.BatchStream are served from completion queues,
  // each drained by a thread of ours that runs the batches
  // (MetaServiceBase). One, two and four queues measured the same on 2
  // cores; two keep a slow batch from holding up every other.
  constexpr int kBatchQueues = 2;
  for (int i = 0; i < kBatchQueues; ++i) batch_queues_.push_back(builder.AddCompletionQueue());
  grpc_server_ = builder.BuildAndStart();
  if (grpc_server_ == nullptr || selected_port == 0) {
    grpc_server_.reset();
    return Error(Errc::kUnavailable, "grpc: cannot listen on " + options_.grpc_listen);
  }
  for (auto& cq : batch_queues_) {
    batch_threads_.emplace_back([this, q = cq.get()] { service_->ServeBatches(q); });
  }
  grpc_address_ = (grpc_host.find(':') != std::string::npos ? "[" + grpc_host + "]" : grpc_host) +
                  ":" + std::to_string(selected_port);

  http::HttpServerOptions http_options;
  http_options.host = http_host;
  http_options.port = http_port;
  http_server_ = std::make_unique<http::HttpServer>(http_options);
  http_server_->Handle("/healthz", [](const http::Request&) {
    return http::Response{200, "text/plain; charset=utf-8", "ok\n"};
  });
  http_server_->Handle("/readyz", [this](const http::Request&) {
    if (ready_.load()) return http::Response{200, "text/plain; charset=utf-8", "ready\n"};
    return http::Response{503, "text/plain; charset=utf-8", "not ready\n"};
  });
  http_server_->Handle("/metrics", [this](const http::Request&) {
    UpdateClusterGauges();
    return http::Response{200, kPrometheusContentType, metrics_->Render()};
  });
  absl::Status http_started = http_server_->Start();
  if (!http_started.ok()) {
    service_->CloseBatchStreams();
    grpc_server_->Shutdown();
    StopBatchQueues();
    grpc_server_.reset();
    return http_started;
  }
  http_address_ = http_server_->address();
  cluster_->Start();
  gc_->Start();
  ready_.store(true);
  ready_gauge->Set(1);
  spdlog::info("msg=\"meta serving\" grpc={} http={} store={}", grpc_address_, http_address_,
               std::string(store_->Name()));
  if (options_.gc.grace <= absl::ZeroDuration()) {
    // Allowed (tests, a cluster with no writers), but never safe with
    // writers: docs/gc.md, "Reconciliation".
    spdlog::warn(
        "msg=\"gc grace is 0: reconciliation deletes every chunk no file references, including "
        "the chunks of writes not committed yet\"");
  }
  return absl::OkStatus();
}

absl::Status MetaServer::Shutdown() {
  absl::MutexLock lock(&shutdown_mu_);
  if (shut_down_) return shutdown_status_;
  shut_down_ = true;
  ready_.store(false);
  if (metrics_ != nullptr) {
    metrics_->GetGauge("cairn_meta_ready", "1 while the metadata server accepts requests.")->Set(0);
  }
  const bool was_serving = grpc_server_ != nullptr && http_server_ != nullptr;
  if (grpc_server_ != nullptr) {
    spdlog::info("msg=\"meta stopping\" grace_ms={}",
                 absl::ToInt64Milliseconds(options_.shutdown_grace));
    service_->CloseBatchStreams();
    grpc_server_->Shutdown(std::chrono::system_clock::now() +
                           absl::ToChronoMilliseconds(options_.shutdown_grace));
    grpc_server_->Wait();
  }
  StopBatchQueues();
  if (gc_ != nullptr) gc_->Stop();
  if (cluster_ != nullptr) cluster_->Stop();
  if (http_server_ != nullptr) http_server_->Stop();
  if (store_ != nullptr) {
    shutdown_status_ = store_->Sync();
    if (!shutdown_status_.ok()) {
      spdlog::error("msg=\"meta store sync failed\" error=\"{}\"",
                    std::string(shutdown_status_.message()));
    } else if (was_serving) {
      spdlog::info("msg=\"meta stopped\" store_synced=true");
    }
  }
  return shutdown_status_;
}

void MetaServer::StopBatchQueues() {
  // After the server's Shutdown (gRPC's order: the server, then its
  // completion queues): the calls being answered finish, then the queues
  // are shut down and drained by their threads.
  if (batch_threads_.empty()) return;
  service_->StopBatches();
  for (auto& cq : batch_queues_) cq->Shutdown();
  for (auto& t : batch_threads_) t.join();
  batch_threads_.clear();
}

MetaServer::~MetaServer() {
  (void)Shutdown();
  // Destruction order matters: the gRPC server references the service,
  // which references the pool and the namespace, which references the
  // store.
  grpc_server_.reset();
  http_server_.reset();
  disk_pool_.reset();  // idle by now: every RPC has finished
  service_.reset();
  cluster_service_.reset();
  gc_service_.reset();  // after the gRPC server: its worker has no call left
  gc_.reset();
  gc_nodes_.reset();
  cluster_.reset();
  ns_.reset();
  store_.reset();
}

void MetaServer::UpdateClusterGauges() {
  if (cluster_ == nullptr) return;
  const ClusterStats stats = Summarize(cluster_->Map());
  metrics_->GetGauge("cairn_cluster_epoch", "Epoch of the cluster map meta holds.")
      ->Set(static_cast<int64_t>(stats.epoch));
  auto* nodes =
      metrics_->GaugeFamily("cairn_cluster_nodes", "Registered chunk servers by state.", {"state"});
  static constexpr std::pair<proto::NodeState, const char*> kStates[] = {
      {proto::NODE_UP, "up"},
      {proto::NODE_DOWN, "down"},
      {proto::NODE_OUT, "out"},
      {proto::NODE_DRAINING, "draining"}};
  for (const auto& [state, name] : kStates) {
    nodes->With({name})->Set(static_cast<int64_t>(stats.nodes_by_state[state]));
  }
  auto* pgs = metrics_->GaugeFamily(
      "cairn_cluster_pgs", "Placement groups by health (docs/cluster.md, Status).", {"state"});
  for (size_t i = 0; i < kPgStateNames.size(); ++i) {
    pgs->With({std::string(kPgStateNames[i])})->Set(static_cast<int64_t>(stats.pgs_by_state[i]));
  }
  metrics_
      ->GetGauge("cairn_cluster_recovery_bytes_left",
                 "Bytes the recovering members still have to copy: as they reported, plus an "
                 "estimated PG copy for each PG a member has not listed yet.")
      ->Set(static_cast<int64_t>(stats.recovery_bytes_left));
  metrics_
      ->GetGauge("cairn_cluster_recovery_pgs_estimated",
                 "Recovering (PG, member) pairs counted in cairn_cluster_recovery_bytes_left "
                 "with an estimate (not listed yet).")
      ->Set(static_cast<int64_t>(stats.recovery_pgs_estimated));
  metrics_
      ->GetGauge("cairn_cluster_pgs_degraded",
                 "Placement groups whose chain is shorter than the cluster's replicas.")
      ->Set(static_cast<int64_t>(stats.pgs_degraded));
  metrics_
      ->GetGauge("cairn_cluster_pgs_unavailable",
                 "Placement groups without any chunk server (nothing can be written there).")
      ->Set(static_cast<int64_t>(stats.pgs_unavailable));
  metrics_
      ->GetGauge("cairn_cluster_capacity_bytes",
                 "Sum of the capacity reported by chunk servers that are up.")
      ->Set(static_cast<int64_t>(stats.capacity_bytes));
  metrics_
      ->GetGauge("cairn_cluster_available_bytes",
                 "Sum of the available bytes reported by chunk servers that are up.")
      ->Set(static_cast<int64_t>(stats.available_bytes));
}

absl::Status WriteReadyFile(const std::string& path, const std::string& grpc_address,
                            const std::string& http_address) {
  nlohmann::json j = {{"grpc", grpc_address}, {"http", http_address}, {"pid", ::getpid()}};
  return ReplaceFile(path, j.dump() + "\n");
}

}  // namespace cairn::service

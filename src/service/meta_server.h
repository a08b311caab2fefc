// MetaServer: one running metadata server. Owns the store, the Namespace,
// the ClusterManager (chunk-server membership and the cluster map, on the
// same store), the gRPC server (cairn.proto.Meta and cairn.proto.Cluster)
// and the HTTP server (/healthz, /readyz, /metrics), and stops them in
// order.
//
// Lifecycle: Start() opens the store, the namespace and the cluster map,
// starts both servers and the failure detector, and returns once both
// servers accept connections; Shutdown() (or the destructor) stops
// accepting, lets in-flight RPCs finish (up to shutdown_grace, then
// cancels them), stops the failure detector and HTTP, and syncs the store
// to disk.
//
// Thread-safety: the accessors and Shutdown() may be called from any
// thread; Shutdown() is idempotent.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cluster/cluster_manager.h"
#include "gc/collector.h"
#include "meta/namespace.h"
#include "store/kv_store.h"
#include "store/rocksdb_store.h"

namespace grpc {
class Server;
}

namespace cairn::http {
class HttpServer;
}

namespace cairn::cluster {
class ClusterService;
}

namespace cairn::gc {
class GcService;
class GrpcChunkNodes;
}  // namespace cairn::gc

namespace cairn::service {

class MetaService;
class MetricsRegistry;
class WorkerPool;

struct MetaServerOptions {
  // Where the metadata lives: "memory" (nothing survives the process) or
  // "rocksdb:DIR" (created when missing). Default "memory".
  std::string store = "memory";
  // gRPC listen address, HOST:PORT; port 0 picks a free one. Default
  // 127.0.0.1:9400.
  std::string grpc_listen = "127.0.0.1:9400";
  // HTTP listen address for /healthz, /readyz, /metrics. Default
  // 127.0.0.1:9401.
  std::string http_listen = "127.0.0.1:9401";
  // RocksDB log sync policy (docs/durability.md). kInterval syncs in groups
  // every sync_interval (a power loss can lose that window of un-fsynced
  // operations); kAlways syncs before acknowledging each commit (slower).
  store::SyncMode sync_mode = store::SyncMode::kInterval;
  absl::Duration sync_interval = absl::Milliseconds(5);
  // The RocksDB store's read cache (store/read_cache.h); default 64 MiB,
  // 0: off.
  size_t read_cache_bytes = 64u << 20;
  // Namespace settings. capacity_path defaults to the RocksDB directory.
  meta::NamespaceOptions namespace_options;
  // The cluster map (cluster/cluster_manager.h has each knob's meaning and
  // default): cluster.pg_count (256), cluster.replicas (3),
  // cluster.bootstrap_nodes (1), cluster.down_after (5 s),
  // cluster.tick_interval (500 ms), cluster.report_grace (1.5 s). pg_count
  // and replicas only apply when the store has no map yet. Map changes are
  // synced to disk under SyncMode::kAlways.
  cluster::ClusterOptions cluster;
  // Garbage collection (gc/collector.h has each knob's meaning and
  // default; docs/gc.md the whole story): gc.interval (5 s), gc.delay
  // (60 s), gc.grace (24 h), gc.reconcile_interval (1 h), gc.batch (1,000),
  // gc.alarm_min_unknown (1,000). gc.grace also bounds how old the uploads
  // a CommitWrite commits may be (gc::MaxUploadAge: 21.6 h by default).
  gc::GcOptions gc;
  // Largest request accepted (bytes). Default 8 MiB: above every valid
  // request, so oversized fields reach the handlers and get a typed error
  // (kNameTooLong, kTooBig) rather than a transport error.
  int max_message_bytes = 8 << 20;
  // Threads serving requests that wait on the disk: Fsync, and every change
  // under SyncMode::kAlways. gRPC has only a few callback threads, so
  // these must not block them; many in flight also let the store group
  // their syncs. Default 32.
  int disk_threads = 32;
  // How long Shutdown() lets in-flight RPCs finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(10);
};

class MetaServer {
 public:
  static absl::StatusOr<std::unique_ptr<MetaServer>> Start(MetaServerOptions options);
  ~MetaServer();  // Shutdown()
  MetaServer(const MetaServer&) = delete;
  MetaServer& operator=(const MetaServer&) = delete;

  // Bound addresses, "HOST:PORT" with the real port.
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

  // Graceful stop; returns the status of the final store sync.
  absl::Status Shutdown();

  MetricsRegistry* metrics() { return metrics_.get(); }
  meta::Namespace* ns() { return ns_.get(); }
  cluster::ClusterManager* cluster() { return cluster_.get(); }
  gc::Collector* gc() { return gc_.get(); }

 private:
  explicit MetaServer(MetaServerOptions options);
  absl::Status Init();
  // Sets the cluster gauges of /metrics from the current map.
  void UpdateClusterGauges();
  // Stops the batch queue threads, after the gRPC server's Shutdown.
  void StopBatchQueues();

  MetaServerOptions options_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<MetricsRegistry> metrics_;
  std::unique_ptr<meta::Namespace> ns_;
  std::unique_ptr<cluster::ClusterManager> cluster_;
  std::unique_ptr<cluster::ClusterService> cluster_service_;
  std::unique_ptr<gc::GrpcChunkNodes> gc_nodes_;
  std::unique_ptr<gc::Collector> gc_;
  std::unique_ptr<gc::GcService> gc_service_;
  std::unique_ptr<WorkerPool> disk_pool_;
  std::unique_ptr<MetaService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  // The completion queues of Meta.Batch and Meta.BatchStream, and the
  // threads serving them.
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> batch_queues_;
  std::vector<std::thread> batch_threads_;
  std::unique_ptr<http::HttpServer> http_server_;
  std::string grpc_address_;
  std::string http_address_;
  std::atomic<bool> ready_{false};
  absl::Mutex shutdown_mu_;
  bool shut_down_ ABSL_GUARDED_BY(shutdown_mu_) = false;
  absl::Status shutdown_status_ ABSL_GUARDED_BY(shutdown_mu_);
};

// Writes `{"grpc":"HOST:PORT","http":"HOST:PORT","pid":N}` to `path`
// atomically (a temporary file in the same directory, then rename), so a
// reader never sees a partial file.
absl::Status WriteReadyFile(const std::string& path, const std::string& grpc_address,
                            const std::string& http_address);

}  // namespace cairn::service

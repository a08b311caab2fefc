// ChunkServer: one running chunk server (`cairn chunk`; `cairn server`
// runs several in one process). docs/chunk-server.md is the user's view.
//
// It owns
//  - the chunk store: a MultiDirChunkStore, one FileChunkStore per data
//    directory (each directory flock()ed while open);
//  - the node id, kept in DIR/node_id of every directory (node_id.h);
//  - the DataServer serving the data protocol, whose epoch check is the
//    ClusterLink's (stale epochs refused, newer ones fetch the map);
//  - a gRPC server with the ChunkNode service (GetStatus);
//  - an HTTP server: /healthz (200 while running), /readyz (200 once
//    registered with meta, else 503 with the reason), /metrics;
//  - the ClusterLink: registration (retried with back-off while meta is
//    away) and heartbeats every second;
//  - the Scrubber (scrubber.h): every chunk re-read and verified at a
//    bounded rate, bad copies quarantined and repaired from a replica,
//    also those a READ_CHUNK found damaged.
//
// Every listener is bound before registration, so the node registers its
// real addresses. The data protocol is served from the start: chunks are
// immutable and checksummed, so serving them before the node is
// registered is harmless, and a node that meta has not put in any chain
// receives no writes from clients that follow the map.
//
// Metrics (/metrics, Prometheus text):
//   cairn_chunk_requests_total{op}         counter, data-protocol requests answered
//   cairn_chunk_errors_total{op,errc}      counter, error replies
//   cairn_chunk_bytes_in_total             counter, chunk bytes stored by writes
//   cairn_chunk_bytes_out_total            counter, chunk bytes sent by reads
//   cairn_chunk_requests_in_flight         gauge
//   cairn_chunk_store_capacity_bytes       gauge
//   cairn_chunk_store_available_bytes      gauge
//   cairn_chunk_store_used_bytes           gauge, sum of chunk lengths
//   cairn_chunk_store_chunks               gauge
//   cairn_chunk_map_epoch                  gauge, 0 before the first map
//   cairn_chunk_registered                 gauge, 1 once registered
//   cairn_chunk_heartbeat_failures_total   counter
//   cairn_chunk_recovery_bytes_total       counter, bytes copied by backfill (recovery.h)
//   cairn_chunk_recovery_chunks_total      counter, chunks copied by backfill
//   cairn_chunk_recovery_errors_total      counter, chunks or passes that failed
//   cairn_chunk_scrub_*                    scrub progress and findings (scrubber.h)
//
// Lifecycle and thread-safety: Start() returns once every listener is up
// (registration goes on in the background: WaitRegistered). Stop() — also
// run by the destructor — stops accepting data connections, refuses new
// requests, lets running ones finish (up to shutdown_grace), stops the
// heartbeats, then the gRPC and HTTP servers. Accessors and Stop() are
// thread-safe; Stop() is idempotent.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "chunk.pb.h"
#include "chunk/file_chunk_store.h"
#include "chunk/multi_dir_chunk_store.h"
#include "chunkserver/cluster_link.h"
#include "chunkserver/recovery.h"
#include "chunkserver/scrubber.h"
#include "common/ids.h"
#include "dataplane/data_server.h"
#include "service/metrics.h"

namespace grpc {
class Server;
}
namespace cairn::http {
class HttpServer;
}

namespace cairn::chunkserver {

class ChunkNodeService;

struct ChunkServerOptions {
  // Meta's gRPC address, HOST:PORT. Required.
  std::string meta_address;
  // Data directories, at least one (created when missing; parents must
  // exist). New chunks spread over them by id hash; a full one is skipped.
  std::vector<std::string> dirs;
  // Listen addresses, HOST:PORT; port 0 picks a free port. The bound
  // addresses are what the node registers, so use an address clients can
  // reach (not 0.0.0.0). Defaults: loopback, any free port.
  std::string data_listen = "127.0.0.1:0";
  std::string grpc_listen = "127.0.0.1:0";
  std::string http_listen = "127.0.0.1:0";
  // Failure domain (rack, host, ...): chains prefer distinct zones. Up to
  // 64 bytes of [A-Za-z0-9._-]; empty: none.
  std::string zone;
  // How chunk Puts are made durable (chunk/file_chunk_store.h). Default kPerOp.
  chunk::SyncMode sync_mode = chunk::SyncMode::kPerOp;
  // Chunks up to this size go to append-only volume files (DIR/volumes,
  // docs/chunk-format.md "Volume files"), many per fdatasync; 0: one file
  // per chunk. Volumes are compacted every compact_interval. `cairn chunk`
  // and `cairn server` pass 128 KiB by default (--small-chunk-limit); the
  // default here stays 0 for embedders and the unit tests that inspect
  // chunk files (chunk_server_test, recovery_test, file_test).
  uint64_t small_chunk_limit = 0;
  absl::Duration compact_interval = absl::Seconds(60);
  // Data server threads (dataplane/data_server.h). Defaults 2 and 8.
  int data_io_threads = 2;
  int store_threads = 8;
  // Data-protocol I/O timeout. Default 30 s.
  std::chrono::milliseconds data_io_timeout{30'000};
  // Meta link (cluster_link.h): heartbeat period, call deadline, back-off.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration rpc_timeout = absl::Seconds(3);
  absl::Duration retry_min = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(5);
  // Scrub (scrubber.h, docs/chunk-server.md "Scrub"): bytes read per
  // second (default 32 MiB/s) and time between cycles (default 7 days;
  // zero: on demand only); the first scheduled cycle starts
  // scrub_first_delay after Start (default 10 min).
  uint64_t scrub_rate = uint64_t{32} << 20;
  absl::Duration scrub_interval = absl::Hours(24 * 7);
  absl::Duration scrub_first_delay = absl::Minutes(10);
  // Backfill of recovering PGs and clean-up of extra copies (recovery.h,
  // docs/chunk-server.md "Recovery"): rate (default 32 MiB/s) and timings.
  RecoveryOptions recovery;
  // How long Stop() lets running requests finish. Default 10 s.
  absl::Duration shutdown_grace = absl::Seconds(10);
};

class ChunkServer {
 public:
  // Opens the store (recovery included), reads the node id, starts the
  // listeners and the meta link. Errors: kInvalid for bad options or data
  // directories of different nodes, kBusy for a directory another process
  // holds, kCorrupt for an unreadable node id file, kUnavailable when an
  // address cannot be bound, kIo for storage failures.
  static absl::StatusOr<std::unique_ptr<ChunkServer>> Start(ChunkServerOptions options);
  ~ChunkServer();  // Stop()
  ChunkServer(const ChunkServer&) = delete;
  ChunkServer& operator=(const ChunkServer&) = delete;

  void Stop();

  // Bound addresses, HOST:PORT.
  const std::string& data_address() const { return data_address_; }
  const std::string& grpc_address() const { return grpc_address_; }
  const std::string& http_address() const { return http_address_; }

  bool registered() const { return link_->registered(); }
  bool WaitRegistered(absl::Duration timeout) const { return link_->WaitRegistered(timeout); }
  NodeId node_id() const { return link_->node_id(); }
  uint64_t map_epoch() const { return link_->epoch(); }

  // What GetStatus answers.
  absl::StatusOr<proto::ChunkNodeStatus> Status();

  chunk::ChunkStore* store() { return store_.get(); }
  ClusterLink* link() { return link_.get(); }
  Scrubber* scrubber() { return scrubber_.get(); }
  Recovery* recovery() { return recovery_.get(); }
  service::MetricsRegistry* metrics() { return &metrics_; }
  const ChunkServerOptions& options() const { return options_; }

 private:
  explicit ChunkServer(ChunkServerOptions options);
  absl::Status Init();
  absl::Status StartGrpc();
  absl::Status StartHttp();
  void OnRequest(const dataplane::DataServerOptions::RequestDone& done);
  // Sets the store and meta gauges from their current values.
  void RefreshGauges();
  absl::StatusOr<NodeUsage> Usage();

  const ChunkServerOptions options_;
  service::MetricsRegistry metrics_;
  std::unique_ptr<chunk::MultiDirChunkStore> store_;
  std::unique_ptr<ClusterLink> link_;
  std::unique_ptr<dataplane::DataServer> data_;
  std::unique_ptr<ChunkNodeService> node_service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<http::HttpServer> http_server_;
  std::unique_ptr<ScrubPeers> scrub_peers_;
  std::unique_ptr<Scrubber> scrubber_;  // started once the link exists
  // Compaction of the volume stores (small_chunk_limit > 0).
  absl::Notification compact_stop_;
  std::thread compactor_;
  std::unique_ptr<Recovery> recovery_;  // started with the link
  std::string data_address_;
  std::string grpc_address_;
  std::string http_address_;
  // The data server's epoch check reads this (null until the link exists).
  std::atomic<ClusterLink*> epoch_checker_{nullptr};

  // Metric series, resolved once.
  service::Family<service::Counter>* errors_ = nullptr;
  service::Counter* requests_[6] = {};  // by Op value (1..5)
  service::Counter* bytes_in_ = nullptr;
  service::Counter* bytes_out_ = nullptr;
  service::Counter* heartbeat_failures_ = nullptr;
  service::Gauge* inflight_ = nullptr;
  service::Gauge* capacity_ = nullptr;
  service::Gauge* available_ = nullptr;
  service::Gauge* used_ = nullptr;
  service::Gauge* chunks_ = nullptr;
  service::Gauge* epoch_ = nullptr;
  service::Gauge* registered_ = nullptr;
  absl::Mutex gauges_mu_;  // RefreshGauges, for the counter catch-up

  absl::Mutex stop_mu_;
  bool stopped_ ABSL_GUARDED_BY(stop_mu_) = false;
};

}  // namespace cairn::chunkserver

// ClusterLink: a chunk server's link to meta's Cluster service
// (proto/cluster.proto): registration, heartbeats, the cached cluster map,
// and the epoch check of the data protocol.
//
// A thread owned by the link:
//  - registers (RegisterRequest with the stored node id, 0 for a new node,
//    the server's addresses, zone, capacity and available bytes); while
//    meta cannot be reached it retries with exponential back-off
//    (retry_min doubling up to retry_max). A new id is handed to
//    `persist_id` before the node counts as registered.
//  - then heartbeats every heartbeat_interval with the store's usage and
//    the load (requests in flight). A reply whose epoch is newer than the
//    cached map's makes it fetch the map (GetClusterMap), as does a data
//    request carrying a newer epoch (CheckEpoch).
//  - a heartbeat answered kNotFound means meta no longer knows the node
//    (its store was lost or replaced): it registers again with its id. If
//    meta refuses that id too (kNotFound), a node whose store is empty
//    registers as a new node and persists the new id; a node holding
//    chunks keeps retrying and reports the error (last_error(), /readyz)
//    rather than give its data another identity.
//  - heartbeats carry the backfill progress from `set_progress` (recovery.h).
//
// FreshMap and PgRecovered are calls made on the caller's thread (the
// recovery job), each with its own deadline.
//
// Ownership and thread-safety: thread-safe. The callbacks run on the link's
// thread and must stay valid until Stop() returns.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "chunk/chunk_store.h"
#include "cluster.grpc.pb.h"
#include "common/ids.h"

namespace cairn::chunkserver {

struct ClusterLinkOptions {
  // Meta's gRPC address, HOST:PORT. Required.
  std::string meta_address;
  // What the node registers with: its bound addresses (data required) and
  // zone (may be empty).
  std::string data_address;
  std::string grpc_address;
  std::string http_address;
  std::string zone;
  // Default 1 s, as docs/cluster.md assumes (meta's down_after is 5 s).
  absl::Duration heartbeat_interval = absl::Seconds(1);
  // Deadline of each call to meta. Default 3 s.
  absl::Duration rpc_timeout = absl::Seconds(3);
  // Back-off between failed registrations: from retry_min, doubling, up to
  // retry_max. Defaults 100 ms and 5 s: a restarted meta is found within
  // 5 s without a flood of attempts while it is away.
  absl::Duration retry_min = absl::Milliseconds(100);
  absl::Duration retry_max = absl::Seconds(5);
};

// What a heartbeat reports.
struct NodeUsage {
  chunk::StoreStats stats;
  double load = 0;  // requests in flight
};

class ClusterLink {
 public:
  using UsageFn = std::function<absl::StatusOr<NodeUsage>()>;
  using PersistFn = std::function<absl::Status(NodeId)>;
  using ProgressFn = std::function<std::vector<proto::PgProgress>()>;

  // `stored_id`: the id from the data directories (invalid: a new node).
  ClusterLink(ClusterLinkOptions options, NodeId stored_id, UsageFn usage, PersistFn persist_id);
  ~ClusterLink();  // Stop()
  ClusterLink(const ClusterLink&) = delete;
  ClusterLink& operator=(const ClusterLink&) = delete;

  // What heartbeats report as backfill progress. Call before Start().
  void set_progress(ProgressFn progress) { progress_ = std::move(progress); }

  // The whole current map from meta (with the nodes' reported epochs and
  // progress), bypassing the cache. On the caller's thread.
  absl::StatusOr<proto::ClusterMap> FreshMap();
  // Cluster.PgRecovered for this node. On the caller's thread.
  absl::Status PgRecovered(uint32_t pg, uint64_t epoch);

  // Starts / stops the thread (Stop cancels a call in progress). Idempotent.
  void Start();
  void Stop();

  // Registered with meta since Start (stays true across failed heartbeats
  // until meta says it does not know the node).
  bool registered() const { return registered_.load(); }
  NodeId node_id() const { return NodeId(node_id_.load()); }
  // Epoch of the cached map; 0 before the first.
  uint64_t epoch() const { return epoch_.load(); }
  // The cached map (nullptr before registration).
  std::shared_ptr<const proto::ClusterMap> map() const;
  // The last failure talking to meta, cleared by the next success.
  std::string last_error() const;
  // Blocks until registered or `timeout` passes; true when registered.
  bool WaitRegistered(absl::Duration timeout) const;
  // Blocks until the cached map's epoch is at least `epoch` (tests).
  bool WaitEpoch(uint64_t epoch, absl::Duration timeout) const;

  // The epoch check of the data server (DataServerOptions::check_epoch):
  // 0 is unchecked (tools); older than the cached map is kStaleEpoch;
  // newer asks for a map fetch and is accepted. Without a map yet every
  // epoch is accepted. Cheap and non-blocking: safe on I/O threads.
  absl::Status CheckEpoch(uint64_t epoch);
  // Asks the thread to fetch the map soon (it has seen `epoch`).
  void RequestRefresh(uint64_t epoch);

  // Counters (monotonic), for metrics and tests.
  uint64_t registrations() const { return registrations_.load(); }
  uint64_t heartbeats() const { return heartbeats_.load(); }
  uint64_t heartbeat_failures() const { return heartbeat_failures_.load(); }
  uint64_t map_fetches() const { return map_fetches_.load(); }

 private:
  void Loop();
  absl::Status Register();
  absl::Status Heartbeat();
  absl::Status FetchMap();
  void InstallMap(proto::ClusterMap map);
  void SetError(const absl::Status& status);
  // Runs one call with the deadline; cancellable by Stop().
  template <typename Req, typename Reply>
  absl::Status Call(grpc::Status (proto::Cluster::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                 Reply*),
                    const Req& req, Reply* reply);
  // Waits until `deadline`, a stop, or (when `wake_on_refresh`) a refresh
  // request. True when stopping.
  bool Sleep(absl::Time deadline, bool wake_on_refresh);

  const ClusterLinkOptions options_;
  const UsageFn usage_;
  const PersistFn persist_id_;
  ProgressFn progress_;
  std::unique_ptr<proto::Cluster::Stub> stub_;

  std::atomic<uint64_t> node_id_;
  std::atomic<bool> registered_{false};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> wanted_epoch_{0};  // seen in requests or replies
  std::atomic<uint64_t> registrations_{0};
  std::atomic<uint64_t> heartbeats_{0};
  std::atomic<uint64_t> heartbeat_failures_{0};
  std::atomic<uint64_t> map_fetches_{0};

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool refresh_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::shared_ptr<const proto::ClusterMap> map_ ABSL_GUARDED_BY(mu_);
  std::string last_error_ ABSL_GUARDED_BY(mu_);

  absl::Mutex thread_mu_;
  std::thread thread_ ABSL_GUARDED_BY(thread_mu_);
};

}  // namespace cairn::chunkserver

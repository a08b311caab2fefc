// DataContext: what every open File of one Client shares: the options, the
// gRPC calls to meta, the cluster map cache, the data-protocol connection
// pool, the background threads (uploads and reads, and the committer of
// uploads left uncommitted too long), and the cluster defaults learned
// from meta.
//
// The threads and ChunkIo are created at the first use of io(), so clients
// that only touch metadata start none.
//
// Ownership and thread-safety: owned by the Client; borrows `rpc`, which
// must outlive it. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "cairn/client.h"
#include "client/chunk_io.h"
#include "client/cluster_map.h"
#include "client/committer.h"
#include "client/rpc.h"
#include "client/task_pool.h"
#include "common.pb.h"
#include "dataplane/data_client.h"

namespace cairn::client {

class DataContext {
 public:
  DataContext(const ClientOptions& options, Rpc* rpc);
  ~DataContext();

  const ClientOptions& options() const { return options_; }
  Rpc& rpc() { return *rpc_; }
  ClusterMapCache& maps() { return maps_; }
  // Starts the threads on first use.
  ChunkIo& io();
  TaskPool& pool();
  Committer& committer();

  // The slot size and replica count a file with stored policy `policy`
  // gets, when known without asking meta for the file's chunks: the
  // policy's own values (meta stores every file's chunk size), else the
  // cluster defaults once learned (LearnDefaults); for replicas, else the
  // cluster map's replica count. 0 when unknown.
  uint64_t ChunkSizeFor(const proto::StoragePolicy& policy) const;
  uint32_t ReplicasFor(const proto::StoragePolicy& policy);
  // Meta answered chunk_size/replicas for a file whose stored policy is
  // `policy`: the fields stored as 0 tell the cluster defaults.
  void LearnDefaults(const proto::StoragePolicy& policy, uint64_t chunk_size, uint32_t replicas);

 private:
  void Start();

  const ClientOptions options_;
  Rpc* const rpc_;
  ClusterMapCache maps_;
  dataplane::DataClient data_;
  std::once_flag started_;
  std::unique_ptr<TaskPool> pool_;        // set once by Start()
  std::unique_ptr<ChunkIo> io_;           // set once by Start()
  std::unique_ptr<Committer> committer_;  // set once by Start()
  std::atomic<uint64_t> default_chunk_size_{0};
  std::atomic<uint32_t> default_replicas_{0};
};

}  // namespace cairn::client

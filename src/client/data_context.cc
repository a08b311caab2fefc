#include "client/data_context.h"

#include <chrono>

namespace cairn::client {
namespace {

dataplane::DataClientOptions DataOptions(const ClientOptions& o) {
  dataplane::DataClientOptions d;
  d.connect_timeout = std::chrono::milliseconds(3'000);
  d.request_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
      absl::ToChronoMilliseconds(std::min(o.timeout, o.data_deadline)));
  // Enough idle connections for the chunks a few files keep in flight.
  d.max_idle_per_address = 16;
  return d;
}

}  // namespace

DataContext::DataContext(const ClientOptions& options, Rpc* rpc)
    : options_(options), rpc_(rpc), maps_(rpc), data_(DataOptions(options)) {}

DataContext::~DataContext() {
  // Every file is closed: the committer holds none. The pool's tasks use
  // io_: stop them first.
  committer_.reset();
  pool_.reset();
}

void DataContext::Start() {
  std::call_once(started_, [this] {
    pool_ = std::make_unique<TaskPool>(options_.data_threads);
    ChunkIoOptions io;
    io.deadline = options_.data_deadline;
    io.parallel_read_min = options_.parallel_read_min;
    io_ = std::make_unique<ChunkIo>(&maps_, &data_, pool_.get(), io);
    committer_ = std::make_unique<Committer>();
  });
}

ChunkIo& DataContext::io() {
  Start();
  return *io_;
}

TaskPool& DataContext::pool() {
  Start();
  return *pool_;
}

Committer& DataContext::committer() {
  Start();
  return *committer_;
}

uint64_t DataContext::ChunkSizeFor(const proto::StoragePolicy& policy) const {
  if (policy.chunk_size() != 0) return policy.chunk_size();
  return default_chunk_size_.load(std::memory_order_relaxed);
}

uint32_t DataContext::ReplicasFor(const proto::StoragePolicy& policy) {
  if (policy.replicas() != 0) return policy.replicas();
  if (uint32_t learned = default_replicas_.load(std::memory_order_relaxed)) return learned;
  // Meta's default is the replica count of the cluster map.
  absl::StatusOr<std::shared_ptr<const MapSnapshot>> map = maps_.Get();
  return map.ok() ? (*map)->replicas() : 0;
}

void DataContext::LearnDefaults(const proto::StoragePolicy& policy, uint64_t chunk_size,
                                uint32_t replicas) {
  if (policy.chunk_size() == 0 && chunk_size != 0) {
    default_chunk_size_.store(chunk_size, std::memory_order_relaxed);
  }
  if (policy.replicas() == 0 && replicas != 0) {
    default_replicas_.store(replicas, std::memory_order_relaxed);
  }
}

}  // namespace cairn::client

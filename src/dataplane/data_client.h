// DataClient: the blocking client side of the data protocol
// (docs/data-protocol.md): writes chunks through a replication chain,
// reads, deletes and inspects chunks on one server.
//
// Connections are pooled per server address and reused; each call uses
// one connection for one request at a time. A call on a pooled connection
// the server has since closed is retried once on a fresh one (every
// operation is idempotent: chunks are immutable).
//
// Errors: the server's typed error (Errc) with the failing server's
// address in the message and in FailedServer(status); kUnavailable when a
// server cannot be reached, kTimeout when the request timeout passes.
//
// Thread-safety: thread-safe; calls from many threads run in parallel on
// separate connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/aligned_buffer.h"
#include "chunk/chunk_id.h"
#include "chunk/chunk_store.h"

namespace cairn::dataplane {

struct DataClientOptions {
  // Default 3 s.
  std::chrono::milliseconds connect_timeout{3'000};
  // Bound on one whole call (connect, send, wait for every replica, receive).
  // Default 30 s; a chain write of a 64 MiB chunk must fit in it.
  std::chrono::milliseconds request_timeout{30'000};
  // Idle connections kept per server. Default 8.
  size_t max_idle_per_address = 8;
};

class DataClient {
 public:
  explicit DataClient(DataClientOptions options = {});
  ~DataClient();
  DataClient(const DataClient&) = delete;
  DataClient& operator=(const DataClient&) = delete;

  // Writes chunk `id` to every server of `chain` (head first). Returns OK
  // only when every server holds the chunk durably. `block_crcs` are the
  // CRC32Cs of the 64 KiB blocks of `data` (computed when omitted).
  absl::Status WriteChunk(std::span<const std::string> chain, ChunkId id,
                          std::span<const uint8_t> data, uint64_t epoch = 0);
  absl::Status WriteChunk(std::span<const std::string> chain, ChunkId id,
                          std::span<const uint8_t> data, std::span<const uint32_t> block_crcs,
                          uint64_t epoch = 0);

  // Reads `length` bytes at `offset` (chunk::kToEnd: to the end) from one
  // server. The bytes arrive verified and in a page-aligned buffer.
  absl::StatusOr<AlignedBuffer> ReadChunk(const std::string& address, ChunkId id, uint64_t offset,
                                          uint64_t length, uint64_t epoch = 0);

  absl::Status DeleteChunk(const std::string& address, ChunkId id, uint64_t epoch = 0);

  // The chunk's length on that server, or Errc::kNotFound.
  absl::StatusOr<uint64_t> ChunkLength(const std::string& address, ChunkId id, uint64_t epoch = 0);

  absl::StatusOr<chunk::StoreStats> Stat(const std::string& address);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The address of the server that failed, when `status` came from a
// DataClient call and names one.
std::optional<std::string> FailedServer(const absl::Status& status);

}  // namespace cairn::dataplane

// DataServer: serves a ChunkStore over the data protocol
// (docs/data-protocol.md) with Boost.Asio.
//
// - One connection per client, requests pipelined: the server reads the
//   next request while earlier ones are still running and answers each as
//   it finishes (replies carry the request id; order is not kept).
// - WRITE_CHUNK with a downstream chain is chain replication: the payload
//   is forwarded to the next server while it is still arriving (streaming,
//   not store-and-forward), stored locally, and acknowledged upstream only
//   when the local copy is durable AND the downstream acknowledged. Any
//   failure (a bad CRC, the local store, the downstream refusing, dying or
//   timing out) becomes an error reply naming the failed hop: never a false
//   acknowledgement.
// - Payloads are received into page-aligned buffers; store calls (which
//   block on disk syncs) run on a separate thread pool, never on the I/O
//   threads.
//
// Thread-safety: Start/Stop/address are thread-safe. The store must
// outlive the server.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/chunk_id.h"
#include "chunk/chunk_store.h"
#include "common/errors.h"
#include "dataplane/protocol.h"

namespace cairn::dataplane {

struct DataServerOptions {
  // "host:port" to listen on; port 0 picks a free port (see address()).
  std::string listen_address = "127.0.0.1:0";
  // Threads running the event loop. Default 2: on small machines the CPU
  // goes to CRC checks and copies, not to the loop.
  int io_threads = 2;
  // Threads for blocking store calls. More lets more Puts share a group
  // commit; default 8.
  int store_threads = 8;
  // A peer that stays silent this long in the middle of a frame, or a
  // downstream server that does not answer a write within it, fails the
  // request. Default 30 s; lower it in tests.
  std::chrono::milliseconds io_timeout{30'000};
  std::chrono::milliseconds connect_timeout{3'000};
  // Requests one connection may have running at once; the server stops
  // reading from the connection at the limit (back-pressure). Default 16.
  int max_inflight_per_connection = 16;
  // Checks the epoch a chunk request was made with (kStaleEpoch to refuse
  // it); STAT is never checked. Empty: every epoch is accepted. Called on the I/O threads: keep it
  // cheap and thread-safe.
  std::function<absl::Status(uint64_t epoch, ChunkId chunk)> check_epoch;
  // What one answered request did, for metrics.
  struct RequestDone {
    Op op = Op::kStat;
    Errc errc = Errc::kOk;   // the reply's status
    uint64_t bytes_in = 0;   // payload received (a stored WRITE_CHUNK)
    uint64_t bytes_out = 0;  // payload sent (a READ_CHUNK reply)
  };
  // Called once per request answered (not for malformed frames, which
  // close the connection). Empty: nothing. Called on the I/O threads: keep
  // it cheap and thread-safe.
  std::function<void(const RequestDone&)> on_request;
  // Called when a READ_CHUNK found the stored copy damaged (the store's Get
  // returned Errc::kCorrupt); the chunk server quarantines and repairs it
  // (chunkserver/scrubber.h). Empty: nothing. Called on a store thread:
  // must not block for long; thread-safe.
  std::function<void(ChunkId chunk)> on_corrupt;
};

class DataServer {
 public:
  // Binds, listens and starts serving `store`.
  static absl::StatusOr<std::unique_ptr<DataServer>> Start(chunk::ChunkStore* store,
                                                           DataServerOptions options);
  // Stops (see Stop).
  ~DataServer();

  // Closes the listener and every connection, waits for running store
  // calls to finish. Requests in flight get no reply. Idempotent.
  void Stop();

  // Graceful stop: closes the listener, refuses every request read from
  // now on with kUnavailable ("shutting down"), waits up to `grace` for the
  // requests already running to be answered, then Stop()s.
  void Shutdown(std::chrono::milliseconds grace);

  // Requests being served right now (read, not yet answered), over all
  // connections: the server's load.
  int64_t inflight() const;

  // "host:port" actually listened on.
  std::string address() const;

  struct Impl;

 private:
  explicit DataServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace cairn::dataplane

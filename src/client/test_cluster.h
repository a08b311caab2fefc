// In-process clusters for client tests: a MetaServer on the memory store
// and ChunkServers on 127.0.0.1 port 0 with short timers, plus a wait for
// every placement group to have a full chain. Tests adjust the returned
// options before starting servers with them.
#pragma once

#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "chunkserver/chunk_server.h"
#include "gtest/gtest.h"
#include "service/meta_server.h"

namespace cairn::testing {

// Meta for `servers` chunk servers: 16 PGs, 3 replicas, chains assigned
// once all of them are up, failure detection ticking every 100 ms.
inline service::MetaServerOptions TestMetaOptions(int servers) {
  service::MetaServerOptions mo;
  mo.store = "memory";
  mo.grpc_listen = "127.0.0.1:0";
  mo.http_listen = "127.0.0.1:0";
  mo.cluster.pg_count = 16;
  mo.cluster.replicas = 3;
  mo.cluster.bootstrap_nodes = static_cast<uint32_t>(servers);
  mo.cluster.tick_interval = absl::Milliseconds(100);
  return mo;
}

// A chunk server on `dir` heartbeating every 100 ms.
inline chunkserver::ChunkServerOptions TestChunkServerOptions(const std::string& meta_address,
                                                              const std::string& dir) {
  chunkserver::ChunkServerOptions o;
  o.meta_address = meta_address;
  o.dirs = {dir};
  o.heartbeat_interval = absl::Milliseconds(100);
  o.retry_min = absl::Milliseconds(20);
  o.retry_max = absl::Milliseconds(200);
  o.shutdown_grace = absl::Seconds(2);
  return o;
}

// Waits (up to 20 s, then fails the test) until every PG's chain has
// `members` nodes.
inline void WaitForFullChains(service::MetaServer& meta, int members) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    proto::ClusterMap map = meta.cluster()->Map();
    bool full = map.pgs_size() > 0;
    for (const auto& pg : map.pgs()) full = full && pg.nodes_size() == members;
    if (full) return;
    ASSERT_LT(absl::Now(), deadline) << "chains never filled";
    absl::SleepFor(absl::Milliseconds(20));
  }
}

}  // namespace cairn::testing

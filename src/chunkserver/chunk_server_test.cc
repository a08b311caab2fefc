// ChunkServer end to end in one process: a real store over scratch
// directories, the data protocol through DataClient, GetStatus over gRPC,
// the HTTP endpoints, against an in-process Cluster service.
#include "chunkserver/chunk_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "chunk.grpc.pb.h"
#include "chunk/test_util.h"
#include "chunkserver/node_id.h"
#include "chunkserver/ready_file.h"
#include "chunkserver/test_meta.h"
#include "common/errors.h"
#include "dataplane/data_client.h"
#include "gtest/gtest.h"
#include "http/http_server.h"
#include "service/grpc_status.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;
using testing::TestMeta;

constexpr absl::Duration kWait = absl::Seconds(10);

// GET `path` from HOST:PORT; returns "status body" or "" on failure.
std::string HttpGet(const std::string& address, const std::string& path) {
  std::string host;
  uint16_t port = 0;
  if (!http::ParseHostPort(address, &host, &port).ok()) return "";
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, host.c_str(), &a.sin_addr);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!::write(fd, req.data(), req.size());
  std::string resp;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) resp.append(buf, static_cast<size_t>(n));
  ::close(fd);
  if (resp.size() < 12) return "";
  size_t body = resp.find("\r\n\r\n");
  return resp.substr(9, 3) + " " + (body == std::string::npos ? "" : resp.substr(body + 4));
}

class ChunkServerTest : public ::testing::Test {
 protected:
  void SetUp() override { meta_.Start(); }

  ChunkServerOptions Options(std::vector<std::string> dirs) {
    ChunkServerOptions o;
    o.meta_address = meta_.address();
    o.dirs = std::move(dirs);
    o.heartbeat_interval = absl::Milliseconds(100);
    o.retry_min = absl::Milliseconds(20);
    o.retry_max = absl::Milliseconds(200);
    o.shutdown_grace = absl::Seconds(5);
    o.data_io_timeout = std::chrono::milliseconds(5000);
    return o;
  }
  std::unique_ptr<ChunkServer> Start(std::vector<std::string> dirs) {
    auto s = ChunkServer::Start(Options(std::move(dirs)));
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    EXPECT_TRUE((*s)->WaitRegistered(kWait)) << (*s)->link()->last_error();
    return std::move(*s);
  }

  ScratchDir scratch_;
  TestMeta meta_;
};

TEST_F(ChunkServerTest, RegistersAndServesChunks) {
  auto server = Start({scratch_.Sub("a"), scratch_.Sub("b")});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->node_id(), NodeId(1));
  // The id is in both directories.
  EXPECT_EQ(LoadNodeId({scratch_.Sub("a")})->id, NodeId(1));
  EXPECT_EQ(LoadNodeId({scratch_.Sub("b")})->id, NodeId(1));
  // Meta knows the bound addresses.
  proto::ClusterMap map = meta_.manager()->Map();
  ASSERT_EQ(map.nodes_size(), 1);
  EXPECT_EQ(map.nodes(0).data_address(), server->data_address());
  EXPECT_EQ(map.nodes(0).grpc_address(), server->grpc_address());
  EXPECT_EQ(map.nodes(0).http_address(), server->http_address());
  EXPECT_GT(map.nodes(0).capacity_bytes(), 0u);

  const uint64_t epoch = server->map_epoch();
  ASSERT_EQ(epoch, meta_.manager()->epoch());
  dataplane::DataClient client;
  const std::vector<std::string> chain = {server->data_address()};
  std::vector<ChunkId> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(ChunkId::Random());
    auto data = TestBytes(100000 + i, i);
    ASSERT_TRUE(client.WriteChunk(chain, ids.back(), data, epoch).ok());
  }
  for (int i = 0; i < 8; ++i) {
    auto got = client.ReadChunk(server->data_address(), ids[i], 0, chunk::kToEnd, epoch);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(std::vector<uint8_t>(got->data(), got->data() + got->size()),
              TestBytes(100000 + i, i));
  }
  // Epoch 0 is unchecked; an older epoch is refused.
  EXPECT_TRUE(client.ChunkLength(server->data_address(), ids[0], 0).ok());
  auto stale = client.ReadChunk(server->data_address(), ids[0], 0, 10, epoch - 1);
  EXPECT_EQ(ErrcOf(stale.status()), Errc::kStaleEpoch) << stale.status();
  EXPECT_EQ(ErrcOf(client.WriteChunk(chain, ChunkId::Random(), TestBytes(10, 1), epoch - 1)),
            Errc::kStaleEpoch);

  // Both directories got chunks (8 random ids: all in one has odds 1/128).
  auto st = server->store()->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunk_count, 8u);

  // GetStatus over gRPC.
  auto stub = proto::ChunkNode::NewStub(
      grpc::CreateChannel(server->grpc_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  proto::ChunkNodeStatus status;
  ASSERT_TRUE(stub->GetStatus(&ctx, proto::GetStatusRequest(), &status).ok());
  EXPECT_EQ(status.node_id(), 1u);
  EXPECT_TRUE(status.registered());
  EXPECT_EQ(status.map_epoch(), epoch);
  EXPECT_EQ(status.chunk_count(), 8u);
  EXPECT_EQ(status.dirs_size(), 2);
  EXPECT_EQ(status.data_address(), server->data_address());

  // HTTP.
  EXPECT_EQ(HttpGet(server->http_address(), "/healthz"), "200 ok\n");
  EXPECT_EQ(HttpGet(server->http_address(), "/readyz"), "200 ready\n");
  std::string metrics = HttpGet(server->http_address(), "/metrics");
  EXPECT_EQ(metrics.substr(0, 3), "200");
  EXPECT_NE(metrics.find("cairn_chunk_requests_total{op=\"WRITE_CHUNK\"} 9"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cairn_chunk_requests_total{op=\"READ_CHUNK\"} 9"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_chunk_errors_total{op=\"READ_CHUNK\",errc=\"StaleEpoch\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("cairn_chunk_store_chunks 8"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_chunk_map_epoch " + std::to_string(epoch)), std::string::npos);
  EXPECT_NE(metrics.find("cairn_chunk_registered 1"), std::string::npos);
  uint64_t written = 0;
  for (int i = 0; i < 8; ++i) written += 100000 + i;
  EXPECT_NE(metrics.find("cairn_chunk_bytes_in_total " + std::to_string(written)),
            std::string::npos);
  server->Stop();
}

TEST_F(ChunkServerTest, RestartKeepsTheNodeIdAndTheChunks) {
  const std::vector<std::string> dirs = {scratch_.Sub("a")};
  ChunkId id = ChunkId::Random();
  {
    auto server = Start(dirs);
    ASSERT_NE(server, nullptr);
    dataplane::DataClient client;
    ASSERT_TRUE(client.WriteChunk({{server->data_address()}}, id, TestBytes(5000, 1)).ok());
  }
  auto server = Start(dirs);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->node_id(), NodeId(1));
  EXPECT_EQ(meta_.manager()->Map().nodes_size(), 1);
  dataplane::DataClient client;
  auto got = client.ReadChunk(server->data_address(), id, 0, chunk::kToEnd);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 5000u);
}

TEST_F(ChunkServerTest, DirectoriesOfTwoNodesAreRefused) {
  { ASSERT_NE(Start({scratch_.Sub("a")}), nullptr); }
  { ASSERT_NE(Start({scratch_.Sub("b")}), nullptr); }
  auto s = ChunkServer::Start(Options({scratch_.Sub("a"), scratch_.Sub("b")}));
  EXPECT_EQ(ErrcOf(s.status()), Errc::kInvalid) << s.status();
  // A directory added to a node gets the node's id.
  auto server = Start({scratch_.Sub("a"), scratch_.Sub("c")});
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->node_id(), NodeId(1));
  EXPECT_EQ(LoadNodeId({scratch_.Sub("c")})->id, NodeId(1));
}

TEST_F(ChunkServerTest, ADirectoryHeldByAnotherServerIsBusy) {
  auto server = Start({scratch_.Sub("a")});
  ASSERT_NE(server, nullptr);
  auto s = ChunkServer::Start(Options({scratch_.Sub("a")}));
  EXPECT_EQ(ErrcOf(s.status()), Errc::kBusy) << s.status();
}

TEST_F(ChunkServerTest, NotReadyUntilMetaAnswers) {
  meta_.Stop();
  auto s = ChunkServer::Start(Options({scratch_.Sub("a")}));
  ASSERT_TRUE(s.ok()) << s.status();
  auto& server = *s;
  EXPECT_FALSE(server->WaitRegistered(absl::Milliseconds(300)));
  std::string ready = HttpGet(server->http_address(), "/readyz");
  EXPECT_EQ(ready.substr(0, 3), "503") << ready;
  EXPECT_NE(ready.find("not registered with meta"), std::string::npos) << ready;
  EXPECT_EQ(HttpGet(server->http_address(), "/healthz"), "200 ok\n");
  meta_.Start();  // the same port
  ASSERT_TRUE(server->WaitRegistered(kWait)) << server->link()->last_error();
  EXPECT_EQ(HttpGet(server->http_address(), "/readyz"), "200 ready\n");
}

TEST_F(ChunkServerTest, ReadyFile) {
  auto server = Start({scratch_.Sub("a")});
  ASSERT_NE(server, nullptr);
  const std::string path = scratch_.Sub("ready.json");
  ASSERT_TRUE(WriteReadyFile(path, *server).ok());
  std::ifstream in(path);
  nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["data"], server->data_address());
  EXPECT_EQ(j["grpc"], server->grpc_address());
  EXPECT_EQ(j["http"], server->http_address());
  EXPECT_EQ(j["node_id"], 1);
  EXPECT_EQ(j["pid"], ::getpid());
}

TEST_F(ChunkServerTest, StopRefusesNewRequestsAndFreesTheDirectories) {
  const std::vector<std::string> dirs = {scratch_.Sub("a")};
  auto server = Start(dirs);
  ASSERT_NE(server, nullptr);
  const std::string data = server->data_address();
  const absl::Time t0 = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));  // idle: no grace needed
  dataplane::DataClientOptions co;
  co.connect_timeout = std::chrono::milliseconds(500);
  co.request_timeout = std::chrono::milliseconds(2000);
  dataplane::DataClient client(co);
  EXPECT_FALSE(client.Stat(data).ok());
  server.reset();
  // The directories are free for the next process.
  auto again = Start(dirs);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->node_id(), NodeId(1));
}

}  // namespace
}  // namespace cairn::chunkserver

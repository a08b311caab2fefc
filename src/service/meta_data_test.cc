// The file-data and policy RPCs of the metadata service, and the Cluster
// service it serves beside them: the real MetaServer (gRPC + HTTP on
// 127.0.0.1 port 0, MemoryStore) driven with raw stubs.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "cluster.grpc.pb.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta.grpc.pb.h"
#include "service/cluster_stats.h"
#include "service/grpc_status.h"
#include "service/meta_server.h"

namespace cairn::service {
namespace {

// GET http://address/target; returns the body ("" on failure).
std::string HttpGet(const std::string& address, const std::string& target) {
  uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  size_t body = out.find("\r\n\r\n");
  return body == std::string::npos ? "" : out.substr(body + 4);
}

std::string Id(uint64_t n) {
  std::string id(16, '\x01');
  for (int i = 0; i < 8; ++i) id[15 - i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return id;
}

class MetaDataTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(absl::Seconds(5)); }

  void StartServer(absl::Duration down_after, absl::Duration gc_grace = absl::Hours(24)) {
    MetaServerOptions options;
    options.gc.grace = gc_grace;
    options.store = "memory";
    options.grpc_listen = "127.0.0.1:0";
    options.http_listen = "127.0.0.1:0";
    options.shutdown_grace = absl::Seconds(2);
    options.cluster.pg_count = 8;
    options.cluster.replicas = 3;
    options.cluster.down_after = down_after;
    options.cluster.tick_interval = absl::Milliseconds(20);
    auto server = MetaServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials());
    meta_ = proto::Meta::NewStub(channel);
    cluster_ = proto::Cluster::NewStub(channel);
  }

  template <typename Stub, typename Req, typename Reply>
  absl::Status Call(Stub* stub,
                    grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Reply*),
                    const Req& req, Reply* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = (stub->*method)(&ctx, req, reply);
    return FromGrpcStatus(s, ctx);
  }

  absl::StatusOr<proto::PolicyReply> SetPolicy(const std::string& path, uint32_t replicas,
                                               uint64_t chunk_size) {
    proto::SetPolicyRequest req;
    req.mutable_target()->set_path(path);
    req.mutable_policy()->set_replicas(replicas);
    req.mutable_policy()->set_chunk_size(chunk_size);
    proto::PolicyReply reply;
    absl::Status s = Call(meta_.get(), &proto::Meta::Stub::SetPolicy, req, &reply);
    if (!s.ok()) return s;
    return reply;
  }
  absl::StatusOr<proto::PolicyReply> GetPolicy(const std::string& path) {
    proto::GetPolicyRequest req;
    req.mutable_target()->set_path(path);
    proto::PolicyReply reply;
    absl::Status s = Call(meta_.get(), &proto::Meta::Stub::GetPolicy, req, &reply);
    if (!s.ok()) return s;
    return reply;
  }
  proto::Attr Create(const std::string& parent, const std::string& name) {
    proto::CreateRequest req;
    req.mutable_parent()->set_path(parent);
    req.set_name(name);
    req.set_mode(0644);
    proto::AttrReply reply;
    EXPECT_TRUE(Call(meta_.get(), &proto::Meta::Stub::Create, req, &reply).ok());
    return reply.attr();
  }
  absl::StatusOr<proto::GetChunksReply> GetChunks(uint64_t ino, uint64_t first = 0,
                                                  uint32_t max = 0) {
    proto::GetChunksRequest req;
    req.mutable_target()->set_ino(ino);
    req.set_first_slot(first);
    req.set_max_slots(max);
    proto::GetChunksReply reply;
    absl::Status s = Call(meta_.get(), &proto::Meta::Stub::GetChunks, req, &reply);
    if (!s.ok()) return s;
    return reply;
  }
  absl::StatusOr<proto::CommitWriteReply> Commit(const proto::CommitWriteRequest& req) {
    proto::CommitWriteReply reply;
    absl::Status s = Call(meta_.get(), &proto::Meta::Stub::CommitWrite, req, &reply);
    if (!s.ok()) return s;
    return reply;
  }
  static proto::CommitWriteRequest OneSlot(uint64_t ino, uint64_t slot, const std::string& expected,
                                           const std::string& id, uint64_t length) {
    proto::CommitWriteRequest req;
    req.set_ino(ino);
    proto::SlotUpdate* u = req.add_updates();
    u->set_slot(slot);
    u->set_expected_id(expected);
    u->mutable_chunk()->set_id(id);
    u->mutable_chunk()->set_length(length);
    req.set_min_size(slot * (8 << 20) + length);
    return req;
  }
  absl::StatusOr<proto::StatfsReply> Statfs() {
    proto::StatfsReply reply;
    absl::Status s = Call(meta_.get(), &proto::Meta::Stub::Statfs, proto::StatfsRequest(), &reply);
    if (!s.ok()) return s;
    return reply;
  }
  absl::StatusOr<uint64_t> Register(const std::string& data, uint64_t capacity,
                                    uint64_t available) {
    proto::RegisterRequest req;
    req.set_data_address(data);
    req.set_capacity_bytes(capacity);
    req.set_available_bytes(available);
    proto::RegisterReply reply;
    absl::Status s = Call(cluster_.get(), &proto::Cluster::Stub::Register, req, &reply);
    if (!s.ok()) return s;
    return reply.node_id();
  }

  std::unique_ptr<MetaServer> server_;
  std::unique_ptr<proto::Meta::Stub> meta_;
  std::unique_ptr<proto::Cluster::Stub> cluster_;
};

TEST_F(MetaDataTest, PoliciesWithEffectiveValues) {
  auto p = GetPolicy("/");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->policy().replicas(), 0u);
  EXPECT_EQ(p->policy().chunk_size(), 0u);
  EXPECT_EQ(p->effective().replicas(), 3u);  // the cluster's
  EXPECT_EQ(p->effective().chunk_size(), uint64_t{8} << 20);

  p = SetPolicy("/", 2, 1 << 20);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->policy().replicas(), 2u);
  EXPECT_EQ(p->effective().replicas(), 2u);
  EXPECT_EQ(p->effective().chunk_size(), 1u << 20);
  auto f = Create("/", "f");
  p = GetPolicy("/f");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->policy().chunk_size(), 1u << 20);

  auto over = SetPolicy("/", 4, 0);
  EXPECT_EQ(ErrcOf(over.status()), Errc::kInvalid);
  EXPECT_NE(over.status().message().find("at most 3 replicas in this cluster"),
            absl::string_view::npos)
      << over.status();
  EXPECT_EQ(ErrcOf(SetPolicy("/", 1, 12345).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(SetPolicy("/f", 1, 0).status()), Errc::kNotDir);
  EXPECT_EQ(ErrcOf(GetPolicy("/nope").status()), Errc::kNotFound);
  proto::SetPolicyRequest no_policy;
  no_policy.mutable_target()->set_path("/");
  proto::PolicyReply reply;
  EXPECT_EQ(ErrcOf(Call(meta_.get(), &proto::Meta::Stub::SetPolicy, no_policy, &reply)),
            Errc::kInvalid);
}

TEST_F(MetaDataTest, CommitWriteAndGetChunks) {
  auto f = Create("/", "f");
  EXPECT_EQ(f.policy().chunk_size(), uint64_t{8} << 20);
  auto c = Commit(OneSlot(f.ino(), 1, "", Id(1), 100));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->attr().size(), (8u << 20) + 100);

  auto g = GetChunks(f.ino());
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->attr().ino(), f.ino());
  EXPECT_EQ(g->chunk_size(), uint64_t{8} << 20);
  EXPECT_EQ(g->replicas(), 3u);
  EXPECT_EQ(g->cluster_epoch(), server_->cluster()->epoch());
  EXPECT_GE(g->cluster_epoch(), 1u);
  ASSERT_EQ(g->chunks_size(), 2);
  EXPECT_TRUE(g->chunks(0).id().empty());
  EXPECT_EQ(g->chunks(1).id(), Id(1));
  EXPECT_EQ(g->chunks(1).length(), 100u);
  g = GetChunks(f.ino(), 1, 1);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->first_slot(), 1u);
  ASSERT_EQ(g->chunks_size(), 1);

  // Stale expected id: a typed conflict, nothing changes.
  auto stale = Commit(OneSlot(f.ino(), 1, Id(7), Id(2), 100));
  EXPECT_EQ(ErrcOf(stale.status()), Errc::kConflict);
  EXPECT_NE(stale.status().message().find("slot 1 of inode"), absl::string_view::npos);
  EXPECT_EQ(GetChunks(f.ino())->chunks(1).id(), Id(1));
  // Replace it.
  ASSERT_TRUE(Commit(OneSlot(f.ino(), 1, Id(1), Id(2), 200)).ok());
  EXPECT_EQ(GetChunks(f.ino())->chunks(1).id(), Id(2));
  auto queued = server_->ns()->ListGcQueue("", 0);
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 1u);
  EXPECT_EQ((*queued)[0].entry.chunk_ids(0), Id(1));

  // Bad requests.
  EXPECT_EQ(ErrcOf(Commit(OneSlot(0, 0, "", Id(3), 1)).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(Commit(OneSlot(f.ino(), 0, "", "short", 1)).status()), Errc::kInvalid);
  auto no_chunk = OneSlot(f.ino(), 0, "", Id(3), 1);
  no_chunk.mutable_updates(0)->clear_chunk();
  EXPECT_EQ(ErrcOf(Commit(no_chunk).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(Commit(OneSlot(1, 0, "", Id(3), 1)).status()), Errc::kIsDir);
  EXPECT_EQ(ErrcOf(GetChunks(1).status()), Errc::kIsDir);
  EXPECT_EQ(ErrcOf(GetChunks(987654).status()), Errc::kNotFound);
  proto::GetChunksRequest no_target;
  proto::GetChunksReply reply;
  EXPECT_EQ(ErrcOf(Call(meta_.get(), &proto::Meta::Stub::GetChunks, no_target, &reply)),
            Errc::kInvalid);
}

TEST(MaxUploadAgeTest, IsTheGraceMinusAMargin) {
  EXPECT_EQ(gc::MaxUploadAge(absl::Hours(24)), absl::Minutes(1296));  // 21.6 h
  EXPECT_EQ(gc::MaxUploadAge(absl::Hours(1)), absl::Minutes(54));
  EXPECT_EQ(gc::MaxUploadAge(absl::Minutes(10)), absl::Minutes(9));
  EXPECT_EQ(gc::MaxUploadAge(absl::Minutes(2)), absl::Seconds(90));
  EXPECT_EQ(gc::MaxUploadAge(absl::Seconds(10)), absl::Milliseconds(7500));
  // A grace of 0 protects nothing: no limit.
  EXPECT_EQ(gc::MaxUploadAge(absl::ZeroDuration()), absl::InfiniteDuration());
}

TEST_F(MetaDataTest, CommitWriteRefusesUploadsTheGcGraceNoLongerCovers) {
  // The default grace (24 h): the limit is 21.6 h.
  auto f = Create("/", "f");
  auto day = OneSlot(f.ino(), 0, "", Id(1), 100);
  day.set_upload_age_ms(22 * 3600 * 1000);
  EXPECT_EQ(ErrcOf(Commit(day).status()), Errc::kStaleUpload);
  day.set_upload_age_ms(21 * 3600 * 1000);
  ASSERT_TRUE(Commit(day).ok());

  // A grace of 100 s: the limit is 75 s.
  server_.reset();
  StartServer(absl::Seconds(5), absl::Seconds(100));
  f = Create("/", "f");
  ASSERT_TRUE(Commit(OneSlot(f.ino(), 0, "", Id(1), 100)).ok());
  auto old = OneSlot(f.ino(), 0, Id(1), Id(2), 300);
  for (uint64_t age : {uint64_t{75'000}, uint64_t{3'600'000}, UINT64_MAX}) {
    old.set_upload_age_ms(age);
    auto refused = Commit(old);
    EXPECT_EQ(ErrcOf(refused.status()), Errc::kStaleUpload) << age << ": " << refused.status();
    EXPECT_EQ(ToErrno(refused.status()), EIO);
    EXPECT_NE(refused.status().message().find("limit of 75000 ms"), absl::string_view::npos)
        << refused.status();
  }
  // Nothing changed: the old chunk, the old size, nothing released.
  auto g = GetChunks(f.ino());
  ASSERT_TRUE(g.ok()) << g.status();
  ASSERT_EQ(g->chunks_size(), 1);
  EXPECT_EQ(g->chunks(0).id(), Id(1));
  EXPECT_EQ(g->chunks(0).length(), 100u);
  EXPECT_EQ(g->attr().size(), 100u);
  auto queued = server_->ns()->ListGcQueue("", 0);
  ASSERT_TRUE(queued.ok());
  EXPECT_TRUE(queued->empty());

  // Just under the limit: applied.
  old.set_upload_age_ms(74'999);
  auto fresh = Commit(old);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(fresh->attr().size(), 300u);
  EXPECT_EQ(GetChunks(f.ino())->chunks(0).id(), Id(2));
  // 0 (unknown: a client older than the field) is accepted as before.
  auto unknown = OneSlot(f.ino(), 0, Id(2), Id(3), 400);
  ASSERT_TRUE(Commit(unknown).ok());
  EXPECT_EQ(GetChunks(f.ino())->chunks(0).id(), Id(3));
}

TEST_F(MetaDataTest, ClusterServiceStatfsAndMetrics) {
  const uint64_t epoch0 = server_->cluster()->epoch();
  auto before = Statfs();
  ASSERT_TRUE(before.ok());
  EXPECT_EQ(before->total_bytes(), 0u);  // memory store, nobody reported

  auto n1 = Register("127.0.0.1:7001", 1000, 600);
  ASSERT_TRUE(n1.ok()) << n1.status();
  auto n2 = Register("127.0.0.1:7002", 500, 100);
  ASSERT_TRUE(n2.ok()) << n2.status();
  EXPECT_GT(server_->cluster()->epoch(), epoch0);
  auto g = GetChunks(Create("/", "f").ino());
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->cluster_epoch(), server_->cluster()->epoch());

  auto s = Statfs();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->total_bytes(), 1500u);
  EXPECT_EQ(s->free_bytes(), 700u);
  EXPECT_EQ(s->avail_bytes(), 700u);

  const std::string metrics = HttpGet(server_->http_address(), "/metrics");
  EXPECT_NE(metrics.find("cairn_cluster_epoch " + std::to_string(server_->cluster()->epoch())),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("cairn_cluster_nodes{state=\"up\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_cluster_nodes{state=\"down\"} 0"), std::string::npos);
  // 2 nodes, 3 replicas: every one of the 8 chains is short.
  EXPECT_NE(metrics.find("cairn_cluster_pgs_degraded 8"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_cluster_pgs_unavailable 0"), std::string::npos);
  EXPECT_NE(metrics.find("cairn_cluster_requests_total{op=\"Register\"} 2"), std::string::npos);
}

TEST_F(MetaDataTest, FailureDetectorRunsInsideMeta) {
  server_.reset();
  StartServer(absl::Milliseconds(200));
  ASSERT_TRUE(Register("127.0.0.1:7001", 1000, 600).ok());
  EXPECT_EQ(Statfs()->total_bytes(), 1000u);
  // No heartbeats: the node goes down within a few ticks.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string metrics;
  while (std::chrono::steady_clock::now() < deadline) {
    metrics = HttpGet(server_->http_address(), "/metrics");
    if (metrics.find("cairn_cluster_nodes{state=\"down\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_NE(metrics.find("cairn_cluster_nodes{state=\"down\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("cairn_cluster_pgs_unavailable 8"), std::string::npos);
  // No UP node reports capacity: back to the namespace's (none here).
  EXPECT_EQ(Statfs()->total_bytes(), 0u);
  EXPECT_TRUE(server_->Shutdown().ok());
}

TEST(ClusterStatsTest, Summarize) {
  proto::ClusterMap map;
  map.set_epoch(7);
  map.set_replicas(2);
  auto add = [&](uint64_t id, proto::NodeState state, uint64_t cap, uint64_t avail) {
    auto* n = map.add_nodes();
    n->set_id(id);
    n->set_state(state);
    n->set_capacity_bytes(cap);
    n->set_available_bytes(avail);
  };
  add(1, proto::NODE_UP, 100, 40);
  add(2, proto::NODE_UP, 0, 0);  // has not reported
  add(3, proto::NODE_DOWN, 1000, 1000);
  map.add_pgs()->add_nodes(1);
  auto* full = map.add_pgs();
  full->add_nodes(1);
  full->add_nodes(2);
  map.add_pgs();
  ClusterStats s = Summarize(map);
  EXPECT_EQ(s.epoch, 7u);
  EXPECT_EQ(s.nodes_by_state[proto::NODE_UP], 2u);
  EXPECT_EQ(s.nodes_by_state[proto::NODE_DOWN], 1u);
  EXPECT_EQ(s.reporting_nodes, 1u);
  EXPECT_EQ(s.capacity_bytes, 100u);
  EXPECT_EQ(s.available_bytes, 40u);
  EXPECT_EQ(s.pgs_degraded, 2u);
  EXPECT_EQ(s.pgs_unavailable, 1u);
}

}  // namespace
}  // namespace cairn::service

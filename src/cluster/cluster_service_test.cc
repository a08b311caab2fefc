// The Cluster gRPC service over a real server on 127.0.0.1:0 (MemoryStore,
// ManualClock), driven with the generated stub; malformed requests must
// fail with typed kInvalid and change nothing.
#include "cluster/cluster_service.h"

#include <cmath>
#include <limits>

#include <grpcpp/grpcpp.h>

#include "cluster/validate.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "service/grpc_status.h"
#include "store/memory_store.h"

namespace cairn::cluster {
namespace {

class ClusterServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.pg_count = 32;
    auto m = ClusterManager::Open(&store_, &clock_, o);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    service_ = std::make_unique<ClusterService>(manager_.get(), &metrics_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = proto::Cluster::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                                        grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  template <typename Req, typename Reply>
  absl::Status Call(grpc::Status (proto::Cluster::Stub::*method)(grpc::ClientContext*, const Req&,
                                                                 Reply*),
                    const Req& req, Reply* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = (stub_.get()->*method)(&ctx, req, reply);
    return service::FromGrpcStatus(s, ctx);
  }
  absl::StatusOr<proto::RegisterReply> Register(const proto::RegisterRequest& req) {
    proto::RegisterReply reply;
    absl::Status s = Call(&proto::Cluster::Stub::Register, req, &reply);
    if (!s.ok()) return s;
    return reply;
  }
  static proto::RegisterRequest Good(const std::string& data = "127.0.0.1:7001") {
    proto::RegisterRequest req;
    req.set_data_address(data);
    req.set_grpc_address("127.0.0.1:7101");
    req.set_http_address("localhost:7201");
    req.set_zone("zone-a");
    req.set_capacity_bytes(1 << 30);
    return req;
  }

  store::MemoryStore store_;
  ManualClock clock_;
  service::MetricsRegistry metrics_;
  std::unique_ptr<ClusterManager> manager_;
  std::unique_ptr<ClusterService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<proto::Cluster::Stub> stub_;
};

TEST_F(ClusterServiceTest, RegisterHeartbeatMap) {
  auto r = Register(Good());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->node_id(), 1u);
  EXPECT_EQ(r->map().epoch(), 2u);
  EXPECT_EQ(r->map().pg_count(), 32u);
  ASSERT_EQ(r->map().nodes_size(), 1);
  EXPECT_EQ(r->map().nodes(0).state(), proto::NODE_UP);
  EXPECT_EQ(r->map().pgs_size(), 32);

  proto::HeartbeatRequest hb;
  hb.set_node_id(1);
  hb.set_used_bytes(5);
  hb.set_load(1.5);
  proto::HeartbeatReply hbr;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr).ok());
  EXPECT_EQ(hbr.epoch(), 2u);

  proto::GetClusterMapRequest get;
  proto::ClusterMap map;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::GetClusterMap, get, &map).ok());
  EXPECT_EQ(map.epoch(), 2u);
  EXPECT_EQ(map.pgs_size(), 32);
  EXPECT_EQ(map.nodes(0).used_bytes(), 5u);
  // Known epoch: only the epoch comes back.
  get.set_known_epoch(2);
  proto::ClusterMap same;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::GetClusterMap, get, &same).ok());
  EXPECT_EQ(same.epoch(), 2u);
  EXPECT_EQ(same.pgs_size(), 0);
  EXPECT_EQ(same.nodes_size(), 0);
  get.set_known_epoch(1);
  proto::ClusterMap older;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::GetClusterMap, get, &older).ok());
  EXPECT_EQ(older.pgs_size(), 32);

  // Re-register with the id: same node.
  proto::RegisterRequest again = Good();
  again.set_node_id(1);
  auto r2 = Register(again);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(r2->node_id(), 1u);
}

TEST_F(ClusterServiceTest, MalformedRegisterRejected) {
  std::vector<proto::RegisterRequest> bad;
  bad.push_back(Good(""));
  bad.push_back(Good("127.0.0.1"));
  bad.push_back(Good("127.0.0.1:0"));
  bad.push_back(Good("127.0.0.1:99999"));
  bad.push_back(Good("bad host:80"));
  bad.push_back(Good(std::string(300, 'a') + ":80"));
  auto b = Good();
  b.set_grpc_address("nope");
  bad.push_back(b);
  b = Good();
  b.set_http_address(":80");
  bad.push_back(b);
  b = Good();
  b.set_zone("zone a");
  bad.push_back(b);
  b = Good();
  b.set_zone(std::string(65, 'z'));
  bad.push_back(b);
  for (const auto& req : bad) {
    auto r = Register(req);
    EXPECT_EQ(ErrcOf(r.status()), Errc::kInvalid) << req.ShortDebugString() << " " << r.status();
  }
  EXPECT_EQ(manager_->epoch(), 1u);  // nothing changed
  EXPECT_EQ(manager_->Map().nodes_size(), 0);

  proto::RegisterRequest unknown = Good();
  unknown.set_node_id(42);
  EXPECT_EQ(ErrcOf(Register(unknown).status()), Errc::kNotFound);
}

TEST_F(ClusterServiceTest, MalformedHeartbeatAndReportsRejected) {
  ASSERT_TRUE(Register(Good()).ok());
  proto::HeartbeatReply hbr;
  proto::HeartbeatRequest hb;  // node 0
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr)), Errc::kInvalid);
  hb.set_node_id(1);
  hb.set_load(std::nan(""));
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr)), Errc::kInvalid);
  hb.set_load(-1);
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr)), Errc::kInvalid);
  hb.set_load(std::numeric_limits<double>::infinity());
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr)), Errc::kInvalid);
  hb.set_load(0);
  hb.set_node_id(2);
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::Heartbeat, hb, &hbr)), Errc::kNotFound);

  proto::ReportReply rr;
  proto::ReportBadChunkRequest bc;
  bc.set_chunk_id("short");
  bc.set_node_id(1);
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kInvalid);
  bc.set_chunk_id(std::string(16, '\0'));
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kInvalid);
  bc.set_chunk_id(ChunkIdToBytes(ChunkId{1, 2}));
  bc.set_node_id(0);
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kInvalid);
  bc.set_node_id(1);
  bc.set_reason(std::string(2000, 'x'));
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kInvalid);
  bc.set_reason("crc\nmismatch");
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kInvalid);
  bc.set_node_id(7);
  bc.set_reason("crc mismatch");
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr)), Errc::kNotFound);
  EXPECT_EQ(service_->bad_chunk_reports(), 0u);
  bc.set_node_id(1);
  ASSERT_TRUE(Call(&proto::Cluster::Stub::ReportBadChunk, bc, &rr).ok());
  EXPECT_EQ(rr.epoch(), 2u);
  EXPECT_EQ(service_->bad_chunk_reports(), 1u);
  EXPECT_NE(metrics_.Render().find("cairn_cluster_bad_chunk_reports_total 1"), std::string::npos);

  proto::ReportNodeFailureRequest nf;
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportNodeFailure, nf, &rr)), Errc::kInvalid);
  nf.set_node_id(1);
  nf.set_reason(std::string(1025, 'r'));
  EXPECT_EQ(ErrcOf(Call(&proto::Cluster::Stub::ReportNodeFailure, nf, &rr)), Errc::kInvalid);
  EXPECT_EQ(manager_->epoch(), 2u);
}

TEST_F(ClusterServiceTest, ReportedNodeWithLateHeartbeatGoesDown) {
  ASSERT_TRUE(Register(Good("127.0.0.1:7001")).ok());
  ASSERT_TRUE(Register(Good("127.0.0.1:7002")).ok());
  clock_.Advance(2'000'000'000);
  proto::ReportNodeFailureRequest nf;
  nf.set_node_id(2);
  nf.set_reason("connection refused");
  proto::ReportReply rr;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::ReportNodeFailure, nf, &rr).ok());
  EXPECT_EQ(rr.epoch(), 4u);
  proto::ClusterMap map;
  ASSERT_TRUE(Call(&proto::Cluster::Stub::GetClusterMap, proto::GetClusterMapRequest(), &map).ok());
  EXPECT_EQ(map.nodes(1).state(), proto::NODE_DOWN);
  for (const auto& pg : map.pgs()) {
    ASSERT_EQ(pg.nodes_size(), 1);
    EXPECT_EQ(pg.nodes(0), 1u);
  }
  EXPECT_NE(metrics_.Render().find("cairn_cluster_requests_total{op=\"ReportNodeFailure\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace cairn::cluster

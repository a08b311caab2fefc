// Test-only: a Cluster service on 127.0.0.1 (a ClusterManager over a
// MemoryStore behind a real gRPC server), standing in for meta. It can be
// stopped and started again on the same port, with or without its store
// (a meta that lost its state).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "cluster/cluster_manager.h"
#include "cluster/cluster_service.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"

namespace cairn::chunkserver::testing {

// A port that was free a moment ago on 127.0.0.1.
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    ::close(fd);
    return 0;
  }
  ::close(fd);
  return ntohs(a.sin_port);
}

class TestMeta {
 public:
  explicit TestMeta(cluster::ClusterOptions options = {}) : options_(options) {
    options_.pg_count = options.pg_count == 256 ? 16 : options.pg_count;
  }
  ~TestMeta() { Stop(); }

  // Starts serving on `port` (0: any free port; later starts reuse it).
  // `fresh_store`: forget everything stored so far.
  void Start(int port = 0, bool fresh_store = false) {
    if (fresh_store || !store_) store_ = std::make_unique<store::MemoryStore>();
    auto m = cluster::ClusterManager::Open(store_.get(), Clock::Real(), options_);
    ASSERT_TRUE(m.ok()) << m.status();
    manager_ = std::move(*m);
    service_ = std::make_unique<cluster::ClusterService>(manager_.get(), &metrics_);
    grpc::ServerBuilder builder;
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    int bound = 0;
    if (port == 0) port = port_;
    builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                             &bound);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(bound, 0);
    port_ = bound;
  }
  void Stop() {
    if (server_) {
      server_->Shutdown(std::chrono::system_clock::now());
      server_->Wait();
    }
    server_.reset();
    service_.reset();
    manager_.reset();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  cluster::ClusterManager* manager() { return manager_.get(); }

 private:
  cluster::ClusterOptions options_;
  int port_ = 0;
  std::unique_ptr<store::MemoryStore> store_;
  service::MetricsRegistry metrics_;
  std::unique_ptr<cluster::ClusterManager> manager_;
  std::unique_ptr<cluster::ClusterService> service_;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace cairn::chunkserver::testing

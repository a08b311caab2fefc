#include "http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::http {
namespace {

// Sends `data` on a fresh connection to 127.0.0.1:port and returns all the
// server sends back until it closes the connection.
std::string Exchange(uint16_t port, const std::string& data) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early on a bad request
    sent += static_cast<size_t>(n);
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

std::string Get(uint16_t port, const std::string& target) {
  return Exchange(port, "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
}

int StatusOf(const std::string& response) {
  // "HTTP/1.1 200 OK"
  if (response.size() < 12) return -1;
  return std::stoi(response.substr(9, 3));
}

std::string BodyOf(const std::string& response) {
  size_t p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    HttpServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.max_body_bytes = 1024;
    options.max_header_bytes = 2048;
    server_ = std::make_unique<HttpServer>(options);
    server_->Handle("/healthz", [](const Request&) { return Response{200, "text/plain", "ok\n"}; });
    server_->Handle("/echo", [this](const Request& r) {
      ++calls_;
      return Response{201, "text/plain", r.method + " " + r.path + " " + r.query + " " + r.body};
    });
    ASSERT_TRUE(server_->Start().ok());
    ASSERT_NE(server_->port(), 0);
  }

  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
};

TEST_F(HttpServerTest, ServesRegisteredPath) {
  std::string r = Get(server_->port(), "/healthz");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_EQ(BodyOf(r), "ok\n");
  EXPECT_NE(r.find("Content-Length: 3"), std::string::npos) << r;
  EXPECT_EQ(server_->address(), "127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(HttpServerTest, PassesMethodQueryAndBody) {
  std::string r = Exchange(server_->port(),
                           "POST /echo?a=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                           "Connection: close\r\n\r\nhello");
  EXPECT_EQ(StatusOf(r), 201) << r;
  EXPECT_EQ(BodyOf(r), "POST /echo a=1 hello");
}

TEST_F(HttpServerTest, HeadHasLengthButNoBody) {
  std::string r =
      Exchange(server_->port(), "HEAD /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 200) << r;
  EXPECT_NE(r.find("Content-Length: 3"), std::string::npos) << r;
  EXPECT_EQ(BodyOf(r), "");
}

TEST_F(HttpServerTest, KeepAliveServesSeveralRequests) {
  std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string last = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  std::string r = Exchange(server_->port(), one + one + last);
  size_t count = 0;
  for (size_t p = r.find("HTTP/1.1 200"); p != std::string::npos;
       p = r.find("HTTP/1.1 200", p + 1)) {
    ++count;
  }
  EXPECT_EQ(count, 3u) << r;
}

TEST_F(HttpServerTest, UnknownPathIs404) {
  EXPECT_EQ(StatusOf(Get(server_->port(), "/nope")), 404);
  EXPECT_EQ(StatusOf(Get(server_->port(), "/healthz/x")), 404);
}

TEST_F(HttpServerTest, GarbageIs400) {
  EXPECT_EQ(StatusOf(Exchange(server_->port(), "GARBAGE\r\n\r\n")), 400);
  EXPECT_EQ(StatusOf(Exchange(server_->port(), "GET /healthz HTTP/9.9\r\n\r\n")), 400);
  EXPECT_EQ(
      StatusOf(Exchange(server_->port(), "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n")),
      400);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, OversizedBodyIs413AndNeverReachesTheHandler) {
  std::string r =
      Exchange(server_->port(), "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" +
                                    std::string(100000, 'x'));
  EXPECT_EQ(StatusOf(r), 413) << r.substr(0, 100);
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpServerTest, OversizedHeaderIs431) {
  std::string r = Exchange(
      server_->port(), "GET /healthz HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n");
  EXPECT_EQ(StatusOf(r), 431) << r.substr(0, 100);
}

TEST_F(HttpServerTest, StopClosesTheListener) {
  uint16_t port = server_->port();
  server_->Stop();
  server_->Stop();  // idempotent
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
}

TEST(HttpServerStart, BadHostIsInvalid) {
  HttpServerOptions options;
  options.host = "not a host";
  HttpServer server(options);
  EXPECT_EQ(ErrcOf(server.Start()), Errc::kInvalid);
}

TEST(HttpServerStart, PortInUseIsUnavailable) {
  HttpServer a(HttpServerOptions{});
  ASSERT_TRUE(a.Start().ok());
  HttpServerOptions options;
  options.port = a.port();
  HttpServer b(options);
  EXPECT_EQ(ErrcOf(b.Start()), Errc::kUnavailable);
}

TEST(ParseHostPort, Forms) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseHostPort("127.0.0.1:9400", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9400);
  ASSERT_TRUE(ParseHostPort("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  EXPECT_FALSE(ParseHostPort("nocolon", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:70000", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort(":80", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("h:8x", &host, &port).ok());
  EXPECT_FALSE(ParseHostPort("[::1]80", &host, &port).ok());
}

}  // namespace
}  // namespace cairn::http

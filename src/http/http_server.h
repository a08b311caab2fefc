// HttpServer: a small HTTP/1.1 server (Boost.Beast) for the operational
// endpoints every Cairn server exposes: /healthz, /readyz, /metrics.
//
// Handlers are registered by exact path before Start(). The server runs on
// its own thread(s); handlers are called on those threads, concurrently
// when `threads` > 1, so they must be thread-safe and quick (they block the
// connection's thread while they run).
//
// Outside input is bounded: request headers over max_header_bytes get 431,
// bodies over max_body_bytes get 413, any other malformed request gets 400;
// each of these closes the connection. Unknown paths get 404. A connection
// idle for longer than idle_timeout is closed.
//
// Thread-safety: Handle() before Start() only; port(), address() and Stop()
// from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace cairn::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // target without the query, e.g. "/metrics"
  std::string query;   // after '?', without it; empty when none
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  // Address to bind: an IPv4/IPv6 literal or "localhost". Default loopback.
  std::string host = "127.0.0.1";
  // 0 picks a free port; port() tells which after Start().
  uint16_t port = 0;
  // Threads serving connections. Default 1: these endpoints are cheap.
  int threads = 1;
  // Request line + headers limit. Default 8 KiB.
  size_t max_header_bytes = 8 * 1024;
  // Request body limit. Default 64 KiB (no endpoint takes a large body yet).
  size_t max_body_bytes = 64 * 1024;
  // A connection with no complete request for this long is closed. Default 30 s.
  absl::Duration idle_timeout = absl::Seconds(30);
};

class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions options);
  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Registers `handler` for requests whose path is exactly `path`.
  void Handle(std::string path, Handler handler);

  // Binds, listens and starts the serving threads. kInvalid for a bad host,
  // kUnavailable when the address cannot be bound.
  absl::Status Start();

  // The bound port (0 before Start()).
  uint16_t port() const;
  // "HOST:PORT" of the bound socket ("[v6]:PORT" for IPv6).
  std::string address() const;

  // Stops accepting, closes every connection and joins the threads.
  // Idempotent.
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" ("[v6]:PORT" for IPv6). kInvalid when malformed.
absl::Status ParseHostPort(const std::string& address, std::string* host, uint16_t* port);

}  // namespace cairn::http

#include "http/http_server.h"

#include <atomic>
#include <charconv>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/errors.h"

namespace cairn::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

using HandlerMap = std::map<std::string, Handler, std::less<>>;

std::chrono::nanoseconds ToChrono(absl::Duration d) { return absl::ToChronoNanoseconds(d); }

std::string ReasonBody(int status) {
  switch (status) {
    case 400:
      return "bad request\n";
    case 404:
      return "not found\n";
    case 413:
      return "request body too large\n";
    case 431:
      return "request header too large\n";
    default:
      return "error\n";
  }
}

// One connection: reads requests one after another (keep-alive), answers
// each, and closes on any error. Owned by the shared_ptrs its pending
// asynchronous operations hold.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const HandlerMap* handlers, const HttpServerOptions* options)
      : stream_(std::move(socket)), handlers_(handlers), options_(options) {}

  void Run() {
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(options_->max_header_bytes));
    parser_->body_limit(options_->max_body_bytes);
    stream_.expires_after(ToChrono(options_->idle_timeout));
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t /*bytes*/) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
        ec == asio::error::eof) {
      Close();
      return;
    }
    if (ec) {
      // Malformed or oversized request: answer once, then close.
      int status = 400;
      if (ec == bhttp::error::body_limit) status = 413;
      if (ec == bhttp::error::header_limit) status = 431;
      SendError(status);
      return;
    }
    Respond(parser_->release());
  }

  void SendError(int status) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(status), 11);
    res->set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res->set(bhttp::field::connection, "close");
    res->keep_alive(false);
    res->body() = ReasonBody(status);
    res->prepare_payload();
    Write(std::move(res), /*close=*/true, /*header_only=*/false);
  }

  void Respond(bhttp::request<bhttp::string_body> req) {
    Request request;
    request.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    size_t q = target.find('?');
    request.path = std::string(target.substr(0, q));
    if (q != std::string_view::npos) request.query = std::string(target.substr(q + 1));
    request.body = std::move(req.body());
    const bool head = req.method() == bhttp::verb::head;
    if (head) request.method = "GET";

    Response response;
    auto it = handlers_->find(request.path);
    if (it == handlers_->end()) {
      response.status = 404;
      response.body = ReasonBody(404);
    } else {
      response = it->second(request);
    }

    auto res = std::make_shared<bhttp::response<bhttp::string_body>>(
        static_cast<bhttp::status>(response.status), req.version());
    res->set(bhttp::field::content_type, response.content_type);
    res->set(bhttp::field::server, "cairn");
    res->keep_alive(req.keep_alive());
    if (head) {
      res->content_length(response.body.size());
    } else {
      res->body() = std::move(response.body);
      res->prepare_payload();
    }
    Write(std::move(res), !req.keep_alive(), head);
  }

  void Write(std::shared_ptr<bhttp::response<bhttp::string_body>> res, bool close,
             bool header_only) {
    stream_.expires_after(ToChrono(options_->idle_timeout));
    auto self = shared_from_this();
    // A response to HEAD carries a Content-Length but no body.
    if (header_only) {
      auto sr = std::make_shared<bhttp::response_serializer<bhttp::string_body>>(*res);
      bhttp::async_write_header(stream_, *sr, [self, res, sr, close](beast::error_code ec, size_t) {
        self->OnWrite(close, ec);
      });
      return;
    }
    bhttp::async_write(stream_, *res, [self, res, close](beast::error_code ec, size_t) {
      self->OnWrite(close, ec);
    });
  }

  void OnWrite(bool close, beast::error_code ec) {
    if (ec || close) {
      Close();
      return;
    }
    Read();
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  const HandlerMap* handlers_;
  const HttpServerOptions* options_;
};

}  // namespace

class HttpServer::Impl {
 public:
  explicit Impl(HttpServerOptions options)
      : options_(std::move(options)), ioc_(std::max(1, options_.threads)), acceptor_(ioc_) {}

  ~Impl() { Stop(); }

  void Handle(std::string path, Handler handler) {
    handlers_[std::move(path)] = std::move(handler);
  }

  absl::Status Start() {
    beast::error_code ec;
    std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
    auto address = asio::ip::make_address(host, ec);
    if (ec) return Invalid("http: bad listen host '" + options_.host + "': " + ec.message());
    tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Error(Errc::kUnavailable, "http: cannot listen on " + options_.host + ":" +
                                           std::to_string(options_.port) + ": " + ec.message());
    }
    bound_ = acceptor_.local_endpoint(ec);
    port_.store(bound_.port());
    Accept();
    for (int i = 0; i < std::max(1, options_.threads); ++i) {
      threads_.emplace_back([this] { ioc_.run(); });
    }
    return absl::OkStatus();
  }

  uint16_t port() const { return port_.load(); }

  std::string address() const {
    std::string host = bound_.address().to_string();
    if (bound_.address().is_v6()) host = "[" + host + "]";
    return host + ":" + std::to_string(port());
  }

  void Stop() {
    if (stopped_.exchange(true)) return;
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
    beast::error_code ignored;
    acceptor_.close(ignored);
  }

 private:
  void Accept() {
    acceptor_.async_accept(asio::make_strand(ioc_), [this](beast::error_code ec, tcp::socket s) {
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
        // Transient (e.g. EMFILE): keep accepting.
      } else {
        std::make_shared<Session>(std::move(s), &handlers_, &options_)->Run();
      }
      Accept();
    });
  }

  const HttpServerOptions options_;
  HandlerMap handlers_;  // written before Start() only
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  tcp::endpoint bound_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> stopped_{false};
  std::vector<std::thread> threads_;
};

HttpServer::HttpServer(HttpServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpServer::~HttpServer() = default;
void HttpServer::Handle(std::string path, Handler handler) {
  impl_->Handle(std::move(path), std::move(handler));
}
absl::Status HttpServer::Start() { return impl_->Start(); }
uint16_t HttpServer::port() const { return impl_->port(); }
std::string HttpServer::address() const { return impl_->address(); }
void HttpServer::Stop() { impl_->Stop(); }

absl::Status ParseHostPort(const std::string& address, std::string* host, uint16_t* port) {
  std::string_view a = address;
  std::string_view h, p;
  if (!a.empty() && a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos || close + 1 >= a.size() || a[close + 1] != ':') {
      return Invalid("bad address '" + address + "': expected [HOST]:PORT");
    }
    h = a.substr(1, close - 1);
    p = a.substr(close + 2);
  } else {
    size_t colon = a.rfind(':');
    if (colon == std::string_view::npos) {
      return Invalid("bad address '" + address + "': expected HOST:PORT");
    }
    h = a.substr(0, colon);
    p = a.substr(colon + 1);
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (h.empty() || p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) {
    return Invalid("bad address '" + address + "': expected HOST:PORT with PORT 0-65535");
  }
  *host = std::string(h);
  *port = static_cast<uint16_t>(value);
  return absl::OkStatus();
}

}  // namespace cairn::http

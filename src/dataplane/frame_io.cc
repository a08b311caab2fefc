#include "dataplane/frame_io.h"

#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::dataplane::io {

using boost::system::error_code;

SocketTimeout::SocketTimeout(const asio::any_io_executor& ex, tcp::socket* sock, Millis timeout)
    : timer_(ex) {
  if (timeout.count() <= 0) {
    state_->armed = false;
    return;
  }
  timer_.expires_after(timeout);
  timer_.async_wait([state = state_, sock](const error_code& ec) {
    // `state` outlives the socket's user; `sock` is touched only while the
    // guard is still armed, i.e. while its owner is waiting on it.
    if (ec || !state->armed) return;
    state->fired = true;
    error_code ignored;
    sock->close(ignored);
  });
}

SocketTimeout::~SocketTimeout() {
  state_->armed = false;
  timer_.cancel();
}

absl::Status NetError(const error_code& ec, const std::string& what, bool timed_out) {
  if (timed_out) return Error(Errc::kTimeout, what + ": timed out");
  return Error(Errc::kUnavailable, what + ": " + ec.message());
}

Task<absl::StatusOr<InFrame>> ReadFrame(tcp::socket& sock, Millis timeout) {
  SocketTimeout guard(co_await asio::this_coro::executor, &sock, timeout);
  error_code ec;
  uint8_t head[kHeaderSize];
  co_await asio::async_read(sock, asio::buffer(head),
                            asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return NetError(ec, "read frame header", guard.fired());
  InFrame f;
  absl::StatusOr<FrameHeader> h = DecodeHeader(head);
  if (!h.ok()) co_return h.status();
  f.header = *h;
  f.section.resize(f.header.section_length());
  if (!f.section.empty()) {
    co_await asio::async_read(sock, asio::buffer(f.section),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetError(ec, "read frame section", guard.fired());
  }
  absl::Status s = VerifySection(f.header, f.section);
  if (!s.ok()) co_return s;
  f.payload = AlignedBuffer(f.header.payload_length());
  if (!f.payload.empty()) {
    co_await asio::async_read(sock, asio::buffer(f.payload.data(), f.payload.size()),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetError(ec, "read frame payload", guard.fired());
    std::vector<uint32_t> crcs = SectionCrcs(f.header, f.section);
    PayloadVerifier v(crcs, f.payload.size());
    s = v.Advance(f.payload.data(), f.payload.size());
    if (!s.ok()) co_return s;
  }
  co_return f;
}

OutFrame MakeFrame(const FrameHeader& h, std::span<const uint8_t> extra, AlignedBuffer payload) {
  OutFrame f;
  f.prefix = EncodeFramePrefix(h, extra, payload.span());
  f.payload = std::move(payload);
  return f;
}

OutFrame MakeError(const FrameHeader& request, const absl::Status& status, uint8_t hop) {
  FrameHeader h;
  h.op = static_cast<uint8_t>(request.op | kReplyBit);
  h.request_id = request.request_id;
  h.chunk_id = request.chunk_id;
  h.epoch = request.epoch;
  Errc code = ErrcOf(status);
  if (code == Errc::kOk) code = Errc::kInternal;
  h.status = static_cast<uint16_t>(code);
  std::vector<uint8_t> extra =
      EncodeErrorExtra(hop, std::string_view(status.message().data(), status.message().size()));
  return MakeFrame(h, extra, AlignedBuffer());
}

Task<error_code> WriteFrame(tcp::socket& sock, const OutFrame& frame, Millis timeout) {
  SocketTimeout guard(co_await asio::this_coro::executor, &sock, timeout);
  error_code ec;
  std::array<asio::const_buffer, 2> bufs = {
      asio::buffer(frame.prefix), asio::buffer(frame.payload.data(), frame.payload.size())};
  co_await asio::async_write(sock, bufs, asio::redirect_error(asio::use_awaitable, ec));
  if (!ec && guard.fired()) ec = asio::error::timed_out;
  co_return ec;
}

Task<absl::StatusOr<tcp::socket>> Connect(const std::string& address, Millis timeout) {
  absl::StatusOr<HostPort> hp = ParseAddress(address);
  if (!hp.ok()) co_return hp.status();
  auto ex = co_await asio::this_coro::executor;
  tcp::socket sock(ex);
  error_code ec;
  tcp::resolver resolver(ex);
  auto endpoints = co_await resolver.async_resolve(hp->host, std::to_string(hp->port),
                                                   asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return Error(Errc::kUnavailable, "resolve " + address + ": " + ec.message());
  {
    SocketTimeout guard(ex, &sock, timeout);
    co_await asio::async_connect(sock, endpoints, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return NetError(ec, "connect " + address, guard.fired());
  }
  sock.set_option(tcp::no_delay(true), ec);
  co_return std::move(sock);
}

absl::Status StatusFromError(const InFrame& reply, std::span<const std::string> chain) {
  absl::StatusOr<ErrorInfo> e = DecodeError(reply.header, reply.extra());
  if (!e.ok()) return e.status();
  std::string who = e->hop < chain.size() ? chain[e->hop] : "hop " + std::to_string(e->hop);
  return Error(e->code, who + ": " + e->message);
}

}  // namespace cairn::dataplane::io

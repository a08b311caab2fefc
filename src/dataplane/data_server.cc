#include "dataplane/data_server.h"

#include <sys/socket.h>

#include <cerrno>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "chunk/le.h"
#include "common/errors.h"
#include "dataplane/frame_io.h"

namespace cairn::dataplane {

namespace asio = boost::asio;
using boost::system::error_code;
using io::Task;
using io::tcp;

namespace {

// Largest piece of a payload read from upstream before it is forwarded.
constexpr size_t kForwardPiece = 1 << 20;
// Idle connections kept per downstream address.
constexpr size_t kMaxIdleDownstream = 4;

// True when an idle pooled socket is still usable: no EOF, no error and
// no unexpected bytes waiting.
bool IdleSocketAlive(tcp::socket& sock) {
  if (!sock.is_open()) return false;
  uint8_t b;
  ssize_t r = ::recv(sock.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

// A status with `prefix` added to its message, same code.
absl::Status Prefixed(const absl::Status& s, const std::string& prefix) {
  return Error(ErrcOf(s), prefix + std::string(s.message()));
}

}  // namespace

namespace server_detail {

// One client connection. Every member is used only on `strand`.
struct Conn : std::enable_shared_from_this<Conn> {
  explicit Conn(tcp::socket s)
      : sock(std::move(s)), strand(sock.get_executor()), slot(sock.get_executor()) {}

  tcp::socket sock;
  asio::any_io_executor strand;
  asio::steady_timer slot;  // woken when a request finishes
  std::deque<io::OutFrame> out;
  bool writing = false;
  bool reading_done = false;
  bool closed = false;
  int inflight = 0;
};

}  // namespace server_detail

using server_detail::Conn;

struct DataServer::Impl {
  Impl(chunk::ChunkStore* s, DataServerOptions o)
      : store(s),
        options(std::move(o)),
        acceptor(io),
        pool(static_cast<size_t>(std::max(1, options.store_threads))) {}

  // ---- lifecycle
  absl::Status Listen();
  Task<void> AcceptLoop();
  void StopAll();

  // ---- per connection
  Task<void> Session(std::shared_ptr<Conn> c);
  void Send(const std::shared_ptr<Conn>& c, io::OutFrame frame);
  Task<void> Writer(std::shared_ptr<Conn> c);
  // A request finished (its reply is queued).
  void Done(const std::shared_ptr<Conn>& c);
  void MaybeClose(const std::shared_ptr<Conn>& c);
  void Reply(const std::shared_ptr<Conn>& c, io::OutFrame frame) {
    if (options.on_request) Observe(frame);
    Send(c, std::move(frame));
    Done(c);
  }
  // Reports an answered request to options.on_request.
  void Observe(const io::OutFrame& reply) const;
  void Drain(std::chrono::milliseconds grace);

  // ---- operations
  Task<void> HandleSimple(std::shared_ptr<Conn> c, FrameHeader h);
  // Reads a WRITE_CHUNK payload, forwarding it downstream as it arrives.
  // False when the upstream connection broke.
  Task<bool> ReceiveWrite(std::shared_ptr<Conn> c, FrameHeader h, std::vector<uint8_t> section,
                          std::vector<std::string> chain);
  struct WriteOp;
  Task<void> FinishWrite(std::shared_ptr<Conn> c, std::shared_ptr<WriteOp> op);
  // Reads and drops `n` payload bytes (a refused write keeps the framing).
  Task<bool> Drain(const std::shared_ptr<Conn>& c, uint64_t n);

  template <typename F>
  Task<std::invoke_result_t<F>> Blocking(F f) {
    co_return co_await asio::co_spawn(
        pool.get_executor(),
        [f = std::move(f)]() mutable -> Task<std::invoke_result_t<F>> { co_return f(); },
        asio::use_awaitable);
  }

  // ---- downstream connections
  Task<absl::StatusOr<std::unique_ptr<tcp::socket>>> AcquireDownstream(const std::string& addr);
  void ReleaseDownstream(const std::string& addr, std::unique_ptr<tcp::socket> sock);

  chunk::ChunkStore* const store;
  const DataServerOptions options;
  asio::io_context io;
  // The accept loop and the close of the listener by Shutdown() run here.
  asio::strand<asio::io_context::executor_type> accept_strand{asio::make_strand(io)};
  tcp::acceptor acceptor;
  asio::thread_pool pool;
  std::vector<std::thread> threads;
  std::string address;
  std::atomic<uint64_t> next_request_id{1};
  std::atomic<int64_t> inflight_total{0};  // requests read and not yet answered
  std::atomic<bool> draining{false};       // Shutdown(): refuse new requests

  std::mutex mu;
  bool stopped = false;                                                             // guarded by mu
  std::vector<std::weak_ptr<Conn>> conns;                                           // guarded by mu
  std::unordered_map<std::string, std::vector<std::unique_ptr<tcp::socket>>> idle;  // by mu
};

// ------------------------------------------------------------ lifecycle

absl::Status DataServer::Impl::Listen() {
  absl::StatusOr<HostPort> hp = ParseAddress(options.listen_address);
  if (!hp.ok()) {
    // Allow port 0 ("any free port"), which ParseAddress refuses for peers.
    std::string a = options.listen_address;
    if (a.size() < 2 || a.substr(a.size() - 2) != ":0") return hp.status();
    hp = ParseAddress(a.substr(0, a.size() - 1) + "1");
    if (!hp.ok()) return hp.status();
    hp->port = 0;
  }
  error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(hp->host, std::to_string(hp->port), ec);
  if (ec || endpoints.empty()) {
    return Error(Errc::kInvalid, "resolve " + options.listen_address + ": " + ec.message());
  }
  tcp::endpoint ep = endpoints.begin()->endpoint();
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return Error(Errc::kUnavailable, "listen on " + options.listen_address + ": " + ec.message());
  tcp::endpoint local = acceptor.local_endpoint(ec);
  std::string host = local.address().to_string();
  if (local.address().is_v6()) host = "[" + host + "]";
  address = host + ":" + std::to_string(local.port());
  return absl::OkStatus();
}

Task<void> DataServer::Impl::AcceptLoop() {
  while (true) {
    tcp::socket sock(asio::make_strand(io));
    error_code ec;
    co_await acceptor.async_accept(sock, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      continue;  // e.g. EMFILE: keep serving the connections we have
    }
    sock.set_option(tcp::no_delay(true), ec);
    auto c = std::make_shared<Conn>(std::move(sock));
    {
      std::lock_guard<std::mutex> l(mu);
      if (stopped) co_return;
      std::erase_if(conns, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
      conns.push_back(c);
    }
    asio::co_spawn(c->strand, Session(c), asio::detached);
  }
}

void DataServer::Impl::StopAll() {
  {
    std::lock_guard<std::mutex> l(mu);
    if (stopped) return;
    stopped = true;
  }
  io.stop();
  for (std::thread& t : threads) t.join();
  threads.clear();
  // The loop is stopped: nothing else touches the sockets now.
  error_code ec;
  acceptor.close(ec);
  std::vector<std::shared_ptr<Conn>> live;
  {
    std::lock_guard<std::mutex> l(mu);
    for (auto& w : conns) {
      if (auto c = w.lock()) live.push_back(std::move(c));
    }
    conns.clear();
    idle.clear();
  }
  for (auto& c : live) c->sock.close(ec);
  // Running store calls finish; their results are dropped.
  pool.join();
}

// ------------------------------------------------------------ connection

void DataServer::Impl::Send(const std::shared_ptr<Conn>& c, io::OutFrame frame) {
  if (c->closed) return;
  c->out.push_back(std::move(frame));
  if (!c->writing) {
    c->writing = true;
    asio::co_spawn(c->strand, Writer(c), asio::detached);
  }
}

Task<void> DataServer::Impl::Writer(std::shared_ptr<Conn> c) {
  while (!c->out.empty() && !c->closed) {
    error_code ec = co_await io::WriteFrame(c->sock, c->out.front(), options.io_timeout);
    if (ec) {
      c->closed = true;
      c->out.clear();
      c->sock.close(ec);
      break;
    }
    c->out.pop_front();
  }
  c->writing = false;
  MaybeClose(c);
}

void DataServer::Impl::Done(const std::shared_ptr<Conn>& c) {
  --c->inflight;
  inflight_total.fetch_sub(1, std::memory_order_relaxed);
  c->slot.cancel();
  MaybeClose(c);
}

void DataServer::Impl::MaybeClose(const std::shared_ptr<Conn>& c) {
  if (c->reading_done && c->inflight == 0 && !c->writing && !c->closed) {
    c->closed = true;
    error_code ec;
    c->sock.shutdown(tcp::socket::shutdown_both, ec);
    c->sock.close(ec);
  }
}

Task<void> DataServer::Impl::Session(std::shared_ptr<Conn> c) {
  auto ex = co_await asio::this_coro::executor;
  while (!c->closed) {
    uint8_t head[kHeaderSize];
    error_code ec;
    // No timeout between requests: idle clients may keep their connection.
    co_await asio::async_read(c->sock, asio::buffer(head),
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    absl::StatusOr<FrameHeader> h = DecodeHeader(head);
    if (!h.ok() || h->is_reply()) {
      // The framing cannot be trusted any more: answer once and hang up.
      FrameHeader raw;
      raw.request_id = le::Get64(head + hdr::kRequestId);
      raw.op = static_cast<uint8_t>(Op::kStat);
      uint8_t op = head[hdr::kOp] & ~kReplyBit;
      if (op >= static_cast<uint8_t>(Op::kWriteChunk) && op <= static_cast<uint8_t>(Op::kStat)) {
        raw.op = op;
      }
      Send(c, io::MakeError(
                  raw,
                  h.ok() ? Error(Errc::kInvalid, "data frame: reply sent as request") : h.status(),
                  0));
      break;
    }
    std::vector<uint8_t> section(h->section_length());
    if (!section.empty()) {
      io::SocketTimeout guard(ex, &c->sock, options.io_timeout);
      co_await asio::async_read(c->sock, asio::buffer(section),
                                asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
    }
    if (absl::Status s = VerifySection(*h, section); !s.ok()) {
      Send(c, io::MakeError(*h, s, 0));
      break;
    }
    // Back-pressure: at the limit, stop reading until a request finishes.
    while (c->inflight >= std::max(1, options.max_inflight_per_connection) && !c->closed) {
      c->slot.expires_at(asio::steady_timer::time_point::max());
      co_await c->slot.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    if (c->closed) break;
    ++c->inflight;
    inflight_total.fetch_add(1, std::memory_order_relaxed);
    absl::Status refuse;
    if (draining.load(std::memory_order_relaxed)) {
      refuse = Error(Errc::kUnavailable, "chunk server shutting down");
    }
    // STAT is about the server, not about data placed by the map.
    if (refuse.ok() && options.check_epoch && h->code() != Op::kStat) {
      refuse = options.check_epoch(h->epoch, h->chunk_id);
    }
    std::vector<std::string> chain;
    if (refuse.ok() && h->code() == Op::kWriteChunk) {
      absl::StatusOr<std::vector<std::string>> ch =
          DecodeChain(std::span(section).first(h->extra_length));
      if (ch.ok()) {
        chain = std::move(*ch);
      } else {
        refuse = ch.status();
      }
    }
    if (!refuse.ok()) {
      if (!co_await Drain(c, h->payload_length())) {
        --c->inflight;
        inflight_total.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
      Reply(c, io::MakeError(*h, refuse, 0));
      continue;
    }
    if (h->code() == Op::kWriteChunk) {
      if (!co_await ReceiveWrite(c, *h, std::move(section), std::move(chain))) {
        --c->inflight;  // no reply: the client is gone
        inflight_total.fetch_sub(1, std::memory_order_relaxed);
        break;
      }
    } else {
      asio::co_spawn(c->strand, HandleSimple(c, *h), asio::detached);
    }
  }
  c->reading_done = true;
  MaybeClose(c);
}

Task<bool> DataServer::Impl::Drain(const std::shared_ptr<Conn>& c, uint64_t n) {
  auto ex = co_await asio::this_coro::executor;
  std::vector<uint8_t> sink(std::min<uint64_t>(n, kForwardPiece));
  while (n > 0) {
    io::SocketTimeout guard(ex, &c->sock, options.io_timeout);
    error_code ec;
    size_t got = co_await c->sock.async_read_some(
        asio::buffer(sink.data(), std::min<uint64_t>(n, sink.size())),
        asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return false;
    n -= got;
  }
  co_return true;
}

// ------------------------------------------------------------ operations

Task<void> DataServer::Impl::HandleSimple(std::shared_ptr<Conn> c, FrameHeader h) {
  FrameHeader r;
  r.op = static_cast<uint8_t>(h.op | kReplyBit);
  r.request_id = h.request_id;
  r.chunk_id = h.chunk_id;
  r.epoch = h.epoch;
  chunk::ChunkStore* s = store;
  switch (h.code()) {
    case Op::kReadChunk: {
      const uint64_t length = (h.flags & kFlagToEnd) != 0 ? chunk::kToEnd : h.length;
      absl::StatusOr<AlignedBuffer> data =
          co_await Blocking([s, id = h.chunk_id, off = h.offset, length, this] {
            absl::StatusOr<AlignedBuffer> got = s->Get(id, off, length);
            if (ErrcOf(got.status()) == Errc::kCorrupt && options.on_corrupt)
              options.on_corrupt(id);
            return got;
          });
      if (!data.ok()) {
        Reply(c, io::MakeError(h, data.status(), 0));
        co_return;
      }
      r.offset = h.offset;
      r.length = static_cast<uint32_t>(data->size());
      // The CRCs are computed from the bytes just verified against the
      // stored ones, so the client's check covers the wire and our memory
      // since the read.
      Reply(c, io::MakeFrame(r, {}, std::move(*data)));
      co_return;
    }
    case Op::kDeleteChunk: {
      absl::Status st = co_await Blocking([s, id = h.chunk_id] { return s->Delete(id); });
      Reply(c, st.ok() ? io::MakeFrame(r, {}, AlignedBuffer()) : io::MakeError(h, st, 0));
      co_return;
    }
    case Op::kHasChunk: {
      absl::StatusOr<chunk::ChunkInfo> info =
          co_await Blocking([s, id = h.chunk_id] { return s->Lookup(id); });
      if (!info.ok()) {
        Reply(c, io::MakeError(h, info.status(), 0));
        co_return;
      }
      r.length = static_cast<uint32_t>(info->length);
      Reply(c, io::MakeFrame(r, {}, AlignedBuffer()));
      co_return;
    }
    case Op::kStat: {
      absl::StatusOr<chunk::StoreStats> st = co_await Blocking([s] { return s->Stat(); });
      if (!st.ok()) {
        Reply(c, io::MakeError(h, st.status(), 0));
        co_return;
      }
      std::vector<uint8_t> extra = EncodeStatExtra(*st);
      Reply(c, io::MakeFrame(r, extra, AlignedBuffer()));
      co_return;
    }
    case Op::kWriteChunk:
      break;
  }
  Reply(c, io::MakeError(h, Error(Errc::kInternal, "unexpected op"), 0));
}

struct DataServer::Impl::WriteOp {
  FrameHeader h;
  std::vector<uint32_t> crcs;
  AlignedBuffer payload;
  std::vector<std::string> chain;  // downstream servers, next first
  // The connection to chain[0] while the write is forwarded; null when
  // there is none or it failed (then `down` says why).
  std::unique_ptr<tcp::socket> ds;
  uint64_t ds_request_id = 0;
  absl::Status down;
};

Task<bool> DataServer::Impl::ReceiveWrite(std::shared_ptr<Conn> c, FrameHeader h,
                                          std::vector<uint8_t> section,
                                          std::vector<std::string> chain) {
  auto ex = co_await asio::this_coro::executor;
  auto op = std::make_shared<WriteOp>();
  op->h = h;
  op->crcs = SectionCrcs(h, section);
  op->payload = AlignedBuffer(h.length);
  op->chain = std::move(chain);
  error_code ec;

  auto drop_downstream = [&](absl::Status why) {
    if (op->ds) op->ds->close(ec);
    op->ds.reset();
    if (op->down.ok()) op->down = std::move(why);
  };

  if (!op->chain.empty()) {
    const std::string& next = op->chain[0];
    absl::StatusOr<std::unique_ptr<tcp::socket>> ds = co_await AcquireDownstream(next);
    if (ds.ok()) {
      op->ds = std::move(*ds);
      op->ds_request_id = next_request_id.fetch_add(1);
      FrameHeader dh;
      dh.op = static_cast<uint8_t>(Op::kWriteChunk);
      dh.request_id = op->ds_request_id;
      dh.chunk_id = h.chunk_id;
      dh.epoch = h.epoch;
      dh.length = h.length;
      std::vector<uint8_t> extra =
          EncodeChain(std::span(op->chain).subspan(1)).value();  // validated when decoded
      io::OutFrame prefix;
      prefix.prefix = EncodeFramePrefix(dh, extra, {}, std::span<const uint32_t>(op->crcs));
      error_code wec = co_await io::WriteFrame(*op->ds, prefix, options.io_timeout);
      if (wec) drop_downstream(io::NetError(wec, "forward to " + next, false));
    } else {
      drop_downstream(ds.status());
    }
  }

  // Receive the payload; forward every piece as soon as it is here.
  PayloadVerifier verifier(op->crcs, h.length);
  absl::Status crc_status;
  uint64_t got = 0;
  while (got < h.length) {
    size_t n;
    {
      io::SocketTimeout guard(ex, &c->sock, options.io_timeout);
      n = co_await c->sock.async_read_some(
          asio::buffer(op->payload.data() + got, std::min<uint64_t>(h.length - got, kForwardPiece)),
          asio::redirect_error(asio::use_awaitable, ec));
    }
    if (ec) {
      // Upstream is gone mid-payload: the downstream sees its connection
      // close mid-frame and drops what it got.
      drop_downstream(Error(Errc::kUnavailable, "upstream closed"));
      co_return false;
    }
    if (crc_status.ok()) {
      crc_status = verifier.Advance(op->payload.data(), got + n);
      if (!crc_status.ok()) drop_downstream(crc_status);
    }
    if (op->ds) {
      io::SocketTimeout guard(ex, op->ds.get(), options.io_timeout);
      co_await asio::async_write(*op->ds, asio::buffer(op->payload.data() + got, n),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) drop_downstream(io::NetError(ec, "forward to " + op->chain[0], guard.fired()));
    }
    got += n;
  }
  if (!crc_status.ok()) {
    Reply(c, io::MakeError(h, crc_status, 0));
    co_return true;
  }
  // Storing and waiting for the downstream run on while the connection
  // reads its next request.
  asio::co_spawn(c->strand, FinishWrite(c, op), asio::detached);
  co_return true;
}

Task<void> DataServer::Impl::FinishWrite(std::shared_ptr<Conn> c, std::shared_ptr<WriteOp> op) {
  auto ex = co_await asio::this_coro::executor;
  // The local Put runs on the store pool while we wait for the downstream.
  struct Local {
    explicit Local(const asio::any_io_executor& e) : timer(e) {
      timer.expires_at(asio::steady_timer::time_point::max());
    }
    std::optional<absl::Status> result;
    asio::steady_timer timer;
  };
  auto local = std::make_shared<Local>(ex);
  chunk::ChunkStore* s = store;
  asio::post(pool, [s, op, local, ex] {
    absl::Status st = s->Put(op->h.chunk_id, op->payload.span(), op->crcs);
    asio::post(ex, [local, st = std::move(st)]() mutable {
      local->result = std::move(st);
      local->timer.cancel();
    });
  });

  uint8_t down_hop = 1;
  if (op->ds) {
    const std::string& next = op->chain[0];
    absl::StatusOr<io::InFrame> reply = co_await io::ReadFrame(*op->ds, options.io_timeout);
    bool reusable = false;
    if (!reply.ok()) {
      op->down = Prefixed(reply.status(), "reply from " + next + ": ");
    } else if (reply->header.op != (static_cast<uint8_t>(Op::kWriteChunk) | kReplyBit) ||
               reply->header.request_id != op->ds_request_id ||
               reply->header.chunk_id != op->h.chunk_id) {
      op->down = Error(Errc::kInternal, "unexpected reply from " + next);
    } else if (reply->header.is_error()) {
      absl::StatusOr<ErrorInfo> e = DecodeError(reply->header, reply->extra());
      if (e.ok()) {
        down_hop = static_cast<uint8_t>(std::min<size_t>(1 + e->hop, kMaxChainLength - 1));
        op->down = Error(e->code, e->message);
        reusable = true;
      } else {
        op->down = e.status();
      }
    } else if (reply->header.length != op->h.length) {
      op->down = Error(Errc::kInternal, "downstream " + next + " stored another length");
    } else {
      reusable = true;
    }
    if (reusable) {
      ReleaseDownstream(next, std::move(op->ds));
    } else {
      error_code ec;
      op->ds->close(ec);
    }
    op->ds.reset();
  }

  if (!local->result) {
    error_code ec;
    co_await local->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  const absl::Status& mine = *local->result;
  if (!mine.ok()) {
    absl::Status st = mine;
    if (!op->down.ok())
      st = Prefixed(mine, "(downstream also failed: " + std::string(op->down.message()) + ") ");
    Reply(c, io::MakeError(op->h, st, 0));
  } else if (!op->down.ok()) {
    Reply(c, io::MakeError(op->h, op->down, down_hop));
  } else {
    FrameHeader r;
    r.op = static_cast<uint8_t>(op->h.op | kReplyBit);
    r.request_id = op->h.request_id;
    r.chunk_id = op->h.chunk_id;
    r.epoch = op->h.epoch;
    r.length = op->h.length;
    Reply(c, io::MakeFrame(r, {}, AlignedBuffer()));
  }
}

// ------------------------------------------------------------ downstream

Task<absl::StatusOr<std::unique_ptr<tcp::socket>>> DataServer::Impl::AcquireDownstream(
    const std::string& addr) {
  {
    std::lock_guard<std::mutex> l(mu);
    auto& v = idle[addr];
    while (!v.empty()) {
      std::unique_ptr<tcp::socket> s = std::move(v.back());
      v.pop_back();
      if (IdleSocketAlive(*s)) co_return s;
    }
  }
  absl::StatusOr<tcp::socket> s = co_await io::Connect(addr, options.connect_timeout);
  if (!s.ok()) co_return s.status();
  co_return std::make_unique<tcp::socket>(std::move(*s));
}

void DataServer::Impl::ReleaseDownstream(const std::string& addr,
                                         std::unique_ptr<tcp::socket> sock) {
  std::lock_guard<std::mutex> l(mu);
  if (stopped) return;
  auto& v = idle[addr];
  if (v.size() < kMaxIdleDownstream) v.push_back(std::move(sock));
}

// ------------------------------------------------------------ DataServer

DataServer::DataServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

DataServer::~DataServer() { Stop(); }

absl::StatusOr<std::unique_ptr<DataServer>> DataServer::Start(chunk::ChunkStore* store,
                                                              DataServerOptions options) {
  if (store == nullptr) return Error(Errc::kInvalid, "data server: no store");
  auto impl = std::make_unique<Impl>(store, std::move(options));
  if (absl::Status s = impl->Listen(); !s.ok()) return s;
  Impl* p = impl.get();
  asio::co_spawn(p->accept_strand, p->AcceptLoop(), asio::detached);
  for (int i = 0; i < std::max(1, p->options.io_threads); ++i) {
    p->threads.emplace_back([p] { p->io.run(); });
  }
  return std::unique_ptr<DataServer>(new DataServer(std::move(impl)));
}

void DataServer::Stop() { impl_->StopAll(); }

void DataServer::Shutdown(std::chrono::milliseconds grace) { impl_->Drain(grace); }

int64_t DataServer::inflight() const {
  return impl_->inflight_total.load(std::memory_order_relaxed);
}

void DataServer::Impl::Observe(const io::OutFrame& reply) const {
  if (reply.prefix.size() < kHeaderSize) return;
  const uint8_t* p = reply.prefix.data();
  DataServerOptions::RequestDone done;
  done.op = static_cast<Op>(p[hdr::kOp] & ~kReplyBit);
  done.errc = static_cast<Errc>(le::Get16(p + hdr::kStatus));
  if (done.op == Op::kWriteChunk && done.errc == Errc::kOk)
    done.bytes_in = le::Get32(p + hdr::kLength);
  done.bytes_out = reply.payload.size();
  options.on_request(done);
}

void DataServer::Impl::Drain(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> l(mu);
    if (stopped) return;
  }
  draining.store(true);
  // The acceptor belongs to the loop: close it there.
  asio::post(accept_strand, [this] {
    error_code ec;
    acceptor.close(ec);
  });
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (inflight_total.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  StopAll();
}

std::string DataServer::address() const { return impl_->address; }

}  // namespace cairn::dataplane

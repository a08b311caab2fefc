#include "dataplane/data_client.h"

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/strings/cord.h"
#include "chunk/crc32c.h"
#include "common/errors.h"
#include "dataplane/frame_io.h"

namespace cairn::dataplane {

namespace asio = boost::asio;
using boost::system::error_code;
using io::Task;
using io::tcp;

namespace {

constexpr absl::string_view kFailedServerUrl = "cairn.failed_server";

absl::Status WithServer(absl::Status s, const std::string& server) {
  s.SetPayload(kFailedServerUrl, absl::Cord(absl::string_view(server.data(), server.size())));
  return s;
}

// One connection with its own event loop, driven by the calling thread.
struct Connection {
  asio::io_context io;
  tcp::socket sock{io};
  bool connected = false;
};

bool IdleAlive(Connection& c) {
  if (!c.sock.is_open()) return false;
  uint8_t b;
  ssize_t r = ::recv(c.sock.native_handle(), &b, 1, MSG_PEEK | MSG_DONTWAIT);
  return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

std::optional<std::string> FailedServer(const absl::Status& status) {
  auto p = status.GetPayload(kFailedServerUrl);
  if (!p.has_value()) return std::nullopt;
  return std::string(*p);
}

struct DataClient::Impl {
  explicit Impl(DataClientOptions o) : options(o) {}

  // A request to send: header (extra_length, section_crc filled in here),
  // extra, payload with its CRCs.
  struct Request {
    FrameHeader h;
    std::vector<uint8_t> extra;
    std::span<const uint8_t> payload;
    std::span<const uint32_t> crcs;
  };

  // Sends `req` to `address` and returns the verified reply; error replies
  // become statuses naming chain[hop].
  absl::StatusOr<io::InFrame> Call(const std::string& address, Request req,
                                   std::span<const std::string> chain);
  absl::StatusOr<io::InFrame> Attempt(Connection& c, const std::string& address,
                                      const Request& req);

  std::unique_ptr<Connection> Acquire(const std::string& address);
  void Release(const std::string& address, std::unique_ptr<Connection> c);

  const DataClientOptions options;
  std::atomic<uint64_t> next_id{1};
  std::mutex mu;
  std::unordered_map<std::string, std::vector<std::unique_ptr<Connection>>> idle;  // by mu
};

std::unique_ptr<Connection> DataClient::Impl::Acquire(const std::string& address) {
  std::lock_guard<std::mutex> l(mu);
  auto& v = idle[address];
  while (!v.empty()) {
    std::unique_ptr<Connection> c = std::move(v.back());
    v.pop_back();
    if (IdleAlive(*c)) return c;
  }
  return nullptr;
}

void DataClient::Impl::Release(const std::string& address, std::unique_ptr<Connection> c) {
  std::lock_guard<std::mutex> l(mu);
  auto& v = idle[address];
  if (v.size() < options.max_idle_per_address) v.push_back(std::move(c));
}

absl::StatusOr<io::InFrame> DataClient::Impl::Attempt(Connection& c, const std::string& address,
                                                      const Request& req) {
  auto task = [&]() -> Task<absl::StatusOr<io::InFrame>> {
    if (!c.connected) {
      absl::StatusOr<tcp::socket> s = co_await io::Connect(address, options.connect_timeout);
      if (!s.ok()) co_return s.status();
      c.sock = std::move(*s);
      c.connected = true;
    }
    std::vector<uint8_t> prefix = EncodeFramePrefix(req.h, req.extra, req.payload, req.crcs);
    std::array<asio::const_buffer, 2> bufs = {asio::buffer(prefix),
                                              asio::buffer(req.payload.data(), req.payload.size())};
    error_code ec;
    co_await asio::async_write(c.sock, bufs, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return io::NetError(ec, "send to " + address, false);
    co_return co_await io::ReadFrame(c.sock, io::Millis(0));
  };
  std::optional<absl::StatusOr<io::InFrame>> out;
  c.io.restart();
  asio::co_spawn(c.io, task(), [&out](std::exception_ptr e, absl::StatusOr<io::InFrame> r) {
    if (e) {
      out = Error(Errc::kInternal, "data client: unexpected exception");
    } else {
      out = std::move(r);
    }
  });
  c.io.run_for(options.request_timeout);
  if (!out.has_value()) {
    // Time is up: closing the socket ends the coroutine.
    error_code ec;
    c.sock.close(ec);
    c.io.restart();
    c.io.run();
    c.connected = false;
    return Error(Errc::kTimeout, "request to " + address + " timed out");
  }
  return std::move(*out);
}

absl::StatusOr<io::InFrame> DataClient::Impl::Call(const std::string& address, Request req,
                                                   std::span<const std::string> chain) {
  req.h.request_id = next_id.fetch_add(1);
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> c = attempt == 0 ? Acquire(address) : nullptr;
    const bool reused = c != nullptr;
    if (!c) c = std::make_unique<Connection>();
    absl::StatusOr<io::InFrame> reply = Attempt(*c, address, req);
    if (!reply.ok()) {
      // A pooled connection the server closed in the meantime: once more
      // on a fresh one.
      if (reused && ErrcOf(reply.status()) == Errc::kUnavailable) continue;
      // Transport failures are the first server's, whatever the chain.
      Errc code = ErrcOf(reply.status());
      if (code == Errc::kUnavailable || code == Errc::kTimeout) {
        return WithServer(reply.status(), address);
      }
      return reply.status();  // a malformed or corrupt reply
    }
    const FrameHeader& h = reply->header;
    if (h.op != (req.h.op | kReplyBit) || h.request_id != req.h.request_id ||
        h.chunk_id != req.h.chunk_id) {
      return WithServer(Error(Errc::kInternal, "unexpected reply from " + address), address);
    }
    Release(address, std::move(c));
    if (h.is_error()) {
      absl::StatusOr<ErrorInfo> e = DecodeError(h, reply->extra());
      if (!e.ok()) return e.status();
      std::string who = e->hop < chain.size() ? chain[e->hop] : address;
      return WithServer(Error(e->code, who + ": " + e->message), who);
    }
    return reply;
  }
}

DataClient::DataClient(DataClientOptions options) : impl_(std::make_unique<Impl>(options)) {}
DataClient::~DataClient() = default;

absl::Status DataClient::WriteChunk(std::span<const std::string> chain, ChunkId id,
                                    std::span<const uint8_t> data, uint64_t epoch) {
  std::vector<uint32_t> crcs = crc32c::BlockCrcs(data, kBlockSize);
  return WriteChunk(chain, id, data, crcs, epoch);
}

absl::Status DataClient::WriteChunk(std::span<const std::string> chain, ChunkId id,
                                    std::span<const uint8_t> data,
                                    std::span<const uint32_t> block_crcs, uint64_t epoch) {
  if (chain.empty() || chain.size() > kMaxChainLength) {
    return Error(Errc::kInvalid, "write: chain must have 1 to 16 servers");
  }
  if (!id.valid()) return Error(Errc::kInvalid, "write: zero chunk id");
  if (data.size() > kMaxPayload) return Error(Errc::kInvalid, "write: chunk over 64 MiB");
  if (block_crcs.size() != crc32c::NumBlocks(data.size(), kBlockSize)) {
    return Error(Errc::kInvalid, "write: wrong number of block crcs");
  }
  absl::StatusOr<std::vector<uint8_t>> extra = EncodeChain(chain.subspan(1));
  if (!extra.ok()) return extra.status();
  Impl::Request req;
  req.h.op = static_cast<uint8_t>(Op::kWriteChunk);
  req.h.chunk_id = id;
  req.h.epoch = epoch;
  req.h.length = static_cast<uint32_t>(data.size());
  req.extra = std::move(*extra);
  req.payload = data;
  req.crcs = block_crcs;
  absl::StatusOr<io::InFrame> reply = impl_->Call(chain[0], std::move(req), chain);
  if (!reply.ok()) return reply.status();
  if (reply->header.length != data.size()) {
    return WithServer(Error(Errc::kInternal, "write: server stored another length"), chain[0]);
  }
  return absl::OkStatus();
}

absl::StatusOr<AlignedBuffer> DataClient::ReadChunk(const std::string& address, ChunkId id,
                                                    uint64_t offset, uint64_t length,
                                                    uint64_t epoch) {
  const bool to_end = length == chunk::kToEnd;
  if (offset > kMaxPayload || (!to_end && length > kMaxPayload - offset)) {
    return Error(Errc::kRange, "read: range beyond the maximum chunk size");
  }
  Impl::Request req;
  req.h.op = static_cast<uint8_t>(Op::kReadChunk);
  req.h.chunk_id = id;
  req.h.epoch = epoch;
  req.h.offset = offset;
  req.h.length = to_end ? 0 : static_cast<uint32_t>(length);
  req.h.flags = to_end ? kFlagToEnd : 0;
  const std::string chain[] = {address};
  absl::StatusOr<io::InFrame> reply = impl_->Call(address, std::move(req), chain);
  if (!reply.ok()) return reply.status();
  if (reply->header.offset != offset || (!to_end && reply->header.length != length)) {
    return WithServer(Error(Errc::kInternal, "read: reply for another range"), address);
  }
  return std::move(reply->payload);
}

absl::Status DataClient::DeleteChunk(const std::string& address, ChunkId id, uint64_t epoch) {
  Impl::Request req;
  req.h.op = static_cast<uint8_t>(Op::kDeleteChunk);
  req.h.chunk_id = id;
  req.h.epoch = epoch;
  const std::string chain[] = {address};
  return impl_->Call(address, std::move(req), chain).status();
}

absl::StatusOr<uint64_t> DataClient::ChunkLength(const std::string& address, ChunkId id,
                                                 uint64_t epoch) {
  Impl::Request req;
  req.h.op = static_cast<uint8_t>(Op::kHasChunk);
  req.h.chunk_id = id;
  req.h.epoch = epoch;
  const std::string chain[] = {address};
  absl::StatusOr<io::InFrame> reply = impl_->Call(address, std::move(req), chain);
  if (!reply.ok()) return reply.status();
  return uint64_t{reply->header.length};
}

absl::StatusOr<chunk::StoreStats> DataClient::Stat(const std::string& address) {
  Impl::Request req;
  req.h.op = static_cast<uint8_t>(Op::kStat);
  const std::string chain[] = {address};
  absl::StatusOr<io::InFrame> reply = impl_->Call(address, std::move(req), chain);
  if (!reply.ok()) return reply.status();
  return DecodeStatExtra(reply->extra());
}

}  // namespace cairn::dataplane

// DataServer and DataClient over real sockets on 127.0.0.1: chain
// replication, reads, failures along the chain, pipelining and malformed
// input.
#include <utility>

#include <boost/asio.hpp>
#include <thread>

#include "chunk/crc32c.h"
#include "chunk/file_chunk_store.h"
#include "chunk/memory_chunk_store.h"
#include "chunk/test_util.h"
#include "common/errors.h"
#include "dataplane/data_client.h"
#include "dataplane/data_server.h"
#include "dataplane/protocol.h"
#include "gtest/gtest.h"

namespace cairn::dataplane {
namespace {

namespace asio = boost::asio;
using asio::ip::tcp;
using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;
using chunk::kToEnd;

std::vector<uint8_t> Bytes(const AlignedBuffer& b) {
  return std::vector<uint8_t>(b.data(), b.data() + b.size());
}

// A listener that misbehaves on purpose: it closes every connection at
// once, or reads everything and never answers.
class BadPeer {
 public:
  enum Mode { kHangUp, kBlackHole };
  explicit BadPeer(Mode mode)
      : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    address_ = "127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
    thread_ = std::thread([this, mode] {
      while (true) {
        boost::system::error_code ec;
        tcp::socket s(io_);
        acceptor_.accept(s, ec);
        if (ec || stop_) return;
        if (mode == kHangUp) continue;  // `s` closes here
        std::vector<uint8_t> sink(1 << 16);
        while (!stop_) {
          size_t n = s.read_some(asio::buffer(sink), ec);
          if (ec) break;
          received_ += n;
        }
      }
    });
  }
  ~BadPeer() {
    stop_ = true;
    // Wake the accept (and any read) by connecting and closing.
    boost::system::error_code ec;
    tcp::socket s(io_);
    s.connect(acceptor_.local_endpoint(), ec);
    s.close();
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    thread_.join();
  }
  const std::string& address() const { return address_; }
  uint64_t received() const { return received_; }

 private:
  std::atomic<uint64_t> received_{0};
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::string address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class DataServerTest : public ::testing::Test {
 protected:
  // Starts a server over a new FileChunkStore (or `store` when given).
  DataServer* StartServer(chunk::ChunkStore* store = nullptr, DataServerOptions o = {}) {
    if (store == nullptr) {
      chunk::FileChunkStoreOptions so;
      so.dirs = {scratch_.Sub("s" + std::to_string(stores_.size()))};
      auto s = chunk::FileChunkStore::Open(so);
      EXPECT_TRUE(s.ok()) << s.status();
      stores_.push_back(std::move(*s));
      store = stores_.back().get();
    }
    if (o.io_timeout == std::chrono::milliseconds(30'000)) o.io_timeout = std::chrono::seconds(5);
    auto srv = DataServer::Start(store, o);
    EXPECT_TRUE(srv.ok()) << srv.status();
    servers_.push_back(std::move(*srv));
    return servers_.back().get();
  }

  std::vector<std::string> Chain3() {
    for (int i = 0; i < 3; ++i) StartServer();
    return {servers_[0]->address(), servers_[1]->address(), servers_[2]->address()};
  }

  ScratchDir scratch_;
  std::vector<std::unique_ptr<chunk::ChunkStore>> stores_;
  std::vector<std::unique_ptr<DataServer>> servers_;
  DataClient client_;
};

TEST_F(DataServerTest, ThreeServerChainStoresIdenticalVerifiedCopies) {
  std::vector<std::string> chain = Chain3();
  struct C {
    ChunkId id;
    std::vector<uint8_t> data;
  };
  std::vector<C> chunks = {{ChunkId::Random(), TestBytes(8 << 20, 1)},  // 8 MiB
                           {ChunkId::Random(), {}},                     // empty
                           {ChunkId::Random(), TestBytes(1, 2)},
                           {ChunkId::Random(), TestBytes(3 * 65536 + 77, 3)}};
  for (const C& c : chunks) {
    absl::Status s = client_.WriteChunk(chain, c.id, c.data);
    ASSERT_TRUE(s.ok()) << s;
  }
  for (size_t i = 0; i < 3; ++i) {
    for (const C& c : chunks) {
      // Straight from each store, verified by the store...
      auto local = stores_[i]->Get(c.id, 0, kToEnd);
      ASSERT_TRUE(local.ok()) << i << ": " << local.status();
      EXPECT_EQ(Bytes(*local), c.data) << "server " << i;
      // ...and over the wire, verified again by the client.
      auto remote = client_.ReadChunk(chain[i], c.id, 0, kToEnd);
      ASSERT_TRUE(remote.ok()) << remote.status();
      EXPECT_EQ(Bytes(*remote), c.data);
      EXPECT_EQ(reinterpret_cast<uintptr_t>(remote->data()) % 4096, 0u);
      EXPECT_EQ(client_.ChunkLength(chain[i], c.id).value(), c.data.size());
    }
  }
  // Writing the same chunk again is an idempotent success.
  EXPECT_TRUE(client_.WriteChunk(chain, chunks[3].id, chunks[3].data).ok());
  // Other content under the same id is refused, naming the head.
  absl::Status s = client_.WriteChunk(chain, chunks[3].id, TestBytes(10, 9));
  EXPECT_EQ(ErrcOf(s), Errc::kExists);
  EXPECT_EQ(FailedServer(s), chain[0]);
}

TEST_F(DataServerTest, RangeReads) {
  std::vector<std::string> chain = {StartServer()->address()};
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(5 * 65536 + 3, 7);
  ASSERT_TRUE(client_.WriteChunk(chain, id, data).ok());
  struct R {
    uint64_t off, len;
  } ranges[] = {{0, 1}, {65535, 2}, {100, 200000}, {5 * 65536, 3}, {data.size(), 0}, {7, 0}};
  for (const R& r : ranges) {
    auto got = client_.ReadChunk(chain[0], id, r.off, r.len);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(Bytes(*got),
              std::vector<uint8_t>(data.begin() + r.off, data.begin() + r.off + r.len));
  }
  auto tail = client_.ReadChunk(chain[0], id, 65536 * 4, kToEnd);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(Bytes(*tail), std::vector<uint8_t>(data.begin() + 65536 * 4, data.end()));
  EXPECT_EQ(ErrcOf(client_.ReadChunk(chain[0], id, data.size() + 1, 0).status()), Errc::kRange);
  EXPECT_EQ(ErrcOf(client_.ReadChunk(chain[0], id, 0, data.size() + 1).status()), Errc::kRange);
  EXPECT_EQ(ErrcOf(client_.ReadChunk(chain[0], ChunkId::Random(), 0, 1).status()), Errc::kNotFound);
}

TEST_F(DataServerTest, DeleteHasAndStat) {
  std::string a = StartServer()->address();
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(client_.WriteChunk(std::vector<std::string>{a}, id, TestBytes(1000, 1)).ok());
  auto st = client_.Stat(a);
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->chunk_count, 1u);
  EXPECT_EQ(st->chunk_bytes, 1000u);
  EXPECT_GT(st->capacity_bytes, 0u);
  ASSERT_TRUE(client_.DeleteChunk(a, id).ok());
  EXPECT_EQ(ErrcOf(client_.DeleteChunk(a, id)), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(client_.ChunkLength(a, id).status()), Errc::kNotFound);
  EXPECT_EQ(client_.Stat(a)->chunk_count, 0u);
}

TEST_F(DataServerTest, DeadTailMakesTheHeadFail) {
  std::vector<std::string> chain = Chain3();
  servers_[2]->Stop();
  ChunkId id = ChunkId::Random();
  absl::Status s = client_.WriteChunk(chain, id, TestBytes(300000, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ErrcOf(s), Errc::kUnavailable) << s;
  EXPECT_EQ(FailedServer(s), chain[2]) << s;
}

TEST_F(DataServerTest, DeadMiddleMakesTheHeadFail) {
  std::vector<std::string> chain = Chain3();
  servers_[1]->Stop();
  absl::Status s = client_.WriteChunk(chain, ChunkId::Random(), TestBytes(100, 1));
  EXPECT_EQ(ErrcOf(s), Errc::kUnavailable) << s;
  EXPECT_EQ(FailedServer(s), chain[1]) << s;
}

TEST_F(DataServerTest, DownstreamThatHangsUpMakesTheHeadFail) {
  BadPeer bad(BadPeer::kHangUp);
  std::vector<std::string> chain = {StartServer()->address(), StartServer()->address(),
                                    bad.address()};
  absl::Status s = client_.WriteChunk(chain, ChunkId::Random(), TestBytes(2 << 20, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(FailedServer(s), bad.address()) << s;
}

TEST_F(DataServerTest, SilentDownstreamTimesOut) {
  BadPeer bad(BadPeer::kBlackHole);
  DataServerOptions o;
  o.io_timeout = std::chrono::milliseconds(300);
  std::vector<std::string> chain = {StartServer(nullptr, o)->address(), bad.address()};
  auto t0 = std::chrono::steady_clock::now();
  absl::Status s = client_.WriteChunk(chain, ChunkId::Random(), TestBytes(100000, 1));
  EXPECT_EQ(ErrcOf(s), Errc::kTimeout) << s;
  EXPECT_EQ(FailedServer(s), bad.address()) << s;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(3));
}

TEST_F(DataServerTest, FullDiskDownstreamIsReportedWithItsCode) {
  chunk::MemoryChunkStore small(1000);
  std::vector<std::string> chain = {StartServer()->address(), StartServer(&small)->address(),
                                    StartServer()->address()};
  ChunkId id = ChunkId::Random();
  absl::Status s = client_.WriteChunk(chain, id, TestBytes(5000, 1));
  EXPECT_EQ(ErrcOf(s), Errc::kNoSpace) << s;
  EXPECT_EQ(FailedServer(s), chain[1]) << s;
  // The head's connection to the middle server stays usable.
  EXPECT_TRUE(client_.WriteChunk(chain, ChunkId::Random(), TestBytes(500, 1)).ok());
}

TEST_F(DataServerTest, StaleEpochRefusedAndTheConnectionStaysUsable) {
  DataServerOptions o;
  o.check_epoch = [](uint64_t epoch, ChunkId) {
    return epoch >= 5 ? absl::OkStatus() : Error(Errc::kStaleEpoch, "epoch too old");
  };
  std::vector<std::string> chain = {StartServer(nullptr, o)->address()};
  ChunkId id = ChunkId::Random();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ErrcOf(client_.WriteChunk(chain, id, TestBytes(200000, 1), /*epoch=*/3)),
              Errc::kStaleEpoch);
  }
  EXPECT_TRUE(client_.WriteChunk(chain, id, TestBytes(200000, 1), /*epoch=*/5).ok());
  EXPECT_EQ(ErrcOf(client_.ReadChunk(chain[0], id, 0, kToEnd, 4).status()), Errc::kStaleEpoch);
  EXPECT_TRUE(client_.ReadChunk(chain[0], id, 0, kToEnd, 6).ok());
  EXPECT_TRUE(client_.Stat(chain[0]).ok());  // not about placement: never stale
}

TEST_F(DataServerTest, ConcurrentWritersThroughOneChain) {
  std::vector<std::string> chain = Chain3();
  constexpr int kThreads = 6, kPer = 8;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::vector<std::vector<ChunkId>> ids(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        ChunkId id = ChunkId::Random();
        ids[t].push_back(id);
        absl::Status s = client_.WriteChunk(chain, id, TestBytes(10000 * (i + 1), t * 100 + i));
        if (!s.ok()) {
          ++failures;
          ADD_FAILURE() << s;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPer; ++i) {
      for (int s = 0; s < 3; ++s) {
        auto r = stores_[s]->Get(ids[t][i], 0, kToEnd);
        ASSERT_TRUE(r.ok());
        EXPECT_EQ(Bytes(*r), TestBytes(10000 * (i + 1), t * 100 + i));
      }
    }
  }
}

// Raw frames on a plain socket: what a buggy or hostile peer could send.
class RawConn {
 public:
  explicit RawConn(const std::string& address) : sock_(io_) {
    auto colon = address.rfind(':');
    sock_.connect(tcp::endpoint(asio::ip::make_address(address.substr(0, colon)),
                                static_cast<uint16_t>(std::stoi(address.substr(colon + 1)))));
  }
  void Send(const std::vector<uint8_t>& bytes) { asio::write(sock_, asio::buffer(bytes)); }
  // Reads one frame; error status when the connection closes first.
  absl::StatusOr<std::vector<uint8_t>> ReadFrameBytes() {
    std::vector<uint8_t> f(kHeaderSize);
    boost::system::error_code ec;
    asio::read(sock_, asio::buffer(f), ec);
    if (ec) return Error(Errc::kUnavailable, ec.message());
    auto h = DecodeHeader(f);
    if (!h.ok()) return h.status();
    size_t rest = h->section_length() + h->payload_length();
    f.resize(kHeaderSize + rest);
    asio::read(sock_, asio::buffer(f.data() + kHeaderSize, rest), ec);
    if (ec) return Error(Errc::kUnavailable, ec.message());
    return f;
  }
  bool ClosedByPeer() {
    uint8_t b;
    boost::system::error_code ec;
    sock_.read_some(asio::buffer(&b, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

 private:
  asio::io_context io_;
  tcp::socket sock_;
};

TEST_F(DataServerTest, PipelinedRequestsAllAnswered) {
  std::string a = StartServer()->address();
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(100000, 5);
  ASSERT_TRUE(client_.WriteChunk(std::vector<std::string>{a}, id, data).ok());
  RawConn raw(a);
  std::vector<uint8_t> batch;
  auto add = [&](FrameHeader h, std::vector<uint8_t> extra, std::vector<uint8_t> payload) {
    auto f = EncodeFrame(h, extra, payload);
    batch.insert(batch.end(), f.begin(), f.end());
  };
  FrameHeader read;
  read.op = static_cast<uint8_t>(Op::kReadChunk);
  read.request_id = 1;
  read.chunk_id = id;
  read.flags = kFlagToEnd;
  add(read, {}, {});
  FrameHeader has = read;
  has.op = static_cast<uint8_t>(Op::kHasChunk);
  has.flags = 0;
  has.request_id = 2;
  add(has, {}, {});
  FrameHeader write;
  write.op = static_cast<uint8_t>(Op::kWriteChunk);
  write.request_id = 3;
  write.chunk_id = ChunkId::Random();
  write.length = 70000;
  add(write, EncodeChain(std::vector<std::string>{}).value(), TestBytes(70000, 6));
  FrameHeader stat;
  stat.op = static_cast<uint8_t>(Op::kStat);
  stat.request_id = 4;
  add(stat, {}, {});
  raw.Send(batch);  // all four at once, before any reply
  std::set<uint64_t> answered;
  for (int i = 0; i < 4; ++i) {
    auto f = raw.ReadFrameBytes();
    ASSERT_TRUE(f.ok()) << f.status();
    auto d = DecodeFrame(*f);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_FALSE(d->header.is_error()) << d->header.request_id;
    answered.insert(d->header.request_id);
    if (d->header.request_id == 1) {
      EXPECT_EQ(std::vector<uint8_t>(d->payload.begin(), d->payload.end()), data);
    }
  }
  EXPECT_EQ(answered, (std::set<uint64_t>{1, 2, 3, 4}));
}

// The head forwards what it has while the rest is still on its way: with
// only the first quarter of the payload sent, the downstream already has it.
TEST_F(DataServerTest, ChainStreamsInsteadOfStoreAndForward) {
  BadPeer downstream(BadPeer::kBlackHole);  // records what arrives, never answers
  std::string head = StartServer()->address();
  FrameHeader w;
  w.op = static_cast<uint8_t>(Op::kWriteChunk);
  w.request_id = 1;
  w.chunk_id = ChunkId::Random();
  auto payload = TestBytes(4 << 20, 8);
  w.length = static_cast<uint32_t>(payload.size());
  auto extra = EncodeChain(std::vector<std::string>{downstream.address()}).value();
  auto frame = EncodeFrame(w, extra, payload);
  const size_t prefix = frame.size() - payload.size();
  const size_t quarter = payload.size() / 4;
  RawConn raw(head);
  raw.Send(std::vector<uint8_t>(frame.begin(), frame.begin() + prefix + quarter));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  // The downstream's frame prefix is the same size (its chain is empty, ours
  // had one entry: 1 + 1 + address bytes fewer).
  const uint64_t want = prefix - (extra.size() - 1) + quarter;
  while (downstream.received() < want && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(downstream.received(), want);
}

TEST_F(DataServerTest, CorruptPayloadIsRefusedAndNotForwarded) {
  std::vector<std::string> chain = Chain3();
  RawConn raw(chain[0]);
  FrameHeader w;
  w.op = static_cast<uint8_t>(Op::kWriteChunk);
  w.request_id = 9;
  w.chunk_id = ChunkId::Random();
  auto payload = TestBytes(300000, 1);
  w.length = static_cast<uint32_t>(payload.size());
  auto extra = EncodeChain(std::span(chain).subspan(1)).value();
  auto f = EncodeFrame(w, extra, payload);
  f[f.size() - 1000] ^= 0x10;  // flipped on the wire, after the CRCs were made
  raw.Send(f);
  auto reply = raw.ReadFrameBytes();
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto d = DecodeFrame(*reply);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(ErrcFromInt(d->header.status), Errc::kCorrupt);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(stores_[i]->Has(w.chunk_id)) << i;
}

TEST_F(DataServerTest, MalformedRequestGetsAnErrorAndTheConnectionCloses) {
  std::string a = StartServer()->address();
  FrameHeader h;
  h.op = static_cast<uint8_t>(Op::kReadChunk);
  h.request_id = 77;
  h.chunk_id = ChunkId::Random();
  auto f = EncodeFrame(h, {}, {});
  f[hdr::kLength + 3] = 0xff;  // length over 64 MiB (header CRC now also wrong)
  RawConn raw(a);
  raw.Send(f);
  auto reply = raw.ReadFrameBytes();
  ASSERT_TRUE(reply.ok()) << reply.status();
  auto d = DecodeFrame(*reply);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->header.request_id, 77u);
  EXPECT_NE(d->header.status, 0);
  EXPECT_TRUE(raw.ClosedByPeer());
  // The server itself is fine.
  EXPECT_TRUE(client_.Stat(a).ok());
}

TEST_F(DataServerTest, ClientTimesOutOnASilentServer) {
  BadPeer bad(BadPeer::kBlackHole);
  DataClientOptions o;
  o.request_timeout = std::chrono::milliseconds(200);
  DataClient client(o);
  auto t0 = std::chrono::steady_clock::now();
  auto r = client.ReadChunk(bad.address(), ChunkId::Random(), 0, 10);
  EXPECT_EQ(ErrcOf(r.status()), Errc::kTimeout) << r.status();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  EXPECT_EQ(ErrcOf(client.Stat("127.0.0.1:1").status()), Errc::kUnavailable);
}

TEST_F(DataServerTest, ClientRecoversWhenAPooledConnectionDies) {
  std::string a = StartServer()->address();
  ASSERT_TRUE(client_.Stat(a).ok());  // leaves a pooled connection
  // The server restarts on the same port.
  uint16_t port = static_cast<uint16_t>(std::stoi(a.substr(a.rfind(':') + 1)));
  servers_.back()->Stop();
  servers_.pop_back();
  DataServerOptions o;
  o.listen_address = "127.0.0.1:" + std::to_string(port);
  auto srv = DataServer::Start(stores_.back().get(), o);
  ASSERT_TRUE(srv.ok()) << srv.status();
  EXPECT_TRUE(client_.Stat(a).ok());
}

}  // namespace
}  // namespace cairn::dataplane

namespace cairn::dataplane {
namespace {

// A store whose Puts wait until released: requests that stay in flight.
class GatedStore final : public chunk::ChunkStore {
 public:
  absl::Status Put(ChunkId id, std::span<const uint8_t> data,
                   std::span<const uint32_t> crcs) override {
    entered_.fetch_add(1);
    while (!open_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return base_.Put(id, data, crcs);
  }
  absl::StatusOr<AlignedBuffer> Get(ChunkId id, uint64_t off, uint64_t len) override {
    return base_.Get(id, off, len);
  }
  absl::Status Delete(ChunkId id) override { return base_.Delete(id); }
  absl::StatusOr<chunk::ChunkInfo> Lookup(ChunkId id) override { return base_.Lookup(id); }
  absl::StatusOr<int64_t> ModifiedNs(ChunkId id) override { return base_.ModifiedNs(id); }
  absl::StatusOr<std::vector<chunk::ChunkInfo>> List(std::optional<ChunkId> after,
                                                     size_t limit) override {
    return base_.List(after, limit);
  }
  absl::StatusOr<chunk::StoreStats> Stat() override { return base_.Stat(); }
  std::string_view Name() const override { return "gated"; }

  std::atomic<int> entered_{0};
  std::atomic<bool> open_{false};

 private:
  chunk::MemoryChunkStore base_;
};

TEST(DataServerShutdownTest, RunningRequestsFinishNewOnesAreRefused) {
  GatedStore store;
  std::atomic<int> answered{0}, errors{0};
  std::atomic<uint64_t> in{0}, out{0};
  DataServerOptions o;
  o.on_request = [&](const DataServerOptions::RequestDone& d) {
    answered++;
    if (d.errc != Errc::kOk) errors++;
    in += d.bytes_in;
    out += d.bytes_out;
  };
  auto server = DataServer::Start(&store, o);
  ASSERT_TRUE(server.ok()) << server.status();
  const std::string addr = (*server)->address();
  DataClient client;
  ChunkId id = ChunkId::Random();
  absl::Status write;
  std::thread writer([&] { write = client.WriteChunk({{addr}}, id, TestBytes(1000, 1)); });
  while (store.entered_.load() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ((*server)->inflight(), 1);
  // Shutdown waits for the write; let it finish shortly after.
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    // A request sent now (on a new connection) is refused or cannot connect.
    DataClientOptions co;
    co.connect_timeout = std::chrono::milliseconds(500);
    co.request_timeout = std::chrono::milliseconds(1000);
    DataClient late(co);
    absl::StatusOr<chunk::StoreStats> st = late.Stat(addr);
    EXPECT_FALSE(st.ok());
    store.open_ = true;
  });
  (*server)->Shutdown(std::chrono::milliseconds(10'000));
  writer.join();
  opener.join();
  EXPECT_TRUE(write.ok()) << write;
  EXPECT_EQ((*server)->inflight(), 0);
  EXPECT_EQ(answered.load(), 1);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(in.load(), 1000u);
  EXPECT_EQ(out.load(), 0u);
}

TEST(DataServerShutdownTest, ReportsEveryAnsweredRequest) {
  chunk::MemoryChunkStore store;
  std::atomic<int> reads{0}, not_found{0};
  std::atomic<uint64_t> out{0};
  DataServerOptions o;
  o.on_request = [&](const DataServerOptions::RequestDone& d) {
    if (d.op == Op::kReadChunk) reads++;
    if (d.errc == Errc::kNotFound) not_found++;
    out += d.bytes_out;
  };
  auto server = DataServer::Start(&store, o);
  ASSERT_TRUE(server.ok());
  DataClient client;
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(client.WriteChunk({{(*server)->address()}}, id, TestBytes(5000, 2)).ok());
  ASSERT_TRUE(client.ReadChunk((*server)->address(), id, 0, kToEnd).ok());
  EXPECT_FALSE(client.ReadChunk((*server)->address(), ChunkId::Random(), 0, kToEnd).ok());
  (*server)->Shutdown(std::chrono::milliseconds(1000));
  EXPECT_EQ(reads.load(), 2);
  EXPECT_EQ(not_found.load(), 1);
  EXPECT_EQ(out.load(), 5000u);
}

}  // namespace
}  // namespace cairn::dataplane

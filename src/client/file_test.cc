// File data end to end in one process: a real MetaServer (memory store,
// Cluster service) and three ChunkServers on scratch directories, all on
// 127.0.0.1 port 0, driven through the public client library. Files live
// under a directory with a 64 KiB chunk size so multi-slot cases stay
// small.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "cairn/client.h"
#include "chunk/test_util.h"
#include "chunkserver/chunk_server.h"
#include "client/test_cluster.h"
#include "gtest/gtest.h"
#include "service/meta_server.h"

namespace cairn {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;

constexpr uint64_t kCs = 64 << 10;  // the test directory's chunk size
constexpr int kServers = 3;

#define ASSERT_OK(expr)                                              \
  do {                                                               \
    const auto& status_ = (expr);                                    \
    ASSERT_TRUE(status_.ok()) << #expr << ": " << StatusOf(status_); \
  } while (0)

std::string StatusOf(const absl::Status& s) { return s.ToString(); }
template <typename T>
std::string StatusOf(const absl::StatusOr<T>& s) {
  return s.status().ToString();
}

using Bytes = std::vector<uint8_t>;

class FileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    service::MetaServerOptions mo = testing::TestMetaOptions(kServers);
    mo.cluster.down_after = absl::Seconds(2);
    mo.cluster.report_grace = absl::Milliseconds(300);
    auto meta = service::MetaServer::Start(mo);
    ASSERT_OK(meta);
    meta_ = std::move(*meta);
    for (int i = 0; i < kServers; ++i) StartServer(i);
    testing::WaitForFullChains(*meta_, kServers);
    if (HasFatalFailure()) return;
    client_ = Connect();
    ASSERT_OK(client_->Mkdir("/t", 0755));
    StoragePolicy policy;
    policy.chunk_size = kCs;
    ASSERT_OK(client_->SetPolicy("/t", policy));
  }

  void StartServer(int i) {
    chunkserver::ChunkServerOptions o =
        testing::TestChunkServerOptions(meta_->grpc_address(), dir_.Sub("cs" + std::to_string(i)));
    o.data_io_timeout = std::chrono::milliseconds(5000);
    auto server = chunkserver::ChunkServer::Start(o);
    ASSERT_OK(server);
    ASSERT_TRUE((*server)->WaitRegistered(absl::Seconds(10)));
    if (servers_.size() <= static_cast<size_t>(i)) servers_.resize(i + 1);
    servers_[i] = std::move(*server);
  }

  ClientOptions Options(absl::Duration deadline = absl::Seconds(20)) {
    ClientOptions o;
    o.meta_address = meta_->grpc_address();
    o.timeout = absl::Seconds(10);
    o.data_deadline = deadline;
    o.parallel_read_min = 32 << 10;  // exercise the split reads with small chunks
    return o;
  }
  std::unique_ptr<Client> Connect(absl::Duration deadline = absl::Seconds(20)) {
    return Connect(Options(deadline));
  }
  std::unique_ptr<Client> Connect(const ClientOptions& o) {
    auto c = Client::Connect(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }

  // Writes `data` to `path` in pieces of `piece` bytes (0: one Write).
  absl::Status Put(Client& c, const std::string& path, const Bytes& data, size_t piece = 0) {
    auto f = c.Open(path, kOpenWrite | kOpenCreate | kOpenTruncate);
    if (!f.ok()) return f.status();
    if (piece == 0) piece = std::max<size_t>(data.size(), 1);
    for (size_t off = 0; off < data.size(); off += piece) {
      absl::Status s = (*f)->Write(data.data() + off, std::min(piece, data.size() - off));
      if (!s.ok()) return s;
    }
    return (*f)->Close();
  }

  // The whole file, read in pieces of `piece` bytes.
  absl::StatusOr<Bytes> Get(Client& c, const std::string& path, size_t piece = 1 << 20) {
    auto f = c.Open(path, kOpenRead);
    if (!f.ok()) return f.status();
    Bytes out;
    Bytes buf(piece);
    for (;;) {
      auto n = (*f)->Read(buf.data(), buf.size());
      if (!n.ok()) return n.status();
      if (*n == 0) break;
      out.insert(out.end(), buf.begin(), buf.begin() + static_cast<long>(*n));
    }
    absl::Status s = (*f)->Close();
    if (!s.ok()) return s;
    return out;
  }

  // Every chunk file of server i.
  std::vector<std::filesystem::path> ChunkFiles(int i) {
    std::vector<std::filesystem::path> out;
    for (const auto& e :
         std::filesystem::recursive_directory_iterator(dir_.Sub("cs" + std::to_string(i)))) {
      if (e.is_regular_file() && e.path().filename().string().size() == 32) {
        out.push_back(e.path());
      }
    }
    return out;
  }

  // meta's request counter for `op` (cairn_meta_requests_total).
  uint64_t MetaRequests(const std::string& op) {
    const std::string text = meta_->metrics()->Render();
    const std::string key = "cairn_meta_requests_total{op=\"" + op + "\"} ";
    size_t at = text.find(key);
    if (at == std::string::npos) return 0;
    return std::stoull(text.substr(at + key.size()));
  }

  ScratchDir dir_;
  std::unique_ptr<service::MetaServer> meta_;
  std::vector<std::unique_ptr<chunkserver::ChunkServer>> servers_;
  std::unique_ptr<Client> client_;
};

TEST_F(FileTest, RoundTripsAtSlotBoundaries) {
  const std::vector<size_t> sizes = {0, 1, kCs - 1, kCs, kCs + 1, 5 * kCs + 123};
  for (size_t size : sizes) {
    SCOPED_TRACE("size " + std::to_string(size));
    Bytes data = TestBytes(size, size + 1);
    const std::string path = "/t/f" + std::to_string(size);
    ASSERT_OK(Put(*client_, path, data));
    auto attr = client_->Stat(path);
    ASSERT_OK(attr);
    EXPECT_EQ(attr->size, size);
    auto back = Get(*client_, path);
    ASSERT_OK(back);
    EXPECT_TRUE(*back == data);
    // Small pieces that straddle slot boundaries, both ways.
    ASSERT_OK(Put(*client_, path + ".p", data, 1000));
    back = Get(*client_, path + ".p", 777);
    ASSERT_OK(back);
    EXPECT_TRUE(*back == data);
    auto chunks = client_->FileChunks(path);
    ASSERT_OK(chunks);
    EXPECT_EQ(chunks->chunk_size, kCs);
    EXPECT_EQ(chunks->slots.size(), (size + kCs - 1) / kCs);
    for (const SlotChunk& s : chunks->slots) {
      EXPECT_EQ(s.id.size(), 32u);
      EXPECT_EQ(s.chain.size(), static_cast<size_t>(kServers));
    }
  }
}

// A small new file costs Create + one chunk write + CommitWrite: no
// GetChunks, no SetAttr, once the client holds the cluster map.
TEST_F(FileTest, SmallFileCostsThreeRoundTrips) {
  ASSERT_OK(Put(*client_, "/t/warm", Bytes(10, 1)));
  const std::vector<std::string> ops = {"Create", "GetChunks", "CommitWrite", "SetAttr", "GetAttr"};
  std::vector<uint64_t> before;
  for (const auto& op : ops) before.push_back(MetaRequests(op));
  ASSERT_OK(Put(*client_, "/t/small", TestBytes(64 << 10, 2)));
  std::vector<uint64_t> calls;
  for (size_t i = 0; i < ops.size(); ++i) calls.push_back(MetaRequests(ops[i]) - before[i]);
  EXPECT_EQ(calls, (std::vector<uint64_t>{1, 0, 1, 0, 0}));
  // Reading it back: GetChunks, then the chunk straight from a server.
  uint64_t get_chunks = MetaRequests("GetChunks");
  auto back = Get(*client_, "/t/small");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == TestBytes(64 << 10, 2));
  EXPECT_EQ(MetaRequests("GetChunks") - get_chunks, 1u);
}

TEST_F(FileTest, PreadAnywhere) {
  Bytes data = TestBytes(3 * kCs + 17, 5);
  ASSERT_OK(Put(*client_, "/t/p", data));
  auto f = client_->Open("/t/p", kOpenRead);
  ASSERT_OK(f);
  for (uint64_t off : {uint64_t{0}, kCs - 3, kCs, 2 * kCs + 5, 3 * kCs + 10}) {
    for (size_t n : {size_t{1}, size_t{10}, size_t{kCs}, size_t{2 * kCs + 9}}) {
      Bytes buf(n, 0xee);
      auto got = (*f)->Pread(buf.data(), n, off);
      ASSERT_OK(got);
      size_t want = std::min<size_t>(n, data.size() - off);
      ASSERT_EQ(*got, want);
      EXPECT_TRUE(std::equal(buf.begin(), buf.begin() + static_cast<long>(want),
                             data.begin() + static_cast<long>(off)))
          << off << " " << n;
    }
  }
  Bytes buf(10);
  auto past = (*f)->Pread(buf.data(), 10, data.size() + 100);
  ASSERT_OK(past);
  EXPECT_EQ(*past, 0u);
}

TEST_F(FileTest, OverwriteInTheMiddleKeepsTheRest) {
  Bytes data = TestBytes(3 * kCs, 7);
  ASSERT_OK(Put(*client_, "/t/o", data));
  auto before = client_->FileChunks("/t/o");
  ASSERT_OK(before);
  Bytes patch = TestBytes(kCs, 8);
  {
    auto f = client_->Open("/t/o", kOpenWrite);
    ASSERT_OK(f);
    ASSERT_OK((*f)->Pwrite(patch.data(), patch.size(), kCs / 2));  // slots 0 and 1
    ASSERT_OK((*f)->Close());
  }
  std::copy(patch.begin(), patch.end(), data.begin() + kCs / 2);
  auto back = Get(*client_, "/t/o");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
  auto after = client_->FileChunks("/t/o");
  ASSERT_OK(after);
  ASSERT_EQ(after->slots.size(), 3u);
  EXPECT_NE(after->slots[0].id, before->slots[0].id);
  EXPECT_NE(after->slots[1].id, before->slots[1].id);
  EXPECT_EQ(after->slots[2].id, before->slots[2].id);  // untouched slot kept
}

TEST_F(FileTest, ReadsItsOwnWritesBeforeClose) {
  auto f = client_->Open("/t/rw", kOpenRead | kOpenWrite | kOpenCreate);
  ASSERT_OK(f);
  Bytes data = TestBytes(2 * kCs + 100, 9);
  ASSERT_OK((*f)->Write(data.data(), data.size()));
  Bytes buf(data.size());
  auto got = (*f)->Pread(buf.data(), buf.size(), 0);
  ASSERT_OK(got);
  ASSERT_EQ(*got, data.size());
  EXPECT_TRUE(buf == data);
  // Overwrite inside the open (buffered) slot, read again.
  Bytes patch(10, 0x55);
  ASSERT_OK((*f)->Pwrite(patch.data(), patch.size(), 2 * kCs + 20));
  std::copy(patch.begin(), patch.end(), data.begin() + 2 * kCs + 20);
  got = (*f)->Pread(buf.data(), buf.size(), 0);
  ASSERT_OK(got);
  EXPECT_TRUE(buf == data);
  ASSERT_OK((*f)->Close());
  auto back = Get(*client_, "/t/rw");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
}

TEST_F(FileTest, TruncateDownAndUpReadsZeros) {
  Bytes data = TestBytes(2 * kCs + kCs / 2, 11);
  ASSERT_OK(Put(*client_, "/t/tr", data));
  auto f = client_->Open("/t/tr", kOpenRead | kOpenWrite);
  ASSERT_OK(f);
  const uint64_t cut = kCs / 2 + 10;
  ASSERT_OK((*f)->Truncate(cut));
  EXPECT_EQ((*f)->size(), cut);
  ASSERT_OK((*f)->Truncate(2 * kCs));
  ASSERT_OK((*f)->Close());
  Bytes want(2 * kCs, 0);
  std::copy(data.begin(), data.begin() + cut, want.begin());
  auto back = Get(*client_, "/t/tr");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == want);
  // A write past the end after a shrink: the gap reads as zeros too.
  auto g = client_->Open("/t/tr", kOpenWrite);
  ASSERT_OK(g);
  ASSERT_OK((*g)->Truncate(10));
  Bytes tail(5, 0x77);
  ASSERT_OK((*g)->Pwrite(tail.data(), tail.size(), kCs / 2));
  ASSERT_OK((*g)->Close());
  want.assign(kCs / 2 + 5, 0);
  std::copy(data.begin(), data.begin() + 10, want.begin());
  std::fill(want.end() - 5, want.end(), 0x77);
  back = Get(*client_, "/t/tr");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == want);
}

TEST_F(FileTest, HolesReadAsZeros) {
  auto f = client_->Open("/t/h", kOpenWrite | kOpenCreate | kOpenExclusive);
  ASSERT_OK(f);
  Bytes a(100, 0x11), b(100, 0x22);
  ASSERT_OK((*f)->Pwrite(a.data(), a.size(), 10));
  ASSERT_OK((*f)->Pwrite(b.data(), b.size(), 4 * kCs + 50));
  ASSERT_OK((*f)->Close());
  Bytes want(4 * kCs + 150, 0);
  std::copy(a.begin(), a.end(), want.begin() + 10);
  std::copy(b.begin(), b.end(), want.begin() + 4 * kCs + 50);
  auto back = Get(*client_, "/t/h", 5000);
  ASSERT_OK(back);
  EXPECT_TRUE(*back == want);
  auto chunks = client_->FileChunks("/t/h");
  ASSERT_OK(chunks);
  ASSERT_EQ(chunks->slots.size(), 5u);
  EXPECT_TRUE(chunks->slots[1].id.empty());  // holes hold no chunk
  EXPECT_EQ(chunks->slots[0].length, 110u);
  // Exclusive create of an existing file fails.
  EXPECT_EQ(ErrcOf(client_->Open("/t/h", kOpenWrite | kOpenCreate | kOpenExclusive).status()),
            Errc::kExists);
}

TEST_F(FileTest, AppendAndSymlinks) {
  ASSERT_OK(Put(*client_, "/t/ap", Bytes(10, 1)));
  {
    auto f = client_->Open("/t/ap", kOpenWrite | kOpenAppend);
    ASSERT_OK(f);
    Bytes more(kCs, 2);
    ASSERT_OK((*f)->Write(more.data(), more.size()));
    ASSERT_OK((*f)->Pwrite(more.data(), 5, 0));  // O_APPEND: at the end as well
    ASSERT_OK((*f)->Close());
  }
  ASSERT_OK(client_->Symlink("ap", "/t/link"));
  auto back = Get(*client_, "/t/link");
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), 10 + kCs + 5);
  EXPECT_EQ((*back)[9], 1);
  EXPECT_EQ((*back)[10], 2);
  EXPECT_EQ(back->back(), 2);
}

TEST_F(FileTest, AppendsAfterOthersCommittedAndTruncatedBytesStayGone) {
  ASSERT_OK(Put(*client_, "/t/ap2", Bytes(10, 1)));
  // Both handles open before either writes; each append lands after what
  // the other committed.
  auto a = client_->Open("/t/ap2", kOpenWrite | kOpenAppend);
  auto b = client_->Open("/t/ap2", kOpenWrite | kOpenAppend);
  ASSERT_OK(a);
  ASSERT_OK(b);
  Bytes xs(100, 2), ys(100, 3);
  ASSERT_OK((*a)->Write(xs.data(), xs.size()));
  ASSERT_OK((*a)->Close());
  ASSERT_OK((*b)->Write(ys.data(), ys.size()));
  ASSERT_OK((*b)->Close());
  auto back = Get(*client_, "/t/ap2");
  ASSERT_OK(back);
  ASSERT_EQ(back->size(), 210u);
  EXPECT_EQ((*back)[10], 2);
  EXPECT_EQ((*back)[110], 3);

  // A handle that saw a larger size does not grow the file back after
  // someone else truncated it.
  ASSERT_OK(Put(*client_, "/t/tr2", Bytes(3 * kCs, 4)));
  auto w = client_->Open("/t/tr2", kOpenWrite);
  ASSERT_OK(w);
  ASSERT_OK(client_->SetAttr("/t/tr2", SetAttrArgs{.size = 100}));
  Bytes one(1, 5);
  ASSERT_OK((*w)->Pwrite(one.data(), 1, 0));
  ASSERT_OK((*w)->Close());
  auto cut = Get(*client_, "/t/tr2");
  ASSERT_OK(cut);
  ASSERT_EQ(cut->size(), 100u);
  EXPECT_EQ((*cut)[0], 5);
  EXPECT_EQ((*cut)[99], 4);
}

TEST_F(FileTest, OpenErrors) {
  EXPECT_EQ(ErrcOf(client_->Open("/t/missing", kOpenRead).status()), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(client_->Open("/t", kOpenRead).status()), Errc::kIsDir);
  EXPECT_EQ(ErrcOf(client_->Open("/t/x", 0).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(client_->Open("/t/x", kOpenRead | kOpenTruncate).status()), Errc::kInvalid);
  ASSERT_OK(Put(*client_, "/t/ro", Bytes(3, 3)));
  auto f = client_->Open("/t/ro", kOpenRead);
  ASSERT_OK(f);
  EXPECT_EQ(ErrcOf((*f)->Write("x", 1)), Errc::kBadFd);
  ASSERT_OK((*f)->Close());
  Bytes buf(1);
  EXPECT_EQ(ErrcOf((*f)->Read(buf.data(), 1).status()), Errc::kBadFd);
}

TEST_F(FileTest, ConcurrentWritersOfDifferentFiles) {
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::vector<absl::Status> results(kThreads);
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      Bytes data = TestBytes(3 * kCs + 1000 * i, 100 + i);
      const std::string path = "/t/c" + std::to_string(i);
      absl::Status s = Put(*client_, path, data, 10000);
      if (s.ok()) {
        auto back = Get(*client_, path);
        if (!back.ok()) {
          s = back.status();
        } else if (*back != data) {
          s = Error(Errc::kInternal, "content differs");
        }
      }
      results[i] = s;
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s;
}

TEST_F(FileTest, ConflictingCommitsMergeTheirRanges) {
  Bytes data = TestBytes(2 * kCs, 21);
  ASSERT_OK(Put(*client_, "/t/cf", data));
  auto other = Connect();
  auto a = client_->Open("/t/cf", kOpenWrite);
  auto b = other->Open("/t/cf", kOpenWrite);
  ASSERT_OK(a);
  ASSERT_OK(b);
  Bytes pa(100, 0xaa), pb(100, 0xbb);
  ASSERT_OK((*a)->Pwrite(pa.data(), pa.size(), 1000));
  ASSERT_OK((*b)->Pwrite(pb.data(), pb.size(), 5000));
  ASSERT_OK((*b)->Pwrite(pb.data(), pb.size(), kCs + 7));
  ASSERT_OK((*a)->Close());
  ASSERT_OK((*b)->Close());  // slot 0 changed under it: merged on top
  std::copy(pa.begin(), pa.end(), data.begin() + 1000);
  std::copy(pb.begin(), pb.end(), data.begin() + 5000);
  std::copy(pb.begin(), pb.end(), data.begin() + kCs + 7);
  auto back = Get(*client_, "/t/cf");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
}

TEST_F(FileTest, ConflictMergeReadsEveryPageOfAHugeSparseList) {
  // Slots past what one GetChunks reply carries (meta::kMaxChunksPerReply):
  // the re-read after a conflict and the open of a reader must page on, or
  // slot 70000 would look like a hole (not merged; read as zeros).
  constexpr uint64_t kFar = 70000;
  ASSERT_OK(Put(*client_, "/t/sparse", Bytes{}));
  auto other = Connect();
  auto a = client_->Open("/t/sparse", kOpenWrite);
  auto b = other->Open("/t/sparse", kOpenWrite);
  ASSERT_OK(a);
  ASSERT_OK(b);
  const uint8_t xa = 0xaa, xb = 0xbb;
  ASSERT_OK((*a)->Pwrite(&xa, 1, 0));
  ASSERT_OK((*a)->Pwrite(&xa, 1, kFar * kCs));
  ASSERT_OK((*b)->Pwrite(&xb, 1, 1));
  ASSERT_OK((*b)->Pwrite(&xb, 1, kFar * kCs + 1));
  ASSERT_OK((*a)->Close());
  ASSERT_OK((*b)->Close());
  auto f = client_->Open("/t/sparse", kOpenRead);
  ASSERT_OK(f);
  uint8_t got[2] = {};
  for (uint64_t at : {uint64_t{0}, kFar * kCs}) {
    auto n = (*f)->Pread(got, 2, at);
    ASSERT_OK(n);
    ASSERT_EQ(*n, 2u);
    EXPECT_EQ(got[0], xa) << at;
    EXPECT_EQ(got[1], xb) << at;
  }
}

TEST_F(FileTest, SequentialReadOfManyChunksWithReadAhead) {
  Bytes data = TestBytes(20 * kCs + 333, 31);
  ASSERT_OK(Put(*client_, "/t/big", data, 100000));
  for (size_t piece : {size_t{4096}, size_t{100000}, size_t{3 * kCs}}) {
    auto back = Get(*client_, "/t/big", piece);
    ASSERT_OK(back);
    EXPECT_TRUE(*back == data) << piece;
  }
}

TEST_F(FileTest, CorruptReplicaIsReadFromAnother) {
  Bytes data = TestBytes(4 * kCs, 41);
  ASSERT_OK(Put(*client_, "/t/bad", data));
  // Damage every chunk copy on two of the three servers: each chunk is
  // then readable from one replica only.
  int flipped = 0;
  for (int i : {0, 1}) {
    for (const auto& path : ChunkFiles(i)) {
      std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(-1, std::ios::end);
      char c;
      f.get(c);
      f.seekp(-1, std::ios::end);
      f.put(static_cast<char>(c ^ 0x5a));
      ++flipped;
    }
  }
  ASSERT_GE(flipped, 8);
  auto fresh = Connect();
  auto back = Get(*fresh, "/t/bad");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
  back = Get(*fresh, "/t/bad", 1000);
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
  EXPECT_NE(meta_->metrics()->Render().find("cairn_cluster_bad_chunk_reports_total"),
            std::string::npos);
}

TEST_F(FileTest, WriteGoesOnWhenAChainMemberDies) {
  Bytes before = TestBytes(2 * kCs, 51);
  ASSERT_OK(Put(*client_, "/t/before", before));
  servers_[2]->Stop();
  // Meta takes the node out of its chains once a client reports it (its
  // heartbeats stopped); the write retries on the shorter chains.
  Bytes data = TestBytes(6 * kCs + 5, 52);
  absl::Time start = absl::Now();
  ASSERT_OK(Put(*client_, "/t/after", data, 50000));
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  auto back = Get(*client_, "/t/after");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
  back = Get(*client_, "/t/before");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == before);
  auto status = client_->ClusterStatus();
  ASSERT_OK(status);
  int up = 0;
  for (const NodeStatus& n : status->nodes) up += n.state == NodeState::kUp;
  EXPECT_EQ(up, kServers - 1);
}

TEST_F(FileTest, WriteFailsAtTheDeadlineWhenNoServerIsUp) {
  auto c = Connect(absl::Seconds(2));
  for (auto& s : servers_) s->Stop();
  auto f = c->Open("/t/none", kOpenWrite | kOpenCreate);
  ASSERT_OK(f);
  Bytes data(1000, 1);
  ASSERT_OK((*f)->Write(data.data(), data.size()));
  absl::Status s = (*f)->Close();
  Errc code = ErrcOf(s);
  EXPECT_TRUE(code == Errc::kUnavailable || code == Errc::kTimeout) << s;
  // Nothing was committed.
  auto attr = client_->Stat("/t/none");
  ASSERT_OK(attr);
  EXPECT_EQ(attr->size, 0u);
}

TEST_F(FileTest, PoliciesAndClusterStatus) {
  auto p = client_->GetPolicy("/t");
  ASSERT_OK(p);
  EXPECT_EQ(p->stored.chunk_size, kCs);
  EXPECT_EQ(p->effective.chunk_size, kCs);
  EXPECT_EQ(p->effective.replicas, 3u);
  ASSERT_OK(client_->Mkdir("/t/two", 0755));
  StoragePolicy two;  // a policy is set whole: chunk_size 0 would mean 8 MiB
  two.replicas = 2;
  two.chunk_size = kCs;
  ASSERT_OK(client_->SetPolicy("/t/two", two));
  ASSERT_OK(Put(*client_, "/t/two/f", TestBytes(kCs + 1, 3)));
  int copies = 0;
  for (int i = 0; i < kServers; ++i) copies += static_cast<int>(ChunkFiles(i).size());
  // Only this file's 2 chunks, 2 copies each.
  EXPECT_EQ(copies, 4);
  auto chunks = client_->FileChunks("/t/two/f");
  ASSERT_OK(chunks);
  EXPECT_EQ(chunks->replicas, 2u);
  EXPECT_EQ(chunks->slots.size(), 2u);
  auto status = client_->ClusterStatus();
  ASSERT_OK(status);
  EXPECT_EQ(status->pg_count, 16u);
  EXPECT_EQ(status->replicas, 3u);
  EXPECT_EQ(status->nodes.size(), static_cast<size_t>(kServers));
  EXPECT_EQ(status->pgs.size(), 16u);
  EXPECT_GT(status->epoch, 0u);
}

// ---- Uploads never wait uncommitted for long (docs/gc.md, "Reconciliation")

// Polls `path`'s committed size (up to 20 s) until it is `size`; returns the last seen.
uint64_t WaitForSize(Client& c, const std::string& path, uint64_t size) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  uint64_t seen = 0;
  while (absl::Now() < deadline) {
    auto attr = c.Stat(path);
    if (attr.ok()) seen = attr->size;
    if (seen == size) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return seen;
}

TEST_F(FileTest, AnIdleOpenFileIsCommittedAfterMaxUncommittedAge) {
  ClientOptions o = Options();
  o.max_uncommitted_age = absl::Milliseconds(200);
  auto c = Connect(o);
  const Bytes data = TestBytes(2 * kCs + 100, 21);
  auto f = c->Open("/t/idle", kOpenWrite | kOpenCreate);
  ASSERT_OK(f);
  ASSERT_OK((*f)->Write(data.data(), data.size()));  // two slots uploaded, one buffered
  // No further call on the handle: the client commits on its own, the
  // buffered slot included.
  ASSERT_EQ(WaitForSize(*client_, "/t/idle", data.size()), data.size())
      << "the open file was never committed";
  auto back = Get(*client_, "/t/idle");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
  // The handle goes on as usual.
  const Bytes more = TestBytes(kCs, 22);
  ASSERT_OK((*f)->Pwrite(more.data(), more.size(), data.size()));
  ASSERT_OK((*f)->Close());
  Bytes whole = data;
  whole.insert(whole.end(), more.begin(), more.end());
  back = Get(*client_, "/t/idle");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == whole);
}

TEST(ClientOptionsTest, MaxUncommittedAgeMustBePositive) {
  ClientOptions o;
  o.meta_address = "127.0.0.1:1";
  for (absl::Duration age : {absl::ZeroDuration(), absl::Seconds(-1), absl::InfiniteDuration()}) {
    o.max_uncommitted_age = age;
    auto c = Client::Connect(o);
    EXPECT_EQ(ErrcOf(c.status()), Errc::kInvalid) << age;
    EXPECT_NE(c.status().message().find("max_uncommitted_age"), absl::string_view::npos)
        << c.status();
  }
  o.max_uncommitted_age = absl::Milliseconds(1);
  EXPECT_TRUE(Client::Connect(o).ok());
}

// ---- Riding out a meta restart (client/rpc.h)

// A MetaServer on RocksDB (so a restart keeps the namespace) and three
// ChunkServers; meta can be stopped and started again on the same port.
class MetaRestartTest : public FileTest {
 protected:
  void SetUp() override {
    options_ = testing::TestMetaOptions(kServers);
    options_.store = "rocksdb:" + dir_.Sub("meta");
    options_.shutdown_grace = absl::Milliseconds(200);
    auto meta = service::MetaServer::Start(options_);
    ASSERT_OK(meta);
    meta_ = std::move(*meta);
    options_.grpc_listen = meta_->grpc_address();  // the same port after a restart
    for (int i = 0; i < kServers; ++i) StartServer(i);
    testing::WaitForFullChains(*meta_, kServers);
    if (HasFatalFailure()) return;
    client_ = Connect();
    ASSERT_OK(client_->Mkdir("/t", 0755));
  }

  void StopMeta() {
    ASSERT_OK(meta_->Shutdown());
    meta_.reset();
  }
  void StartMeta() {
    auto meta = service::MetaServer::Start(options_);
    ASSERT_OK(meta);
    meta_ = std::move(*meta);
  }

  service::MetaServerOptions options_;
};

TEST_F(MetaRestartTest, CallsWaitForMetaToComeBack) {
  StopMeta();
  // Calls made while meta is away wait for it instead of failing.
  std::atomic<bool> done{false};
  absl::Status made, created;
  std::thread caller([&] {
    made = client_->Mkdir("/t/d", 0755).status();
    created = client_->Create("/t/d/f", 0644, /*exclusive=*/true).status();
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_FALSE(done.load());
  StartMeta();
  caller.join();
  EXPECT_TRUE(made.ok()) << made;
  EXPECT_TRUE(created.ok()) << created;
  auto attr = client_->Stat("/t/d/f");
  ASSERT_OK(attr);
  EXPECT_EQ(attr->type, FileType::kRegular);
}

TEST_F(MetaRestartTest, AnOpenFileCommitsAfterARestart) {
  const Bytes data = TestBytes(3 * kCs + 100, 7);
  auto f = client_->Open("/t/f", kOpenWrite | kOpenCreate);
  ASSERT_OK(f);
  ASSERT_OK((*f)->Write(data.data(), data.size()));
  StopMeta();
  std::thread restart([&] {
    absl::SleepFor(absl::Seconds(1));
    StartMeta();
  });
  absl::Status closed = (*f)->Close();  // uploads, then commits once meta is back
  restart.join();
  ASSERT_OK(closed);
  auto back = Get(*client_, "/t/f");
  ASSERT_OK(back);
  EXPECT_TRUE(*back == data);
}

TEST_F(MetaRestartTest, GivesUpAtTheDeadline) {
  ClientOptions o;
  o.meta_address = meta_->grpc_address();
  o.meta_retry_deadline = absl::Seconds(1);
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  ASSERT_OK((*c)->Stat("/t"));
  StopMeta();
  const absl::Time start = absl::Now();
  auto attr = (*c)->Stat("/t");
  EXPECT_EQ(ErrcOf(attr.status()), Errc::kUnavailable) << attr.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(900));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // Without a retry deadline a call fails at once.
  o.meta_retry_deadline = absl::ZeroDuration();
  auto once = Client::Connect(o);
  ASSERT_OK(once);
  const absl::Time again = absl::Now();
  EXPECT_EQ(ErrcOf((*once)->Stat("/t").status()), Errc::kUnavailable);
  EXPECT_LT(absl::Now() - again, absl::Seconds(1));
}

// Batches travel on streams the client keeps open; after a restart the
// kept streams are dead, and the next batch goes on a new one: a client
// that does not repeat calls (no retry deadline) sees no failure once
// meta is back.
TEST_F(MetaRestartTest, KeptBatchStreamsAreReplacedAfterARestart) {
  ClientOptions o;
  o.meta_address = meta_->grpc_address();
  o.meta_retry_deadline = absl::ZeroDuration();
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  ASSERT_OK((*c)->Stat("/t"));
  ASSERT_OK((*c)->Mkdir("/t/before", 0755));
  StopMeta();
  StartMeta();
  ASSERT_OK((*c)->Stat("/t"));
  ASSERT_OK((*c)->Mkdir("/t/after", 0755));
  auto attr = client_->Stat("/t/before");
  ASSERT_OK(attr);
}

TEST_F(MetaRestartTest, AFailedBackgroundCommitIsReportedAtClose) {
  StoragePolicy policy;
  policy.chunk_size = kCs;
  ASSERT_OK(client_->SetPolicy("/t", policy));
  ClientOptions o = Options();
  o.max_uncommitted_age = absl::Milliseconds(200);
  o.meta_retry_deadline = absl::ZeroDuration();  // calls fail at once while meta is away
  auto c = Connect(o);
  auto f = c->Open("/t/f", kOpenWrite | kOpenCreate);
  ASSERT_OK(f);
  const Bytes first = TestBytes(kCs, 31);
  ASSERT_OK((*f)->Write(first.data(), first.size()));
  ASSERT_OK((*f)->Fsync());
  StopMeta();
  const Bytes second = TestBytes(kCs, 32);
  ASSERT_OK((*f)->Write(second.data(), second.size()));  // a full slot: uploaded
  // The commit the client makes on its own fails; the handle keeps the
  // error (a write of nothing reports it without changing anything).
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  absl::Status probe;
  while (probe.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    probe = (*f)->Write(second.data(), 0);
  }
  ASSERT_FALSE(probe.ok()) << "the background commit never failed";
  EXPECT_EQ(ErrcOf(probe), Errc::kUnavailable) << probe;
  // The upload itself worked: both chunks are on every server.
  int copies = 0;
  for (int i = 0; i < kServers; ++i) copies += static_cast<int>(ChunkFiles(i).size());
  EXPECT_EQ(copies, 2 * kServers);
  StartMeta();
  // Meta is back, and Close still reports the failed commit.
  absl::Status closed = (*f)->Close();
  EXPECT_EQ(ErrcOf(closed), Errc::kUnavailable) << closed;
  auto attr = client_->Stat("/t/f");
  ASSERT_OK(attr);
  EXPECT_EQ(attr->size, kCs);  // the second chunk never got in
}

TEST(MetaConnectTest, AClientThatNeverReachedMetaGivesUpSoon) {
  ClientOptions o;
  o.meta_address = "127.0.0.1:1";  // nothing listens there
  o.meta_connect_deadline = absl::Milliseconds(700);
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  const absl::Time start = absl::Now();
  auto attr = (*c)->Stat("/");
  EXPECT_EQ(ErrcOf(attr.status()), Errc::kUnavailable) << attr.status();
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(600));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // A negative deadline is refused.
  o.meta_retry_deadline = absl::Seconds(-1);
  EXPECT_EQ(ErrcOf(Client::Connect(o).status()), Errc::kInvalid);
}

}  // namespace
}  // namespace cairn

// Fsck against a real MetaServer (memory store) and three ChunkServers in
// one process on 127.0.0.1 port 0: a clean tree, a missing copy (found by
// the full and the quick check), a damaged copy, repair, a lost chunk named
// by path and offset, and bad arguments. Every case runs with the 64 KiB
// chunks in chunk files (small_chunk_limit 0) and in volume records (128
// KiB, the `cairn chunk` default).
#include "cairn/fsck.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "cairn/client.h"
#include "chunk/file_chunk_store.h"
#include "chunk/multi_dir_chunk_store.h"
#include "chunk/test_util.h"
#include "chunk/tiered_chunk_store.h"
#include "chunk/volume_chunk_store.h"
#include "chunkserver/chunk_server.h"
#include "client/test_cluster.h"
#include "gtest/gtest.h"
#include "service/meta_server.h"

namespace cairn {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;

constexpr uint64_t kCs = 64 << 10;
constexpr int kServers = 3;

// The chunk servers' small_chunk_limit.
class FsckTest : public ::testing::TestWithParam<uint64_t> {
 protected:
  void SetUp() override {
    auto meta = service::MetaServer::Start(testing::TestMetaOptions(kServers));
    ASSERT_TRUE(meta.ok()) << meta.status();
    meta_ = std::move(*meta);
    for (int i = 0; i < kServers; ++i) {
      chunkserver::ChunkServerOptions o = testing::TestChunkServerOptions(
          meta_->grpc_address(), dir_.Sub("cs" + std::to_string(i)));
      o.scrub_interval = absl::ZeroDuration();
      o.small_chunk_limit = GetParam();
      auto server = chunkserver::ChunkServer::Start(o);
      ASSERT_TRUE(server.ok()) << server.status();
      ASSERT_TRUE((*server)->WaitRegistered(absl::Seconds(10)));
      servers_.push_back(std::move(*server));
    }
    testing::WaitForFullChains(*meta_, kServers);
    if (HasFatalFailure()) return;
    options_.meta_address = meta_->grpc_address();
    options_.timeout = absl::Seconds(10);
    auto c = Client::Connect(options_);
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = std::move(*c);
    ASSERT_TRUE(client_->Mkdir("/t", 0755).ok());
    StoragePolicy policy;
    policy.chunk_size = kCs;
    ASSERT_TRUE(client_->SetPolicy("/t", policy).ok());
  }

  void Put(const std::string& path, size_t size, uint64_t seed) {
    auto f = client_->Open(path, kOpenWrite | kOpenCreate | kOpenTruncate);
    ASSERT_TRUE(f.ok()) << f.status();
    auto data = TestBytes(size, seed);
    ASSERT_TRUE((*f)->Write(data.data(), data.size()).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }

  // The server holding copy `member` (chain position) of `slot`.
  chunkserver::ChunkServer* Holder(const SlotChunk& slot, size_t member) {
    for (auto& s : servers_) {
      if (s->node_id() == slot.chain[member].node) return s.get();
    }
    return nullptr;
  }

  // Flips data byte 100 of the copy of chunk `hex` on `server`, behind its
  // store's back: in its chunk file, or in its record in a volume file
  // (docs/chunk-format.md), whichever the server's limit chose.
  void Damage(chunkserver::ChunkServer* server, const std::string& hex) {
    const ChunkId id = *ChunkId::Parse(hex);
    auto* multi = dynamic_cast<chunk::MultiDirChunkStore*>(server->store());
    ASSERT_NE(multi, nullptr);
    auto* tiered = dynamic_cast<chunk::TieredChunkStore*>(multi->store(0));
    ASSERT_EQ(tiered != nullptr, GetParam() > 0);
    std::string path;
    uint64_t data_offset = 0;
    if (tiered != nullptr) {
      // 64 KiB chunks are below the limit: records in a volume.
      auto* volumes = dynamic_cast<chunk::VolumeChunkStore*>(tiered->small());
      ASSERT_NE(volumes, nullptr);
      auto place = volumes->Locate(id);
      ASSERT_TRUE(place.ok()) << place.status();
      path = place->path;
      data_offset = place->data_offset;
    } else {
      auto* file = dynamic_cast<chunk::FileChunkStore*>(multi->store(0));
      ASSERT_NE(file, nullptr);
      path = file->ChunkPath(id);
      data_offset = 4096;  // docs/chunk-format.md: chunks below 63 MiB
    }
    std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
    ASSERT_TRUE(f.good()) << path;
    char c = 0;
    f.seekg(static_cast<std::streamoff>(data_offset + 100));
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(static_cast<std::streamoff>(data_offset + 100));
    f.write(&c, 1);
    ASSERT_TRUE(f.good()) << path;
  }

  FsckReport Run(const FsckOptions& o) {
    auto r = Fsck(options_, o);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : FsckReport{};
  }

  ScratchDir dir_;
  std::unique_ptr<service::MetaServer> meta_;
  std::vector<std::unique_ptr<chunkserver::ChunkServer>> servers_;
  ClientOptions options_;
  std::unique_ptr<Client> client_;
};

TEST_P(FsckTest, FindsAndRepairsMissingAndBadCopies) {
  Put("/t/a", 5 * kCs + 10, 1);
  Put("/t/b", 3 * kCs, 2);
  ASSERT_TRUE(client_->Mkdir("/t/sub", 0755).ok());
  Put("/t/sub/c", kCs / 2, 3);

  FsckReport r = Run(FsckOptions{});
  EXPECT_TRUE(r.whole());
  EXPECT_EQ(r.files, 3u);
  EXPECT_EQ(r.chunks, 6u + 3u + 1u);
  EXPECT_EQ(r.copies_checked, 3 * r.chunks);
  EXPECT_EQ(r.bytes_read, 3 * (5 * kCs + 10 + 3 * kCs + kCs / 2));

  auto a = client_->FileChunks("/t/a");
  auto b = client_->FileChunks("/t/b");
  ASSERT_TRUE(a.ok() && b.ok());
  const SlotChunk& gone = a->slots[2];
  const SlotChunk& bad = b->slots[1];
  chunkserver::ChunkServer* gone_at = Holder(gone, 1);
  chunkserver::ChunkServer* bad_at = Holder(bad, 2);
  ASSERT_TRUE(gone_at->store()->Delete(*ChunkId::Parse(gone.id)).ok());
  Damage(bad_at, bad.id);

  FsckOptions quick;
  quick.quick = true;
  r = Run(quick);
  EXPECT_FALSE(r.whole());
  EXPECT_EQ(r.missing_copies, 1u);
  EXPECT_EQ(r.bad_copies, 0u);  // blind to damage
  EXPECT_EQ(r.bytes_read, 0u);

  r = Run(FsckOptions{});
  EXPECT_FALSE(r.whole());
  EXPECT_EQ(r.missing_copies, 1u);
  EXPECT_EQ(r.bad_copies, 1u);
  EXPECT_EQ(r.under_replicated, 2u);
  EXPECT_EQ(r.still_under_replicated, 2u);
  EXPECT_EQ(r.lost_chunks, 0u);
  ASSERT_EQ(r.issues.size(), 2u);
  EXPECT_EQ(r.issues[0].path, "/t/a");
  EXPECT_EQ(r.issues[0].offset, 2 * kCs);
  EXPECT_EQ(r.issues[0].problem, CopyProblem::kMissing);
  EXPECT_EQ(r.issues[0].node, gone_at->node_id());
  EXPECT_EQ(r.issues[1].path, "/t/b");
  EXPECT_EQ(r.issues[1].problem, CopyProblem::kBad);
  EXPECT_EQ(r.issues[1].node, bad_at->node_id());

  FsckOptions repair;
  repair.repair = true;
  repair.parallelism = 3;
  r = Run(repair);
  EXPECT_TRUE(r.whole()) << r.missing_copies << " " << r.bad_copies << " " << r.repaired_copies;
  EXPECT_EQ(r.repair_failures, 0u);
  EXPECT_TRUE(gone_at->store()->Has(*ChunkId::Parse(gone.id)));

  r = Run(FsckOptions{});
  EXPECT_TRUE(r.whole());
  EXPECT_EQ(r.missing_copies + r.bad_copies, 0u);
}

TEST_P(FsckTest, ChunkWithoutAGoodCopyIsLostAndNamed) {
  Put("/t/x", 3 * kCs, 4);
  auto x = client_->FileChunks("/t/x");
  ASSERT_TRUE(x.ok());
  const SlotChunk& slot = x->slots[1];
  for (size_t m = 0; m < slot.chain.size(); ++m) Damage(Holder(slot, m), slot.id);
  FsckOptions o;
  o.path = "/t/x";
  o.repair = true;
  FsckReport r = Run(o);
  EXPECT_FALSE(r.whole());
  EXPECT_EQ(r.files, 1u);
  EXPECT_EQ(r.lost_chunks, 1u);
  ASSERT_EQ(r.lost.size(), 1u);
  EXPECT_EQ(r.lost[0].path, "/t/x");
  EXPECT_EQ(r.lost[0].offset, kCs);
  EXPECT_EQ(r.lost[0].chunk_id, slot.id);
  EXPECT_EQ(r.repaired_copies, 0u);
}

TEST_P(FsckTest, SeesChunksPastTheFirstPageOfAHugeSparseFile) {
  // More slots than one GetChunks reply carries (meta::kMaxChunksPerReply):
  // FileChunks and fsck page on, or slot 70000 would look like a hole.
  constexpr uint64_t kFar = 70000;
  {
    auto f = client_->Open("/t/sparse", kOpenWrite | kOpenCreate);
    ASSERT_TRUE(f.ok()) << f.status();
    const uint8_t x = 0x5a;
    ASSERT_TRUE((*f)->Pwrite(&x, 1, 0).ok());
    ASSERT_TRUE((*f)->Pwrite(&x, 1, kFar * kCs).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  auto info = client_->FileChunks("/t/sparse");
  ASSERT_TRUE(info.ok()) << info.status();
  ASSERT_EQ(info->slots.size(), kFar + 1);
  const SlotChunk& far = info->slots[kFar];
  EXPECT_EQ(far.offset, kFar * kCs);
  EXPECT_EQ(far.length, 1u);
  ASSERT_FALSE(far.id.empty());
  ASSERT_EQ(far.chain.size(), static_cast<size_t>(kServers));

  FsckOptions o;
  o.path = "/t/sparse";
  FsckReport r = Run(o);
  EXPECT_TRUE(r.whole());
  EXPECT_EQ(r.chunks, 2u);
  ASSERT_TRUE(Holder(far, 0)->store()->Delete(*ChunkId::Parse(far.id)).ok());
  r = Run(o);
  EXPECT_EQ(r.missing_copies, 1u);
  ASSERT_EQ(r.issues.size(), 1u);
  EXPECT_EQ(r.issues[0].offset, kFar * kCs);
}

TEST_P(FsckTest, ReadOfAChunkGoneFromEveryHolderIsAnIoErrorNotAMissingFile) {
  Put("/t/gone", 2 * kCs, 5);
  auto info = client_->FileChunks("/t/gone");
  ASSERT_TRUE(info.ok()) << info.status();
  const SlotChunk& slot = info->slots[1];
  for (size_t m = 0; m < slot.chain.size(); ++m) {
    ASSERT_TRUE(Holder(slot, m)->store()->Delete(*ChunkId::Parse(slot.id)).ok());
  }
  auto f = client_->Open("/t/gone", kOpenRead);
  ASSERT_TRUE(f.ok()) << f.status();
  std::vector<uint8_t> buf(kCs);
  EXPECT_TRUE((*f)->Pread(buf.data(), buf.size(), 0).ok());
  absl::StatusOr<size_t> n = (*f)->Pread(buf.data(), buf.size(), kCs);
  EXPECT_EQ(ErrcOf(n.status()), Errc::kIo) << n.status();
  EXPECT_TRUE(client_->Stat("/t/gone").ok());
}

TEST_P(FsckTest, BadArguments) {
  FsckOptions o;
  o.path = "/nope";
  EXPECT_EQ(ErrcOf(Fsck(options_, o).status()), Errc::kNotFound);
  o.path = "relative";
  EXPECT_EQ(ErrcOf(Fsck(options_, o).status()), Errc::kInvalid);
  o.path = "/";
  o.parallelism = 0;
  EXPECT_EQ(ErrcOf(Fsck(options_, o).status()), Errc::kInvalid);
}

INSTANTIATE_TEST_SUITE_P(Stores, FsckTest, ::testing::Values(uint64_t{0}, uint64_t{128} << 10),
                         [](const ::testing::TestParamInfo<uint64_t>& info) {
                           return info.param == 0 ? std::string("ChunkFiles")
                                                  : std::string("Volumes");
                         });

}  // namespace
}  // namespace cairn

// Scrubber over a real FileChunkStore in a scratch directory, with an
// in-process "other replica" (a MemoryChunkStore) as the repair source:
// damaged files are found, quarantined and repaired (kept when no good
// copy exists), good ones are left alone, the rate limit holds, and the
// status and metrics add up.
#include "chunkserver/scrubber.h"

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "chunk/file_chunk_store.h"
#include "chunk/memory_chunk_store.h"
#include "chunk/test_util.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::FilesBelow;
using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;
namespace fs = std::filesystem;

// The other members of the chain, in memory.
class FakePeers final : public ScrubPeers {
 public:
  chunk::MemoryChunkStore replica;

  absl::StatusOr<AlignedBuffer> FetchGoodCopy(ChunkId id) override {
    absl::MutexLock l(&mu_);
    ++fetches_;
    return replica.Get(id, 0, chunk::kToEnd);
  }
  void ReportBad(ChunkId id, std::string_view reason) override {
    absl::MutexLock l(&mu_);
    reported_.push_back(id);
    EXPECT_FALSE(reason.empty());
  }
  std::vector<ChunkId> reported() {
    absl::MutexLock l(&mu_);
    return reported_;
  }
  int fetches() {
    absl::MutexLock l(&mu_);
    return fetches_;
  }

 private:
  absl::Mutex mu_;
  std::vector<ChunkId> reported_;
  int fetches_ = 0;
};

void FlipByte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::binary | std::ios::in | std::ios::out);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.read(&c, 1);
  c = static_cast<char>(c ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&c, 1);
}

class ScrubberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    chunk::FileChunkStoreOptions o;
    o.dirs = {scratch_.Sub("d0")};
    auto s = chunk::FileChunkStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  // Stores `n` chunks here and on the fake replica.
  void Fill(int n, size_t size) {
    for (int i = 0; i < n; ++i) {
      ChunkId id = ChunkId::Random();
      auto data = TestBytes(size + static_cast<size_t>(i) * 1000, 100 + static_cast<uint64_t>(i));
      ASSERT_TRUE(store_->PutComputingCrcs(id, data).ok());
      ASSERT_TRUE(peers_.replica.PutComputingCrcs(id, data).ok());
      data_[id] = std::move(data);
    }
  }

  std::unique_ptr<Scrubber> MakeScrubber(uint64_t rate = uint64_t{1} << 30) {
    ScrubberOptions o;
    o.rate_bytes_per_sec = rate;
    o.interval = absl::ZeroDuration();  // on demand only
    o.list_page = 7;                    // several pages
    auto s = std::make_unique<Scrubber>(store_.get(), &peers_, o, &metrics_);
    EXPECT_TRUE(s->Start().ok());
    return s;
  }

  void ExpectAllIntact() {
    for (const auto& [id, bytes] : data_) {
      auto got = store_->Get(id, 0, chunk::kToEnd);
      ASSERT_TRUE(got.ok()) << id.ToString() << ": " << got.status();
      EXPECT_EQ(std::vector<uint8_t>(got->data(), got->data() + got->size()), bytes);
    }
  }

  uint64_t Metric(const std::string& name) {
    std::string text = metrics_.Render();
    size_t at = text.find("\n" + name + " ");
    if (at == std::string::npos) return ~uint64_t{0};
    return std::stoull(text.substr(at + name.size() + 2));
  }

  ScratchDir scratch_;
  std::unique_ptr<chunk::FileChunkStore> store_;
  FakePeers peers_;
  service::MetricsRegistry metrics_;
  std::map<ChunkId, std::vector<uint8_t>> data_;
};

TEST_F(ScrubberTest, FindsQuarantinesAndRepairsEveryDamagedCopy) {
  Fill(30, 150'000);
  // Damage 5 chunks in different ways: data blocks, the CRC table, the header.
  std::vector<ChunkId> ids;
  for (const auto& [id, unused] : data_) ids.push_back(id);
  std::vector<ChunkId> damaged = {ids[0], ids[3], ids[11], ids[20], ids[29]};
  FlipByte(store_->ChunkPath(ids[0]), 4096 + 10);
  FlipByte(store_->ChunkPath(ids[3]), 4096 + 140'000);
  FlipByte(store_->ChunkPath(ids[11]), 4096 + 70'000);
  FlipByte(store_->ChunkPath(ids[20]), 64 + 2);  // CRC table
  FlipByte(store_->ChunkPath(ids[29]), 9);       // header
  // Undamaged files must not be touched: remember their inodes.
  std::map<ChunkId, fs::file_time_type> mtimes;
  for (ChunkId id : ids) mtimes[id] = fs::last_write_time(store_->ChunkPath(id));

  auto scrubber = MakeScrubber();
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  ScrubStatus st = scrubber->status();
  EXPECT_FALSE(st.running);
  EXPECT_EQ(st.cycles_completed, 1u);
  EXPECT_EQ(st.chunks_total, 30u);
  EXPECT_EQ(st.chunks_done, 30u);
  EXPECT_EQ(st.bad_found, 5u);
  EXPECT_EQ(st.repaired, 5u);
  EXPECT_EQ(st.unrepaired, 0u);
  EXPECT_EQ(st.waiting_repair, 0u);
  EXPECT_GT(st.last_end_ns, 0);
  EXPECT_GE(st.last_end_ns, st.last_start_ns);

  auto reported = peers_.reported();
  std::sort(reported.begin(), reported.end());
  std::sort(damaged.begin(), damaged.end());
  EXPECT_EQ(reported, damaged);
  EXPECT_EQ(FilesBelow(scratch_.Sub("d0/quarantine")).size(), 5u);
  ExpectAllIntact();
  for (ChunkId id : ids) {
    if (std::find(damaged.begin(), damaged.end(), id) != damaged.end()) continue;
    EXPECT_EQ(fs::last_write_time(store_->ChunkPath(id)), mtimes[id]) << id.ToString();
  }
  EXPECT_EQ(Metric("cairn_chunk_scrub_chunks_total"), 30u);
  EXPECT_EQ(Metric("cairn_chunk_scrub_bad_total"), 5u);
  EXPECT_EQ(Metric("cairn_chunk_scrub_repaired_total"), 5u);
  EXPECT_EQ(Metric("cairn_chunk_scrub_unrepaired_total"), 0u);
  EXPECT_EQ(Metric("cairn_chunk_scrub_running"), 0u);
  EXPECT_GT(Metric("cairn_chunk_scrub_last_complete_timestamp_seconds"), 1'600'000'000u);

  // A second cycle finds nothing: the repaired copies verify.
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  st = scrubber->status();
  EXPECT_EQ(st.cycles_completed, 2u);
  EXPECT_EQ(st.bad_found, 0u);
  EXPECT_EQ(st.total_bad, 5u);
  uint64_t bytes = 0;
  for (const auto& [unused, b] : data_) bytes += b.size();
  EXPECT_EQ(st.bytes_done, bytes);
  // The first cycle read all but the 5 damaged copies, the second all.
  EXPECT_GT(Metric("cairn_chunk_scrub_bytes_total"), bytes);
  EXPECT_LT(Metric("cairn_chunk_scrub_bytes_total"), 2 * bytes);
}

// Issue 4, finding 7: with no good copy on any other member the damaged
// copy is the only one left: it stays where it is (an operator can still
// salvage its bytes), reported as unrepaired, and is repaired once a good
// copy turns up.
TEST_F(ScrubberTest, NoGoodCopyKeepsTheDamagedCopyAndRepairsItLater) {
  Fill(4, 100'000);
  ChunkId victim = data_.begin()->first;
  ASSERT_TRUE(peers_.replica.Delete(victim).ok());  // nowhere else
  FlipByte(store_->ChunkPath(victim), 4096 + 500);
  const std::string path = store_->ChunkPath(victim);
  auto scrubber = MakeScrubber();
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  ScrubStatus st = scrubber->status();
  EXPECT_EQ(st.bad_found, 1u);
  EXPECT_EQ(st.repaired, 0u);
  EXPECT_EQ(st.unrepaired, 1u);
  EXPECT_EQ(st.waiting_repair, 1u);
  EXPECT_EQ(ErrcOf(store_->Get(victim, 0, chunk::kToEnd).status()), Errc::kCorrupt);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(FilesBelow(scratch_.Sub("d0/quarantine")).size(), 0u);
  EXPECT_EQ(Metric("cairn_chunk_scrub_unrepaired_total"), 1u);
  EXPECT_EQ(peers_.reported(), std::vector<ChunkId>{victim});

  // Still no copy: the next cycle finds it again, keeps it, counts nothing
  // twice.
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  st = scrubber->status();
  EXPECT_EQ(st.total_bad, 1u);
  EXPECT_EQ(st.total_unrepaired, 1u);
  EXPECT_EQ(st.waiting_repair, 1u);
  EXPECT_TRUE(fs::exists(path));

  // A good copy turns up: the next cycle repairs it, counted once.
  ASSERT_TRUE(peers_.replica.PutComputingCrcs(victim, data_[victim]).ok());
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  st = scrubber->status();
  EXPECT_EQ(st.repaired, 1u);
  EXPECT_EQ(st.waiting_repair, 0u);
  EXPECT_EQ(st.total_unrepaired, 1u);
  EXPECT_EQ(FilesBelow(scratch_.Sub("d0/quarantine")).size(), 1u);
  ExpectAllIntact();
}

// The unrepaired set lives in memory; the damaged copy itself stays in the
// store, so a scrubber started afresh (a restart) finds it again.
TEST_F(ScrubberTest, UnrepairedCopyIsFoundAgainAfterARestart) {
  Fill(3, 70'000);
  ChunkId victim = data_.begin()->first;
  ASSERT_TRUE(peers_.replica.Delete(victim).ok());
  FlipByte(store_->ChunkPath(victim), 4096 + 7);
  {
    auto scrubber = MakeScrubber();
    ASSERT_TRUE(scrubber->StartCycle());
    ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
    EXPECT_EQ(scrubber->status().waiting_repair, 1u);
  }
  auto again = MakeScrubber();
  EXPECT_EQ(again->status().waiting_repair, 0u);
  ASSERT_TRUE(again->StartCycle());
  ASSERT_TRUE(again->WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(again->status().bad_found, 1u);
  EXPECT_EQ(again->status().waiting_repair, 1u);
  EXPECT_EQ(ErrcOf(store_->Get(victim, 0, chunk::kToEnd).status()), Errc::kCorrupt);
  EXPECT_EQ(peers_.reported().size(), 2u);  // once per scrubber's life
}

TEST_F(ScrubberTest, ReportedCorruptChunkIsHandledWithoutACycleAndStaleReportsChangeNothing) {
  Fill(5, 80'000);
  auto it = data_.begin();
  ChunkId bad = it->first;
  ChunkId fine = (++it)->first;
  FlipByte(store_->ChunkPath(bad), 4096 + 1);
  auto scrubber = MakeScrubber();
  scrubber->ReportCorrupt(bad);
  scrubber->ReportCorrupt(fine);  // stale: its copy verifies
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  ScrubStatus st = scrubber->status();
  EXPECT_EQ(st.cycles_completed, 0u);
  EXPECT_EQ(st.total_bad, 1u);
  EXPECT_EQ(st.total_repaired, 1u);
  EXPECT_EQ(peers_.reported(), std::vector<ChunkId>{bad});
  EXPECT_EQ(FilesBelow(scratch_.Sub("d0/quarantine")).size(), 1u);
  ExpectAllIntact();
}

TEST_F(ScrubberTest, RateLimitIsHonoured) {
  Fill(16, 256 * 1024);  // ~4.1 MB
  uint64_t total = 0;
  for (const auto& [unused, b] : data_) total += b.size();
  const uint64_t rate = 8 << 20;  // 8 MiB/s: about half a second
  auto scrubber = MakeScrubber(rate);
  const absl::Time start = absl::Now();
  ASSERT_TRUE(scrubber->StartCycle());
  ASSERT_TRUE(scrubber->WaitIdle(absl::Seconds(30)));
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  const double expected = static_cast<double>(total) / static_cast<double>(rate);
  // Paced before each chunk: the last one is read without waiting after it.
  EXPECT_GE(seconds, expected * 0.85) << "read " << total << " bytes in " << seconds << " s";
  EXPECT_LT(seconds, expected * 4 + 2);
  EXPECT_EQ(scrubber->status().chunks_done, 16u);
}

// The status StartCycle hands back is the one of the moment of the request,
// so a caller can tell when the cycle it asked for has ended however fast
// that cycle is; a request not yet taken up is shared by later ones.
TEST_F(ScrubberTest, StartCycleReportsTheStatusBeforeTheCycleItAskedFor) {
  Fill(3, 10'000);
  ScrubberOptions o;
  o.interval = absl::ZeroDuration();
  Scrubber scrubber(store_.get(), &peers_, o, &metrics_);
  ScrubStatus first;
  ScrubStatus second;
  ASSERT_TRUE(scrubber.StartCycle(&first));   // not started yet: the request waits
  ASSERT_TRUE(scrubber.StartCycle(&second));  // shares it
  for (const ScrubStatus& s : {first, second}) {
    EXPECT_FALSE(s.running);
    EXPECT_EQ(s.cycles_completed, 0u);
    EXPECT_EQ(s.last_start_ns, 0);
  }
  ASSERT_TRUE(scrubber.Start().ok());
  ASSERT_TRUE(scrubber.WaitIdle(absl::Seconds(30)));
  EXPECT_EQ(scrubber.status().cycles_completed, 1u);  // one cycle for both
  EXPECT_EQ(scrubber.status().chunks_done, 3u);
  // Cycles this small end within microseconds, often before a caller could
  // read the status again; the status of the request still predates them.
  for (uint64_t i = 1; i <= 20; ++i) {
    ScrubStatus before;
    ASSERT_TRUE(scrubber.StartCycle(&before));
    EXPECT_FALSE(before.running);
    EXPECT_EQ(before.cycles_completed, i);
    ASSERT_TRUE(scrubber.WaitIdle(absl::Seconds(30)));
    const ScrubStatus after = scrubber.status();
    EXPECT_EQ(after.cycles_completed, i + 1);
    EXPECT_GT(after.last_start_ns, before.last_start_ns);
  }
  scrubber.Stop();
  EXPECT_FALSE(scrubber.StartCycle());  // stopped: no cycle would run
}

TEST_F(ScrubberTest, StartCycleWhileRunningIsRefusedAndStopIsPrompt) {
  Fill(8, 256 * 1024);
  auto scrubber = MakeScrubber(/*rate=*/256 * 1024);  // ~8 s for everything
  ASSERT_TRUE(scrubber->StartCycle());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!scrubber->status().running && absl::Now() < deadline)
    absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(scrubber->status().running);
  EXPECT_FALSE(scrubber->StartCycle());
  const absl::Time stop_start = absl::Now();
  scrubber->Stop();
  EXPECT_LT(absl::Now() - stop_start, absl::Seconds(2));
  EXPECT_EQ(scrubber->status().cycles_completed, 0u);  // abandoned, not complete
  EXPECT_FALSE(scrubber->status().running);
}

TEST_F(ScrubberTest, BadOptionsAreRefused) {
  ScrubberOptions o;
  o.rate_bytes_per_sec = 0;
  Scrubber s(store_.get(), &peers_, o, nullptr);
  EXPECT_EQ(ErrcOf(s.Start()), Errc::kInvalid);
  ScrubberOptions o2;
  o2.interval = -absl::Seconds(1);
  Scrubber s2(store_.get(), &peers_, o2, nullptr);
  EXPECT_EQ(ErrcOf(s2.Start()), Errc::kInvalid);
}

}  // namespace
}  // namespace cairn::chunkserver

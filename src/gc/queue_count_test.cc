// QueueCount against the real namespace on the memory store, with queue
// entries written straight into the store at chosen queue times.
#include "gc/queue_count.h"

#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta/keys.h"
#include "store/memory_store.h"

namespace cairn::gc {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'700'000'000 * kSec;

class QueueCountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ns = meta::Namespace::Open(&store_, {}, &clock_);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
  }

  // Writes `n` entries queued at `queued_ns`, each holding `chunks` ids.
  void Queue(int64_t queued_ns, int n, int chunks = 2) {
    std::unique_ptr<store::Txn> txn = store_.Begin();
    for (int i = 0; i < n; ++i) {
      proto::GcEntry e;
      e.set_ino(100 + static_cast<uint64_t>(i));
      e.set_queued_ns(queued_ns);
      for (int c = 0; c < chunks; ++c) e.add_chunk_ids("chunk-" + std::to_string(++seq_));
      txn->Put(meta::keys::GcQueue(queued_ns, InodeId(100 + static_cast<uint64_t>(i)), ++seq_),
               e.SerializeAsString());
    }
    ASSERT_TRUE(txn->Commit({}).ok());
  }
  // Removes the `n` oldest entries as the queue pass does and tells `count`.
  void RemoveOldest(QueueCount& count, size_t n) {
    auto page = ns_->ListGcQueue("", static_cast<uint32_t>(n));
    ASSERT_TRUE(page.ok()) << page.status();
    std::vector<std::string> keys;
    for (const auto& e : *page) keys.push_back(e.key);
    ASSERT_TRUE(ns_->RemoveGcEntries(keys).ok());
    for (const auto& e : *page) count.Removed(e);
  }
  // The truth, by reading everything.
  QueueCount::Totals Truth() {
    QueueCount::Totals t;
    std::string after;
    while (true) {
      auto page = ns_->ListGcQueue(after, 10'000);
      EXPECT_TRUE(page.ok());
      for (const auto& e : *page) {
        ++t.entries;
        t.chunks += static_cast<uint64_t>(e.entry.chunk_ids_size());
      }
      if (page->size() < 10'000) return t;
      after = page->back().key;
    }
  }
  void ExpectTotals(const absl::StatusOr<QueueCount::Totals>& got) {
    ASSERT_TRUE(got.ok()) << got.status();
    const QueueCount::Totals want = Truth();
    EXPECT_EQ(got->entries, want.entries);
    EXPECT_EQ(got->chunks, want.chunks);
  }

  ManualClock clock_{kT0};
  store::MemoryStore store_;
  std::unique_ptr<meta::Namespace> ns_;
  uint64_t seq_ = 0;
};

TEST_F(QueueCountTest, FirstUpdateCountsEverything) {
  Queue(kT0 - 3600 * kSec, 12'345, 3);  // more than one page
  Queue(kT0 - 1 * kSec, 10);
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Hours(1));
  auto got = count.Update(kT0);
  ExpectTotals(got);
  EXPECT_EQ(got->entries, 12'355u);
  EXPECT_EQ(got->chunks, 12'345u * 3 + 20);
  EXPECT_TRUE(count.last_full());
  EXPECT_EQ(count.last_read(), 12'355u);
}

TEST_F(QueueCountTest, LaterUpdatesReadOnlyTheYoungEnd) {
  Queue(kT0 - 3600 * kSec, 20'000);  // a backlog, long settled
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Hours(1));
  ExpectTotals(count.Update(kT0));
  for (int pass = 1; pass <= 10; ++pass) {
    const int64_t now = kT0 + pass * 5 * kSec;
    clock_.Set(now);
    Queue(now - kSec, 7);  // released by files meanwhile
    auto got = count.Update(now);
    ExpectTotals(got);
    EXPECT_FALSE(count.last_full());
    // Only what was queued from 60 s before the previous update on.
    EXPECT_EQ(count.last_read(), 7u * static_cast<uint64_t>(pass));
  }
}

TEST_F(QueueCountTest, EntriesCrossingTheLineAreCountedOnce) {
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Hours(1));
  ExpectTotals(count.Update(kT0));
  Queue(kT0, 5);
  for (int pass = 1; pass <= 40; ++pass) {  // 200 s: the entries settle on the way
    ExpectTotals(count.Update(kT0 + pass * 5 * kSec));
  }
  EXPECT_EQ(count.last_read(), 0u);  // all behind the line now
}

TEST_F(QueueCountTest, RemovalsByTheCallerAreTakenOff) {
  Queue(kT0 - 3600 * kSec, 300);
  Queue(kT0 - 10 * kSec, 4);  // young: read again each update
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Hours(1));
  ExpectTotals(count.Update(kT0));
  RemoveOldest(count, 100);
  ExpectTotals(count.Update(kT0 + 5 * kSec));
  RemoveOldest(count, 202);  // the rest of the old ones and two young ones
  auto got = count.Update(kT0 + 10 * kSec);
  ExpectTotals(got);
  EXPECT_EQ(got->entries, 2u);
  RemoveOldest(count, 10);
  got = count.Update(kT0 + 15 * kSec);
  ExpectTotals(got);
  EXPECT_EQ(got->entries, 0u);
  EXPECT_EQ(got->chunks, 0u);
}

TEST_F(QueueCountTest, FullRecountCorrectsWhatTheTailMissed) {
  Queue(kT0 - 3600 * kSec, 10);
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Minutes(10));
  ExpectTotals(count.Update(kT0));
  // A transaction that committed long after its queue time: its key is
  // behind the line, so the incremental update cannot see it ...
  Queue(kT0 - 600 * kSec, 3);
  auto got = count.Update(kT0 + 5 * kSec);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->entries, 10u);
  // ... and the next full count, `recount` after the last, does.
  got = count.Update(kT0 + 600 * kSec);
  ExpectTotals(got);
  EXPECT_TRUE(count.last_full());
  EXPECT_EQ(got->entries, 13u);
}

TEST_F(QueueCountTest, ClockGoingBackCountsInFull) {
  Queue(kT0 - 3600 * kSec, 10);
  QueueCount count(ns_.get(), absl::Seconds(60), absl::Hours(1));
  ExpectTotals(count.Update(kT0));
  Queue(kT0 - 120 * kSec, 2);  // behind the line: only a full count finds it
  auto got = count.Update(kT0 - 30 * kSec);
  ExpectTotals(got);
  EXPECT_TRUE(count.last_full());
}

TEST_F(QueueCountTest, ZeroSettleStillCountsEveryEntry) {
  QueueCount count(ns_.get(), absl::ZeroDuration(), absl::Hours(1));
  ExpectTotals(count.Update(kT0));
  Queue(kT0, 3);  // queued exactly at the line
  ExpectTotals(count.Update(kT0));
  Queue(kT0 + kSec, 2);
  ExpectTotals(count.Update(kT0 + kSec));
  ExpectTotals(count.Update(kT0 + 2 * kSec));
}

}  // namespace
}  // namespace cairn::gc

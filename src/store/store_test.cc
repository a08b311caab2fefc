// One suite, run against every KvStore implementation.
#include <atomic>
#include <filesystem>
#include <thread>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"
#include "store/run_txn.h"

namespace cairn::store {
namespace {

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "memory") {
      store_ = std::make_unique<MemoryStore>();
    } else {
      dir_ = std::filesystem::temp_directory_path() /
             ("cairn-store-test-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
      std::filesystem::remove_all(dir_);
      Reopen();
    }
  }
  void TearDown() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  void Reopen(SyncMode mode = SyncMode::kInterval) {
    store_.reset();
    RocksDbOptions o;
    o.dir = dir_.string();
    o.sync_mode = mode;
    auto s = RocksDbStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  absl::Status Put(std::string k, std::string v) {
    auto t = store_->Begin();
    t->Put(k, v);
    return t->Commit({});
  }
  std::optional<std::string> Read(std::string k) {
    auto t = store_->Begin();
    auto v = t->Get(k);
    EXPECT_TRUE(v.ok());
    return *v;
  }

  std::filesystem::path dir_;
  std::unique_ptr<KvStore> store_;
};

TEST_P(StoreTest, PutGetDelete) {
  EXPECT_FALSE(Read("a").has_value());
  ASSERT_TRUE(Put("a", "1").ok());
  EXPECT_EQ(Read("a"), "1");
  auto t = store_->Begin();
  t->Delete("a");
  ASSERT_TRUE(t->Commit({}).ok());
  EXPECT_FALSE(Read("a").has_value());
}

TEST_P(StoreTest, BinaryKeysAndValues) {
  std::string k("k\0\xff", 3), v("\0\x01\x02", 3);
  ASSERT_TRUE(Put(k, v).ok());
  EXPECT_EQ(Read(k), v);
}

TEST_P(StoreTest, ReadsOwnWritesAndNothingBeforeCommit) {
  auto t = store_->Begin();
  t->Put("x", "1");
  EXPECT_EQ(*t->Get("x").value(), "1");
  EXPECT_FALSE(Read("x").has_value());
  ASSERT_TRUE(t->Commit({}).ok());
  EXPECT_EQ(Read("x"), "1");
}

TEST_P(StoreTest, ScanIsOrderedBoundedAndLimited) {
  for (std::string k : {"b", "a", "c", "d", "ca"}) ASSERT_TRUE(Put(k, "v" + k).ok());
  auto t = store_->Begin();
  auto all = t->Scan("a", "d", 0);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (auto& kv : *all) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b", "c", "ca"}));
  auto two = t->Scan("b", "z", 2);
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[1].key, "c");
  EXPECT_EQ((*two)[1].value, "vc");
}

TEST_P(StoreTest, ConflictOnReadKeyChanged) {
  ASSERT_TRUE(Put("k", "0").ok());
  auto t1 = store_->Begin();
  ASSERT_TRUE(t1->Get("k").ok());
  t1->Put("k", "1");
  ASSERT_TRUE(Put("k", "2").ok());
  absl::Status s = t1->Commit({});
  EXPECT_EQ(ErrcOf(s), Errc::kConflict) << s;
  EXPECT_EQ(Read("k"), "2");
}

TEST_P(StoreTest, ConflictOnAbsentKeyCreated) {
  auto t1 = store_->Begin();
  ASSERT_FALSE(t1->Get("new").value().has_value());
  t1->Put("other", "1");
  ASSERT_TRUE(Put("new", "x").ok());
  EXPECT_EQ(ErrcOf(t1->Commit({})), Errc::kConflict);
  EXPECT_FALSE(Read("other").has_value());  // nothing of the failed txn applied
}

TEST_P(StoreTest, NoConflictOnUnrelatedKeys) {
  auto t1 = store_->Begin();
  ASSERT_TRUE(t1->Get("a").ok());
  t1->Put("a", "1");
  ASSERT_TRUE(Put("b", "2").ok());
  EXPECT_TRUE(t1->Commit({}).ok());
}

TEST_P(StoreTest, ReaderSeesLatestCommittedState) {
  ASSERT_TRUE(Put("a", "1").ok());
  std::unique_ptr<Reader> r = store_->NewReader();
  EXPECT_EQ(*r->Get("a").value(), "1");
  EXPECT_FALSE(r->Get("b").value().has_value());
  auto t = store_->Begin();
  t->Put("b", "2");
  EXPECT_FALSE(r->Get("b").value().has_value());  // not before commit
  ASSERT_TRUE(t->Commit({}).ok());
  EXPECT_EQ(*r->Get("b").value(), "2");  // no snapshot: a later commit is seen
  auto d = store_->Begin();
  d->Delete("a");
  ASSERT_TRUE(d->Commit({}).ok());
  EXPECT_FALSE(r->Get("a").value().has_value());
}

// Readers never see a value older than one whose commit was acknowledged
// before the read started (the RocksDB store answers Readers from a cache
// that takes no fill while a commit of the key's shard applies), and never
// go back in time.
TEST_P(StoreTest, ReaderNeverSeesOlderThanAcknowledged) {
  constexpr int kKeys = 4, kIncrements = 1500, kReaders = 3;
  std::atomic<int> acknowledged[kKeys] = {};
  std::atomic<bool> done{false};
  std::atomic<int> stale{0}, backwards{0}, errors{0};
  std::thread writer([&] {
    for (int i = 1; i <= kIncrements; ++i) {
      const int k = i % kKeys;
      const int v = i / kKeys + 1;
      if (!Put("c" + std::to_string(k), std::to_string(v)).ok()) errors++;
      acknowledged[k].store(v);
    }
    done = true;
  });
  std::vector<std::thread> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&] {
      int last[kKeys] = {};
      std::unique_ptr<Reader> reader = store_->NewReader();
      while (!done) {
        for (int k = 0; k < kKeys; ++k) {
          const int floor = acknowledged[k].load();
          auto v = reader->Get("c" + std::to_string(k));
          if (!v.ok()) {
            errors++;
            continue;
          }
          const int got = v->has_value() ? std::stoi(**v) : 0;
          if (got < floor) stale++;
          if (got < last[k]) backwards++;
          last[k] = got;
        }
      }
    });
  }
  writer.join();
  for (auto& t : readers) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale.load(), 0);
  EXPECT_EQ(backwards.load(), 0);
  std::unique_ptr<Reader> reader = store_->NewReader();
  for (int k = 0; k < kKeys; ++k) {
    EXPECT_EQ(*reader->Get("c" + std::to_string(k)).value(),
              std::to_string(acknowledged[k].load()));
  }
}

TEST_P(StoreTest, ReaderScanIsOrderedBoundedAndLimited) {
  for (std::string k : {"b", "a", "c", "d", "ca"}) ASSERT_TRUE(Put(k, "v" + k).ok());
  auto del = store_->Begin();
  del->Delete("b");
  ASSERT_TRUE(del->Commit({}).ok());
  std::unique_ptr<Reader> r = store_->NewReader();
  auto all = r->Scan("a", "d", 0);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> keys;
  for (auto& kv : *all) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "c", "ca"}));
  auto two = r->Scan("b", "z", 2);
  ASSERT_TRUE(two.ok());
  ASSERT_EQ(two->size(), 2u);
  EXPECT_EQ((*two)[0].key, "c");
  EXPECT_EQ((*two)[1].value, "vca");
}

TEST_P(StoreTest, ReaderDoesNotMakeTransactionsConflict) {
  ASSERT_TRUE(Put("k", "0").ok());
  auto t = store_->Begin();
  ASSERT_TRUE(t->Get("k").ok());
  t->Put("k", "1");
  std::unique_ptr<Reader> r = store_->NewReader();
  EXPECT_EQ(*r->Get("k").value(), "0");
  EXPECT_TRUE(t->Commit({}).ok());
}

TEST_P(StoreTest, TxnGetThroughReaderInterfaceIsConflictChecked) {
  // Read-only helpers take a Reader&; given a Txn they must still track.
  ASSERT_TRUE(Put("k", "0").ok());
  auto t = store_->Begin();
  Reader& as_reader = *t;
  ASSERT_TRUE(as_reader.Get("k").ok());
  t->Put("other", "1");
  ASSERT_TRUE(Put("k", "2").ok());
  EXPECT_EQ(ErrcOf(t->Commit({})), Errc::kConflict);
}

TEST_P(StoreTest, RunTxnCounterIsExactUnderContention) {
  constexpr int kThreads = 4, kIncrements = 200;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kIncrements; ++j) {
        absl::Status s =
            RunTxn(*store_, RetryOptions{.max_attempts = 10000}, [](Txn& t) -> absl::Status {
              auto v = t.Get("counter");
              if (!v.ok()) return v.status();
              int n = v->has_value() ? std::stoi(**v) : 0;
              t.Put("counter", std::to_string(n + 1));
              return absl::OkStatus();
            });
        if (!s.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Read("counter"), std::to_string(kThreads * kIncrements));
}

TEST_P(StoreTest, RunTxnReturnsValueAndPassesErrorsThrough) {
  absl::StatusOr<int> v = RunTxn(*store_, {}, [](Txn& t) -> absl::StatusOr<int> {
    t.Put("z", "1");
    return 7;
  });
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 7);
  absl::StatusOr<int> e = RunTxn(*store_, {}, [](Txn& t) -> absl::StatusOr<int> {
    t.Put("never", "1");
    return NotFound("nope");
  });
  EXPECT_EQ(ErrcOf(e.status()), Errc::kNotFound);
  EXPECT_FALSE(Read("never").has_value());
}

TEST_P(StoreTest, CommitTwiceIsAnError) {
  auto t = store_->Begin();
  t->Put("a", "b");
  ASSERT_TRUE(t->Commit({}).ok());
  EXPECT_FALSE(t->Commit({}).ok());
}

TEST_P(StoreTest, SurvivesReopen) {
  if (GetParam() != "rocksdb") GTEST_SKIP() << "memory store keeps nothing";
  ASSERT_TRUE(Put("p", "1").ok());
  {
    auto t = store_->Begin();
    t->Put("q", "2");
    ASSERT_TRUE(t->Commit({.sync = true}).ok());
  }
  ASSERT_TRUE(store_->Sync().ok());
  Reopen(SyncMode::kAlways);
  EXPECT_EQ(Read("p"), "1");
  EXPECT_EQ(Read("q"), "2");
  ASSERT_TRUE(Put("r", "3").ok());
  Reopen();
  EXPECT_EQ(Read("r"), "3");
}

TEST_P(StoreTest, IntervalSyncRuns) {
  if (GetParam() != "rocksdb") GTEST_SKIP();
  auto* rocks = static_cast<RocksDbStore*>(store_.get());
  uint64_t before = rocks->sync_count();
  ASSERT_TRUE(Put("s", "1").ok());
  for (int i = 0; i < 200 && rocks->sync_count() == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(rocks->sync_count(), before);
}

INSTANTIATE_TEST_SUITE_P(Stores, StoreTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace cairn::store

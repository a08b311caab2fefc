#include "store/read_cache.h"

#include "gtest/gtest.h"

namespace cairn::store {
namespace {

TEST(ReadCacheTest, MissThenFillThenHit) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket t;
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  cache.Fill("a", std::string("1"), t);
  std::optional<ReadCache::Hit> hit = cache.Lookup("a", &t);
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->value, "1");
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 1u);
}

TEST(ReadCacheTest, RemembersAbsence) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket t;
  ASSERT_FALSE(cache.Lookup("gone", &t).has_value());
  cache.Fill("gone", std::nullopt, t);
  std::optional<ReadCache::Hit> hit = cache.Lookup("gone", &t);
  ASSERT_TRUE(hit.has_value());
  EXPECT_FALSE(hit->value.has_value());
}

TEST(ReadCacheTest, AWriteForgetsTheKey) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket t;
  (void)cache.Lookup("a", &t);
  cache.Fill("a", std::string("1"), t);
  cache.BeginWrite("a");
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  cache.EndWrite("a");
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  EXPECT_EQ(cache.bytes(), 0u);
}

// A value read from the database before a commit must not be cached after
// that commit (it would hide the commit forever).
TEST(ReadCacheTest, FillAfterAWriteOfTheShardIsDropped) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket t;
  ASSERT_FALSE(cache.Lookup("a", &t).has_value());
  cache.BeginWrite("a");  // a commit of "a" lands meanwhile
  cache.EndWrite("a");
  cache.Fill("a", std::string("old"), t);  // what the reader read before it
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  // A fresh miss can fill again.
  cache.Fill("a", std::string("new"), t);
  EXPECT_EQ(cache.Lookup("a", &t)->value, "new");
}

// While a commit of a key is being applied, one reader may read the old
// value from the database and another the new one. Neither is cached until
// the commit is over, so no reader goes back from the new value to the old
// (StoreTest.ReaderNeverSeesOlderThanAcknowledged).
TEST(ReadCacheTest, NothingIsFilledWhileAWriteIsUnderWay) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket early, during, after;
  (void)cache.Lookup("a", &early);
  cache.Fill("a", std::string("old"), early);
  ASSERT_EQ(cache.Lookup("a", &early)->value, "old");
  ASSERT_FALSE(cache.Lookup("b", &early).has_value());  // reader 1 reads "old" of b
  cache.BeginWrite("a");                                // the cached "old" goes at once
  EXPECT_FALSE(cache.Lookup("a", &during).has_value());
  cache.BeginWrite("b");
  ASSERT_FALSE(cache.Lookup("b", &during).has_value());  // reader 2 reads "new" of b
  cache.Fill("b", std::string("old"), early);
  cache.Fill("b", std::string("new"), during);
  EXPECT_FALSE(cache.Lookup("b", &during).has_value());
  cache.EndWrite("a");
  cache.EndWrite("b");
  cache.Fill("b", std::string("new"), during);  // its miss came before the end
  ASSERT_FALSE(cache.Lookup("b", &after).has_value());
  cache.Fill("b", std::string("new"), after);
  EXPECT_EQ(cache.Lookup("b", &after)->value, "new");
}

// Two commits of one shard at once: fills wait for both.
TEST(ReadCacheTest, OverlappingWritesOfAShardBothBlockFills) {
  ReadCache cache(1 << 20);
  ReadCache::Ticket t;
  cache.BeginWrite("a");
  cache.BeginWrite("a");
  cache.EndWrite("a");
  ASSERT_FALSE(cache.Lookup("a", &t).has_value());
  cache.Fill("a", std::string("mid"), t);
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  cache.EndWrite("a");
  ASSERT_FALSE(cache.Lookup("a", &t).has_value());
  cache.Fill("a", std::string("new"), t);
  EXPECT_EQ(cache.Lookup("a", &t)->value, "new");
}

TEST(ReadCacheTest, StaysWithinCapacity) {
  constexpr size_t kCapacity = 64 << 10;
  ReadCache cache(kCapacity);
  const std::string value(100, 'v');
  for (int i = 0; i < 20000; ++i) {
    ReadCache::Ticket t;
    std::string key = "key-" + std::to_string(i);
    if (!cache.Lookup(key, &t)) cache.Fill(key, value, t);
    ASSERT_LE(cache.bytes(), kCapacity);
  }
  EXPECT_GT(cache.bytes(), kCapacity / 2);  // and is still used
}

TEST(ReadCacheTest, ValueLargerThanAShardIsNotCached) {
  ReadCache cache(64 * 128);  // 128 bytes per shard
  ReadCache::Ticket t;
  ASSERT_FALSE(cache.Lookup("big", &t).has_value());
  cache.Fill("big", std::string(1000, 'x'), t);
  EXPECT_FALSE(cache.Lookup("big", &t).has_value());
}

TEST(ReadCacheTest, ZeroCapacityIsOff) {
  ReadCache cache(0);
  EXPECT_FALSE(cache.enabled());
  ReadCache::Ticket t;
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  cache.Fill("a", std::string("1"), t);
  EXPECT_FALSE(cache.Lookup("a", &t).has_value());
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace cairn::store

// IdLocks on its own: one holder per id, different ids independent, the
// guard's scope, and waiters woken by a release.
#include "chunk/id_locks.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

constexpr ChunkId kA{1, 2};
constexpr ChunkId kB{3, 4};

// Waits (bounded) until `locks` has `n` threads waiting for an id.
bool WaitForWaiters(const IdLocks& locks, size_t n) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (locks.waiting() < n) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

TEST(IdLocksTest, GuardHoldsForItsScopeOnly) {
  IdLocks locks;
  EXPECT_FALSE(locks.Held(kA));
  {
    IdLocks::Guard guard(&locks, kA);
    EXPECT_TRUE(locks.Held(kA));
    EXPECT_FALSE(locks.Held(kB));
  }
  EXPECT_FALSE(locks.Held(kA));
  // Free again: a second guard in this thread does not wait.
  IdLocks::Guard again(&locks, kA);
  EXPECT_TRUE(locks.Held(kA));
}

TEST(IdLocksTest, DifferentIdsDoNotBlockEachOther) {
  IdLocks locks;
  IdLocks::Guard a(&locks, kA);
  absl::Notification took_b;
  std::thread t([&] {
    IdLocks::Guard b(&locks, kB);
    took_b.Notify();
  });
  // kA stays held by this thread the whole time.
  EXPECT_TRUE(took_b.WaitForNotificationWithTimeout(absl::Seconds(10)));
  t.join();
  EXPECT_EQ(locks.waiting(), 0u);
}

TEST(IdLocksTest, WaiterIsWokenByTheRelease) {
  IdLocks locks;
  absl::Notification took;
  std::thread waiter;
  {
    IdLocks::Guard held(&locks, kA);
    waiter = std::thread([&] {
      IdLocks::Guard g(&locks, kA);
      took.Notify();
    });
    ASSERT_TRUE(WaitForWaiters(locks, 1));
    EXPECT_FALSE(took.HasBeenNotified());
  }
  EXPECT_TRUE(took.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
  EXPECT_FALSE(locks.Held(kA));
}

TEST(IdLocksTest, ReleaseOfAnotherIdLeavesTheWaiterWaiting) {
  IdLocks locks;
  auto a = std::make_unique<IdLocks::Guard>(&locks, kA);
  auto b = std::make_unique<IdLocks::Guard>(&locks, kB);
  absl::Notification took;
  std::thread waiter([&] {
    IdLocks::Guard g(&locks, kA);
    took.Notify();
  });
  ASSERT_TRUE(WaitForWaiters(locks, 1));
  b.reset();  // wakes the waiter, which finds kA still held
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(took.HasBeenNotified());
  EXPECT_EQ(locks.waiting(), 1u);
  a.reset();
  EXPECT_TRUE(took.WaitForNotificationWithTimeout(absl::Seconds(10)));
  waiter.join();
}

TEST(IdLocksTest, OneHolderPerIdUnderContention) {
  IdLocks locks;
  constexpr int kThreads = 8;
  constexpr int kRounds = 2000;
  std::atomic<int> inside_a{0}, inside_b{0};
  std::atomic<int> max_a{0}, max_b{0};
  int64_t count_a = 0, count_b = 0;  // plain: only the holder of the id writes
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const bool use_a = t % 2 == 0;
      for (int i = 0; i < kRounds; ++i) {
        IdLocks::Guard g(&locks, use_a ? kA : kB);
        std::atomic<int>& inside = use_a ? inside_a : inside_b;
        std::atomic<int>& max = use_a ? max_a : max_b;
        int now = inside.fetch_add(1) + 1;
        int seen = max.load();
        while (now > seen && !max.compare_exchange_weak(seen, now)) {
        }
        ++(use_a ? count_a : count_b);
        inside.fetch_sub(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(max_a.load(), 1);
  EXPECT_EQ(max_b.load(), 1);
  EXPECT_EQ(count_a, int64_t{kThreads / 2} * kRounds);
  EXPECT_EQ(count_b, int64_t{kThreads / 2} * kRounds);
  EXPECT_FALSE(locks.Held(kA));
  EXPECT_FALSE(locks.Held(kB));
  EXPECT_EQ(locks.waiting(), 0u);
}

}  // namespace
}  // namespace cairn::chunk

#include "service/worker_pool.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace cairn::service {
namespace {

TEST(WorkerPool, RunsEverythingSubmittedBeforeDestruction) {
  std::atomic<int> done{0};
  {
    WorkerPool pool(4);
    std::vector<std::thread> submitters;
    for (int t = 0; t < 4; ++t) {
      submitters.emplace_back([&] {
        for (int i = 0; i < 500; ++i) pool.Submit([&] { done.fetch_add(1); });
      });
    }
    for (auto& s : submitters) s.join();
  }
  EXPECT_EQ(done.load(), 2000);
}

TEST(WorkerPool, BlockedWorkDoesNotStopOtherWork) {
  WorkerPool pool(2);
  absl::Notification release, second_ran;
  pool.Submit([&] { release.WaitForNotification(); });
  pool.Submit([&] { second_ran.Notify(); });
  EXPECT_TRUE(second_ran.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
}

}  // namespace
}  // namespace cairn::service

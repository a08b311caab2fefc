#include "store/run_txn.h"

#include <algorithm>
#include <random>
#include <thread>

namespace cairn::store {

void BackoffForRetry(int attempt) {
  // 20 us doubling to at most ~5 ms, with full jitter.
  thread_local std::minstd_rand rng(std::random_device{}());
  int64_t cap_us = std::min<int64_t>(5000, int64_t{20} << std::min(attempt, 8));
  std::uniform_int_distribution<int64_t> dist(0, cap_us);
  std::this_thread::sleep_for(std::chrono::microseconds(dist(rng)));
}

}  // namespace cairn::store

// Clock: the one source of wall-clock time, behind an interface so tests
// can control it. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace cairn {

class Clock {
 public:
  virtual ~Clock() = default;
  // Nanoseconds since the Unix epoch.
  virtual int64_t NowNanos() const = 0;
  // The process-wide real clock (never destroyed).
  static Clock* Real();
};

// A clock that moves only when told to.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t start_ns = 1'700'000'000'000'000'000) : now_(start_ns) {}
  int64_t NowNanos() const override { return now_.load(); }
  void Advance(int64_t ns) { now_.fetch_add(ns); }
  void Set(int64_t ns) { now_.store(ns); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace cairn

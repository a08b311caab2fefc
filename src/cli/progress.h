// Progress: a one-line transfer meter on stderr for put, get and cat —
// bytes done (of the total when known), throughput and time left — redrawn
// at most five times a second, and only when stderr is a terminal (silent
// when piped or redirected).
//
// Thread-safety: Add() may be called from many threads; Finish() once, by
// the owner, after the others are done.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace cairn::cli {

class Progress {
 public:
  // `total` bytes expected (0: unknown). `enabled` false: never draws
  // (Add still counts). Default: draws when stderr is a terminal.
  explicit Progress(uint64_t total = 0, bool enabled = IsTerminal());
  ~Progress();  // Finish()

  void AddTotal(uint64_t bytes) { total_.fetch_add(bytes, std::memory_order_relaxed); }
  void Add(uint64_t bytes);
  void AddFile() { files_.fetch_add(1, std::memory_order_relaxed); }
  // Clears the line. Idempotent.
  void Finish();

  uint64_t done() const { return done_.load(std::memory_order_relaxed); }
  double seconds() const;

  static bool IsTerminal();
  // "1.5 MiB", "734 B".
  static std::string Bytes(double bytes);

 private:
  void Draw();

  const bool enabled_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<uint64_t> total_;
  std::atomic<uint64_t> done_{0};
  std::atomic<uint64_t> files_{0};
  std::mutex draw_mu_;                               // one drawer at a time; others skip
  std::chrono::steady_clock::time_point last_draw_;  // guarded by draw_mu_
  bool drawn_ = false;                               // guarded by draw_mu_
};

}  // namespace cairn::cli

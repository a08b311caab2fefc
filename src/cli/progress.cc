#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>

namespace cairn::cli {
namespace {

constexpr auto kRedraw = std::chrono::milliseconds(200);  // at most 5 draws a second

std::string Duration(double seconds) {
  if (seconds < 0 || seconds > 99 * 3600) return "--:--";
  long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress(uint64_t total, bool enabled)
    : enabled_(enabled), start_(std::chrono::steady_clock::now()), total_(total) {}

Progress::~Progress() { Finish(); }

bool Progress::IsTerminal() { return ::isatty(STDERR_FILENO) == 1; }

std::string Progress::Bytes(double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 5) {
    bytes /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return buf;
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Add(uint64_t bytes) {
  done_.fetch_add(bytes, std::memory_order_relaxed);
  if (!enabled_) return;
  std::unique_lock<std::mutex> l(draw_mu_, std::try_to_lock);
  if (!l.owns_lock()) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < kRedraw) return;
  last_draw_ = now;
  Draw();
}

void Progress::Draw() {
  const double secs = seconds();
  const uint64_t done = done_.load(std::memory_order_relaxed);
  const uint64_t total = total_.load(std::memory_order_relaxed);
  const double rate = secs > 0 ? done / secs : 0;
  std::string line = Bytes(static_cast<double>(done));
  if (total > 0) {
    char pct[16];
    std::snprintf(pct, sizeof(pct), " (%3.0f%%)", 100.0 * std::min(done, total) / total);
    line += " of " + Bytes(static_cast<double>(total)) + pct;
  }
  line += "  " + Bytes(rate) + "/s";
  if (total > 0) {
    line += "  ETA " + Duration(rate > 0 ? (total > done ? total - done : 0) / rate : -1);
  }
  if (uint64_t files = files_.load(std::memory_order_relaxed)) {
    line += "  " + std::to_string(files) + (files == 1 ? " file" : " files");
  }
  std::fprintf(stderr, "\r%-72s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!enabled_) return;
  std::lock_guard<std::mutex> l(draw_mu_);
  if (!drawn_) return;
  std::fprintf(stderr, "\r%-72s\r", "");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace cairn::cli

// Metrics: counters, gauges and latency histograms, exposed in the
// Prometheus text exposition format (version 0.0.4).
//
// A metric family has a name, a help text, a type and a fixed set of label
// names; each distinct set of label values is one series. Series are created
// on first use and live as long as the registry: callers keep the returned
// pointers and update them lock-free on hot paths.
//
// Thread-safety: everything is thread-safe. Looking up a series takes the
// family's mutex; updating a series is a relaxed atomic operation.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cairn::service {

class Counter {
 public:
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void Add(int64_t d) { value_.fetch_add(d, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A latency histogram with fixed buckets (kLatencyBuckets, in seconds,
// from 25 us to 10 s), reported as `_bucket{le=...}`, `_sum` and `_count`.
class Histogram {
 public:
  static constexpr std::array<double, 16> kLatencyBuckets = {
      0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,     0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    10.0};

  void Observe(absl::Duration d);
  // Per-bucket (non-cumulative) counts; the last one is the +Inf overflow.
  std::array<uint64_t, kLatencyBuckets.size() + 1> BucketCounts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum_seconds() const;

 private:
  std::array<std::atomic<uint64_t>, kLatencyBuckets.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

// One named family of series sharing label names.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), label_names_(std::move(label_names)) {}

  // The series with these label values (one per label name, in order),
  // created on first use. The pointer stays valid as long as the family.
  T* With(const std::vector<std::string>& label_values);

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Calls fn(label_values, series) for every series, in label order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    absl::MutexLock lock(&mu_);
    for (const auto& [labels, series] : series_) fn(labels, *series);
  }

 private:
  const std::string name_;
  const std::string help_;
  const std::vector<std::string> label_names_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> series_ ABSL_GUARDED_BY(mu_);
};

template <typename T>
T* Family<T>::With(const std::vector<std::string>& label_values) {
  absl::MutexLock lock(&mu_);
  auto& slot = series_[label_values];
  if (!slot) slot = std::make_unique<T>();
  return slot.get();
}

class MetricsRegistry {
 public:
  // Families are created once per name; asking again for the same name
  // and type returns the same family (help and labels of the first call
  // win). Names must match [a-zA-Z_:][a-zA-Z0-9_:]*; asking for an existing
  // name with another type is a programming error (aborts).
  Family<Counter>* CounterFamily(const std::string& name, const std::string& help,
                                 std::vector<std::string> label_names = {});
  Family<Gauge>* GaugeFamily(const std::string& name, const std::string& help,
                             std::vector<std::string> label_names = {});
  Family<Histogram>* HistogramFamily(const std::string& name, const std::string& help,
                                     std::vector<std::string> label_names = {});

  // Shorthands for label-less series.
  Counter* GetCounter(const std::string& name, const std::string& help) {
    return CounterFamily(name, help)->With({});
  }
  Gauge* GetGauge(const std::string& name, const std::string& help) {
    return GaugeFamily(name, help)->With({});
  }

  // The whole registry in the Prometheus text format, families by name.
  std::string Render() const;

 private:
  struct Entry {
    MetricType type;
    std::unique_ptr<Family<Counter>> counters;
    std::unique_ptr<Family<Gauge>> gauges;
    std::unique_ptr<Family<Histogram>> histograms;
  };
  Entry& GetOrAdd(const std::string& name, MetricType type, const std::string& help,
                  std::vector<std::string>& label_names) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Entry> families_ ABSL_GUARDED_BY(mu_);
};

// Text-format escaping: label values escape '\\', '"' and newline; help
// text escapes '\\' and newline.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);
// A sample value as Prometheus expects it ("+Inf", integers without ".0").
std::string FormatValue(double value);

// The content type of Render()'s output.
inline constexpr char kPrometheusContentType[] = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace cairn::service

#include "service/metrics.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <cstdio>

namespace cairn::service {
namespace {

void Require(bool ok, const char* what, const std::string& name) {
  if (ok) return;
  std::fprintf(stderr, "metrics: %s: %s\n", what, name.c_str());
  std::abort();
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// `{a="x",b="y"}` (empty when there are no labels); `extra` is appended
// as one more already-escaped label when non-empty.
std::string Labels(const std::vector<std::string>& names, const std::vector<std::string>& values,
                   const std::string& extra = {}) {
  if (names.empty() && extra.empty()) return {};
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    out += names[i];
    out += "=\"";
    out += EscapeLabelValue(i < values.size() ? values[i] : std::string());
    out += '"';
  }
  if (!extra.empty()) {
    if (!names.empty()) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

template <typename T>
void Header(std::string& out, const Family<T>& family, const char* type) {
  out += "# HELP " + family.name() + " " + EscapeHelp(family.help()) + "\n";
  out += "# TYPE " + family.name() + " " + type + "\n";
}

}  // namespace

void Histogram::Observe(absl::Duration d) {
  double seconds = absl::ToDoubleSeconds(d);
  size_t i = 0;
  while (i < kLatencyBuckets.size() && seconds > kLatencyBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  int64_t ns = absl::ToInt64Nanoseconds(d);
  sum_ns_.fetch_add(ns > 0 ? static_cast<uint64_t>(ns) : 0, std::memory_order_relaxed);
}

std::array<uint64_t, Histogram::kLatencyBuckets.size() + 1> Histogram::BucketCounts() const {
  std::array<uint64_t, kLatencyBuckets.size() + 1> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

double Histogram::sum_seconds() const {
  return static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // The shortest form that reads back as the same double, in plain
  // decimal for everyday magnitudes ("0.0001", "10", "60.003035").
  char buf[512];
  double mag = std::fabs(value);
  auto format = (mag == 0 || (mag >= 1e-6 && mag < 1e15)) ? std::chars_format::fixed
                                                          : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, format);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

MetricsRegistry::Entry& MetricsRegistry::GetOrAdd(const std::string& name, MetricType type,
                                                  const std::string& help,
                                                  std::vector<std::string>& label_names) {
  Require(ValidName(name), "bad metric name", name);
  for (const auto& l : label_names) Require(ValidName(l) && l != "le", "bad label name", l);
  auto [it, inserted] = families_.try_emplace(name);
  Entry& e = it->second;
  if (inserted) {
    e.type = type;
    switch (type) {
      case MetricType::kCounter:
        e.counters = std::make_unique<Family<Counter>>(name, help, std::move(label_names));
        break;
      case MetricType::kGauge:
        e.gauges = std::make_unique<Family<Gauge>>(name, help, std::move(label_names));
        break;
      case MetricType::kHistogram:
        e.histograms = std::make_unique<Family<Histogram>>(name, help, std::move(label_names));
        break;
    }
  }
  Require(e.type == type, "metric registered with another type", name);
  return e;
}

Family<Counter>* MetricsRegistry::CounterFamily(const std::string& name, const std::string& help,
                                                std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  return GetOrAdd(name, MetricType::kCounter, help, label_names).counters.get();
}

Family<Gauge>* MetricsRegistry::GaugeFamily(const std::string& name, const std::string& help,
                                            std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  return GetOrAdd(name, MetricType::kGauge, help, label_names).gauges.get();
}

Family<Histogram>* MetricsRegistry::HistogramFamily(const std::string& name,
                                                    const std::string& help,
                                                    std::vector<std::string> label_names) {
  absl::MutexLock lock(&mu_);
  return GetOrAdd(name, MetricType::kHistogram, help, label_names).histograms.get();
}

std::string MetricsRegistry::Render() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, e] : families_) {
    switch (e.type) {
      case MetricType::kCounter:
        Header(out, *e.counters, "counter");
        e.counters->ForEach([&](const std::vector<std::string>& labels, const Counter& c) {
          out += name + Labels(e.counters->label_names(), labels) + " " +
                 std::to_string(c.value()) + "\n";
        });
        break;
      case MetricType::kGauge:
        Header(out, *e.gauges, "gauge");
        e.gauges->ForEach([&](const std::vector<std::string>& labels, const Gauge& g) {
          out += name + Labels(e.gauges->label_names(), labels) + " " + std::to_string(g.value()) +
                 "\n";
        });
        break;
      case MetricType::kHistogram:
        Header(out, *e.histograms, "histogram");
        e.histograms->ForEach([&](const std::vector<std::string>& labels, const Histogram& h) {
          const auto& names = e.histograms->label_names();
          auto counts = h.BucketCounts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < Histogram::kLatencyBuckets.size()
                                 ? FormatValue(Histogram::kLatencyBuckets[i])
                                 : std::string("+Inf");
            out += name + "_bucket" + Labels(names, labels, "le=\"" + le + "\"") + " " +
                   std::to_string(cumulative) + "\n";
          }
          // _count equals the +Inf bucket: both come from the same snapshot.
          out += name + "_sum" + Labels(names, labels) + " " + FormatValue(h.sum_seconds()) + "\n";
          out += name + "_count" + Labels(names, labels) + " " + std::to_string(cumulative) + "\n";
        });
        break;
    }
  }
  return out;
}

}  // namespace cairn::service

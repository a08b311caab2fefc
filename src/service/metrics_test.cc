#include "service/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace cairn::service {
namespace {

TEST(Metrics, CounterAndGaugeExposition) {
  MetricsRegistry r;
  r.GetCounter("b_total", "Things counted.")->Increment(3);
  r.GetGauge("a_level", "A level.")->Set(-7);
  EXPECT_EQ(r.Render(),
            "# HELP a_level A level.\n"
            "# TYPE a_level gauge\n"
            "a_level -7\n"
            "# HELP b_total Things counted.\n"
            "# TYPE b_total counter\n"
            "b_total 3\n");
}

TEST(Metrics, LabelsAreEscapedAndSorted) {
  MetricsRegistry r;
  auto* f = r.CounterFamily("req_total", "Requests.\nSecond \\ line.", {"op", "path"});
  f->With({"b", "x"})->Increment();
  f->With({"a", "quote\" back\\slash\nnewline"})->Increment(2);
  EXPECT_EQ(r.Render(),
            "# HELP req_total Requests.\\nSecond \\\\ line.\n"
            "# TYPE req_total counter\n"
            "req_total{op=\"a\",path=\"quote\\\" back\\\\slash\\nnewline\"} 2\n"
            "req_total{op=\"b\",path=\"x\"} 1\n");
}

TEST(Metrics, SameNameReturnsSameFamilyAndSeries) {
  MetricsRegistry r;
  auto* a = r.CounterFamily("x_total", "X.", {"op"});
  auto* b = r.CounterFamily("x_total", "ignored", {"op"});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->With({"k"}), b->With({"k"}));
}

TEST(Metrics, HistogramBucketsAreCumulative) {
  MetricsRegistry r;
  auto* h = r.HistogramFamily("lat_seconds", "Latency.", {"op"})->With({"Create"});
  h->Observe(absl::Microseconds(10));  // <= 25us
  h->Observe(absl::Microseconds(25));  // <= 25us (le is inclusive)
  h->Observe(absl::Milliseconds(3));   // <= 5ms
  h->Observe(absl::Seconds(60));       // +Inf
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE lat_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("lat_seconds_bucket{op=\"Create\",le=\"0.000025\"} 2\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("lat_seconds_bucket{op=\"Create\",le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{op=\"Create\",le=\"0.005\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{op=\"Create\",le=\"10\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_bucket{op=\"Create\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_count{op=\"Create\"} 4\n"), std::string::npos);
  EXPECT_NE(text.find("lat_seconds_sum{op=\"Create\"} 60.003035\n"), std::string::npos) << text;
  // One bucket line per bound plus +Inf, in increasing order.
  size_t buckets = 0;
  for (size_t p = text.find("_bucket{"); p != std::string::npos; p = text.find("_bucket{", p + 1)) {
    ++buckets;
  }
  EXPECT_EQ(buckets, Histogram::kLatencyBuckets.size() + 1);
}

TEST(Metrics, UnlabelledHistogram) {
  MetricsRegistry r;
  r.HistogramFamily("h_seconds", "H.")->With({})->Observe(absl::Milliseconds(1));
  std::string text = r.Render();
  EXPECT_NE(text.find("h_seconds_bucket{le=\"0.001\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_count 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_seconds_sum 0.001\n"), std::string::npos) << text;
}

TEST(Metrics, FormatValue) {
  EXPECT_EQ(FormatValue(1.0), "1");
  EXPECT_EQ(FormatValue(0.5), "0.5");
  EXPECT_EQ(FormatValue(0.0001), "0.0001");
  EXPECT_EQ(FormatValue(0.00025), "0.00025");
  EXPECT_EQ(FormatValue(2.5e-05), "0.000025");
  EXPECT_EQ(FormatValue(1e-9), "1e-09");
  EXPECT_EQ(FormatValue(0.0), "0");
  EXPECT_EQ(FormatValue(123456789.0), "123456789");
  EXPECT_EQ(FormatValue(1.0 / 0.0), "+Inf");
  EXPECT_EQ(FormatValue(-1.0 / 0.0), "-Inf");
}

TEST(Metrics, ConcurrentUpdatesAreCounted) {
  MetricsRegistry r;
  auto* f = r.CounterFamily("c_total", "C.", {"t"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([f] {
      for (int i = 0; i < 10000; ++i) f->With({"same"})->Increment();
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(f->With({"same"})->value(), 40000u);
}

TEST(MetricsDeathTest, BadNamesAbort) {
  MetricsRegistry r;
  EXPECT_DEATH(r.GetCounter("9bad", "x"), "bad metric name");
  EXPECT_DEATH(r.CounterFamily("ok", "x", {"le"}), "bad label name");
  r.GetCounter("dup", "x");
  EXPECT_DEATH(r.GetGauge("dup", "x"), "another type");
}

}  // namespace
}  // namespace cairn::service

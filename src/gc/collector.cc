// The collector's state, alarm, status and background loop. The passes
// are in queue_pass.cc and reconcile.cc.
#include "gc/collector.h"

#include <algorithm>
#include <cmath>

#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::gc {

absl::Status ValidateGcOptions(const GcOptions& o) {
  if (o.interval <= absl::ZeroDuration()) return Invalid("gc interval must be positive");
  if (o.reconcile_interval <= absl::ZeroDuration()) {
    return Invalid("gc reconcile interval must be positive");
  }
  if (o.delay < absl::ZeroDuration()) return Invalid("gc delay must not be negative");
  if (o.grace < absl::ZeroDuration()) return Invalid("gc grace must not be negative");
  if (o.batch == 0) return Invalid("gc batch must be at least 1");
  if (!(o.alarm_unknown_fraction >= 0 && o.alarm_unknown_fraction <= 1)) {
    return Invalid("gc alarm fraction must be within [0, 1]");
  }
  if (o.max_backoff <= absl::ZeroDuration()) return Invalid("gc max back-off must be positive");
  if (o.count_settle < absl::ZeroDuration()) {
    return Invalid("gc queue count settle time must not be negative");
  }
  return absl::OkStatus();
}

absl::Duration MaxUploadAge(absl::Duration grace) {
  if (grace <= absl::ZeroDuration()) return absl::InfiniteDuration();
  const absl::Duration margin = std::max(grace / 10, std::min(grace / 4, absl::Seconds(60)));
  return grace - margin;
}

Collector::Collector(meta::Namespace* ns, MapSource map, ChunkNodes* nodes,
                     service::MetricsRegistry* metrics, Clock* clock, GcOptions options)
    : ns_(ns),
      map_(std::move(map)),
      nodes_(nodes),
      clock_(clock),
      options_(options),
      queue_gauge_(metrics->GetGauge("cairn_gc_queue_length",
                                     "Entries in the GC queue (updated at each queue pass).")),
      deleted_queue_(metrics
                         ->CounterFamily("cairn_gc_deleted_chunks_total",
                                         "Chunk copies deleted by GC, by source.", {"source"})
                         ->With({"queue"})),
      deleted_orphan_(metrics
                          ->CounterFamily("cairn_gc_deleted_chunks_total",
                                          "Chunk copies deleted by GC, by source.", {"source"})
                          ->With({"orphan"})),
      errors_(
          metrics->GetCounter("cairn_gc_errors_total",
                              "GC failures: deletions, listings, scans and calls that failed.")),
      alarm_gauge_(metrics->GetGauge(
          "cairn_gc_alarm", "1 while GC is stopped by an alarm (cairn admin gc --clear-alarm).")),
      last_reconcile_gauge_(
          metrics->GetGauge("cairn_gc_last_reconcile_timestamp_seconds",
                            "End of the last complete reconciliation, Unix seconds.")),
      queue_count_(ns, options.count_settle, options.reconcile_interval) {}

Collector::~Collector() { Stop(); }

void Collector::Start() {
  absl::MutexLock lock(&thread_mu_);
  if (thread_.joinable()) return;
  stop_ = std::make_unique<absl::Notification>();
  // The thread gets its notification here: Stop() joins while holding
  // thread_mu_, so the thread must never need that lock.
  thread_ = std::thread([this, stop = stop_.get()] { Loop(stop); });
}

void Collector::Stop() {
  absl::MutexLock lock(&thread_mu_);
  if (!thread_.joinable()) return;
  stop_->Notify();
  thread_.join();
}

void Collector::Loop(absl::Notification* stop) {
  absl::Time next_queue = absl::Now() + options_.interval;
  absl::Time next_reconcile = absl::Now() + options_.reconcile_interval;
  int failures = 0;
  while (!stop->WaitForNotificationWithDeadline(std::min(next_queue, next_reconcile))) {
    const absl::Time now = absl::Now();
    if (now >= next_queue) {
      // While the alarm is raised the pass only counts the queue.
      proto::GcQueueResult result;
      absl::Status s;
      {
        absl::MutexLock run(&run_mu_);
        s = QueuePass(/*dry_run=*/Alarmed(), 0, &result);
      }
      if (!s.ok()) NoteError("gc queue pass failed: " + std::string(s.message()));
      failures = (s.ok() && result.failed() == 0) ? 0 : std::min(failures + 1, 30);
      absl::Duration wait = options_.interval;
      for (int i = 0; i < failures && wait < options_.max_backoff; ++i) wait *= 2;
      next_queue = absl::Now() + std::min(wait, std::max(options_.interval, options_.max_backoff));
    }
    if (now >= next_reconcile) {
      if (!Alarmed()) {
        proto::GcReconcileResult result;
        std::string alarm;
        absl::MutexLock run(&run_mu_);
        absl::Status s = Reconcile(/*dry_run=*/false, 0, &result, &alarm);
        if (!s.ok()) NoteError("gc reconciliation failed: " + std::string(s.message()));
      }
      next_reconcile = absl::Now() + options_.reconcile_interval;
    }
  }
}

absl::StatusOr<proto::RunGcReply> Collector::Run(const proto::RunGcRequest& req) {
  if (!proto::GcPass_IsValid(req.pass())) {
    return Invalid("pass: unknown value " + std::to_string(req.pass()));
  }
  if (req.list_limit() > kMaxListLimit) {
    return Invalid("list_limit: at most " + std::to_string(kMaxListLimit));
  }
  const uint32_t list_limit = req.list_limit() == 0 ? 1000 : req.list_limit();
  absl::MutexLock run(&run_mu_);
  if (!req.dry_run()) {
    absl::MutexLock lock(&mu_);
    if (status_.alarm()) {
      return Error(Errc::kBusy, "gc alarm raised: " + status_.alarm_reason() +
                                    " (cairn admin gc --clear-alarm resumes GC)");
    }
  }
  proto::RunGcReply reply;
  reply.set_dry_run(req.dry_run());
  if (req.pass() != proto::GC_PASS_RECONCILE) {
    RETURN_IF_ERROR(QueuePass(req.dry_run(), list_limit, reply.mutable_queue()));
  }
  if (req.pass() != proto::GC_PASS_QUEUE) {
    std::string alarm;
    RETURN_IF_ERROR(Reconcile(req.dry_run(), list_limit, reply.mutable_reconcile(), &alarm));
    reply.set_alarm_reason(alarm);
  }
  *reply.mutable_status() = Status();
  return reply;
}

proto::GcStatus Collector::Status() const {
  absl::MutexLock lock(&mu_);
  proto::GcStatus s = status_;
  s.set_deleted_queue_chunks(deleted_queue_->value());
  s.set_deleted_orphan_chunks(deleted_orphan_->value());
  s.set_errors(errors_->value());
  return s;
}

proto::ClearGcAlarmReply Collector::ClearAlarm() {
  proto::ClearGcAlarmReply reply;
  absl::MutexLock lock(&mu_);
  reply.set_was_raised(status_.alarm());
  reply.set_reason(status_.alarm_reason());
  if (status_.alarm()) {
    spdlog::warn("msg=\"gc alarm cleared\" reason=\"{}\"", status_.alarm_reason());
  }
  status_.set_alarm(false);
  status_.clear_alarm_reason();
  status_.set_alarm_since_ns(0);
  alarm_gauge_->Set(0);
  return reply;
}

void Collector::RaiseAlarm(const std::string& reason) {
  absl::MutexLock lock(&mu_);
  if (status_.alarm()) return;  // the first reason stays
  status_.set_alarm(true);
  status_.set_alarm_reason(reason);
  status_.set_alarm_since_ns(clock_->NowNanos());
  alarm_gauge_->Set(1);
  spdlog::error("msg=\"gc alarm raised: deletions stopped\" reason=\"{}\"", reason);
}

bool Collector::Alarmed() const {
  absl::MutexLock lock(&mu_);
  return status_.alarm();
}

void Collector::NoteError(const std::string& what, uint64_t n) {
  errors_->Increment(n);
  spdlog::warn("msg=\"{}\"", what);
  absl::MutexLock lock(&mu_);
  status_.set_last_error(what);
}

}  // namespace cairn::gc

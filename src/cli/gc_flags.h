// The garbage-collection flags shared by `cairn meta` and `cairn server`
// (docs/gc.md): seconds on the command line, gc::GcOptions in the server.
#pragma once

#include <CLI/CLI.hpp>

#include "gc/collector.h"

namespace cairn::cli {

struct GcFlags {
  double interval_s = 5;
  double delay_s = 60;
  double grace_s = 86400;
  double reconcile_interval_s = 3600;
  uint32_t batch = 1000;
  uint64_t alarm_unknown = 1000;

  gc::GcOptions Options() const {
    gc::GcOptions o;
    o.interval = absl::Seconds(interval_s);
    o.delay = absl::Seconds(delay_s);
    o.grace = absl::Seconds(grace_s);
    o.reconcile_interval = absl::Seconds(reconcile_interval_s);
    o.batch = batch;
    o.alarm_min_unknown = alarm_unknown;
    return o;
  }
};

inline void AddGcFlags(CLI::App* cmd, GcFlags* f) {
  cmd->add_option("--gc-interval", f->interval_s, "Seconds between GC queue passes")
      ->check(CLI::Range(0.01, 86400.0))
      ->capture_default_str();
  cmd->add_option("--gc-delay", f->delay_s,
                  "Seconds a released chunk stays queued before GC deletes it (readers that "
                  "opened the file before may finish)")
      ->check(CLI::Range(0.0, 30.0 * 86400))
      ->capture_default_str();
  cmd->add_option("--gc-grace", f->grace_s,
                  "Seconds a chunk no file references must be old before reconciliation "
                  "deletes it (protects writes not committed yet)")
      ->check(CLI::Range(0.0, 30.0 * 86400))
      ->capture_default_str();
  cmd->add_option("--gc-reconcile-interval", f->reconcile_interval_s,
                  "Seconds between reconciliations (listing every chunk of every node)")
      ->check(CLI::Range(0.01, 30.0 * 86400))
      ->capture_default_str();
  cmd->add_option("--gc-batch", f->batch,
                  "Queue entries per GC pass; also chunk ids per delete call (at most 10000)")
      ->check(CLI::Range(1u, 1000000u))
      ->capture_default_str();
  cmd->add_option("--gc-alarm-unknown", f->alarm_unknown,
                  "GC stops with an alarm when a node holds more chunks unknown to meta than "
                  "this (or 10% of its chunks, if more)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 40))
      ->capture_default_str();
}

}  // namespace cairn::cli

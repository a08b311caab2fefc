#include "chunkserver/scrubber.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "chunkserver/cluster_link.h"
#include "cluster.grpc.pb.h"
#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "dataplane/data_client.h"

namespace cairn::chunkserver {
namespace {

// Meta takes reasons of printable ASCII, at most 1024 bytes.
std::string Printable(std::string_view text) {
  std::string out(text.substr(0, 512));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  return out;
}

class ClusterScrubPeers final : public ScrubPeers {
 public:
  ClusterScrubPeers(std::function<ClusterLink*()> link, const std::string& meta_address,
                    absl::Duration timeout)
      : link_(std::move(link)),
        timeout_(timeout),
        stub_(proto::Cluster::NewStub(
            grpc::CreateChannel(meta_address, grpc::InsecureChannelCredentials()))) {}

  absl::StatusOr<AlignedBuffer> FetchGoodCopy(ChunkId id) override {
    ClusterLink* link = link_();
    if (link == nullptr) return Error(Errc::kUnavailable, "not linked to meta yet");
    std::shared_ptr<const proto::ClusterMap> map = link->map();
    if (map == nullptr || map->pg_count() == 0) {
      return Error(Errc::kUnavailable, "no cluster map yet");
    }
    const uint32_t pg = cluster::PgOf(id, map->pg_count()).value();
    if (static_cast<int>(pg) >= map->pgs_size()) {
      return Error(Errc::kUnavailable, "cluster map without chains");
    }
    const proto::PgChain& chain = map->pgs(static_cast<int>(pg));
    const uint64_t self = link->node_id().value();
    absl::Status last =
        NotFound("no other healthy member in the chain of pg " + std::to_string(pg));
    bool unreachable = false;
    for (uint64_t node : chain.nodes()) {
      if (node == self) continue;
      if (std::find(chain.recovering().begin(), chain.recovering().end(), node) !=
          chain.recovering().end()) {
        continue;  // still catching up: not a healthy copy
      }
      const proto::NodeInfo* info = nullptr;
      for (const proto::NodeInfo& n : map->nodes()) {
        if (n.id() == node) info = &n;
      }
      // DRAINING members still serve every chunk they hold.
      const bool serving = info != nullptr && (info->state() == proto::NODE_UP ||
                                               info->state() == proto::NODE_DRAINING);
      if (!serving || info->data_address().empty()) continue;
      absl::StatusOr<AlignedBuffer> copy =
          data_.ReadChunk(info->data_address(), id, 0, chunk::kToEnd);
      if (copy.ok()) return copy;
      const Errc e = ErrcOf(copy.status());
      if (e != Errc::kNotFound && e != Errc::kCorrupt) unreachable = true;
      last = copy.status();
    }
    if (!unreachable && ErrcOf(last) != Errc::kNotFound) {
      return NotFound("no good copy: " + std::string(last.message()));
    }
    return last;
  }

  void ReportBad(ChunkId id, std::string_view reason) override {
    ClusterLink* link = link_();
    if (link == nullptr) return;
    proto::ReportBadChunkRequest req;
    req.set_chunk_id(cluster::ChunkIdToBytes(id));
    req.set_node_id(link->node_id().value());
    req.set_reason(Printable(reason));
    proto::ReportReply reply;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout_));
    grpc::Status s = stub_->ReportBadChunk(&ctx, req, &reply);
    if (!s.ok()) {
      spdlog::warn("msg=\"bad chunk report to meta failed\" chunk={} error=\"{}\"", id.ToString(),
                   s.error_message());
    }
  }

 private:
  const std::function<ClusterLink*()> link_;
  const absl::Duration timeout_;
  std::unique_ptr<proto::Cluster::Stub> stub_;
  dataplane::DataClient data_;
};

int64_t NowNs() { return absl::ToUnixNanos(absl::Now()); }

}  // namespace

std::unique_ptr<ScrubPeers> MakeClusterScrubPeers(std::function<ClusterLink*()> link,
                                                  std::string meta_address,
                                                  absl::Duration rpc_timeout) {
  return std::make_unique<ClusterScrubPeers>(std::move(link), meta_address, rpc_timeout);
}

absl::StatusOr<absl::Duration> ParseScrubInterval(std::string_view text) {
  const std::string bad = "bad scrub interval '" + std::string(text) +
                          "' (a number with s, m, h or d, e.g. 7d; 0 for on demand only)";
  if (text == "0") return absl::ZeroDuration();
  if (text.size() < 2) return Invalid(bad);
  const char unit = text.back();
  const std::string number(text.substr(0, text.size() - 1));
  double scale = 0;
  switch (unit) {
    case 's':
      scale = 1;
      break;
    case 'm':
      scale = 60;
      break;
    case 'h':
      scale = 3600;
      break;
    case 'd':
      scale = 86400;
      break;
    default:
      return Invalid(bad);
  }
  if (number.find_first_not_of("0123456789.") != std::string::npos) return Invalid(bad);
  double value = 0;
  size_t used = 0;
  try {
    value = std::stod(number, &used);
  } catch (...) {
    return Invalid(bad);
  }
  if (used != number.size() || value < 0 || value * scale > 10 * 365 * 86400.0) {
    return Invalid(bad);
  }
  return absl::Seconds(value * scale);
}

Scrubber::Scrubber(chunk::ChunkStore* store, ScrubPeers* peers, ScrubberOptions options,
                   service::MetricsRegistry* metrics)
    : store_(store), peers_(peers), options_(std::move(options)) {
  if (metrics == nullptr) return;
  bytes_metric_ = metrics->GetCounter("cairn_chunk_scrub_bytes_total",
                                      "Chunk bytes read and verified by scrub");
  chunks_metric_ =
      metrics->GetCounter("cairn_chunk_scrub_chunks_total", "Chunks read and verified by scrub");
  bad_metric_ = metrics->GetCounter("cairn_chunk_scrub_bad_total",
                                    "Damaged chunk copies found (by scrub or by reads)");
  repaired_metric_ = metrics->GetCounter("cairn_chunk_scrub_repaired_total",
                                         "Damaged copies replaced with a good copy from a replica");
  unrepaired_metric_ = metrics->GetCounter("cairn_chunk_scrub_unrepaired_total",
                                           "Repairs that found no good copy anywhere");
  running_metric_ = metrics->GetGauge("cairn_chunk_scrub_running", "1 while a scrub cycle runs");
  last_complete_metric_ =
      metrics->GetGauge("cairn_chunk_scrub_last_complete_timestamp_seconds",
                        "Unix time the last full scrub cycle ended (0: none yet)");
}

Scrubber::~Scrubber() { Stop(); }

absl::Status Scrubber::Start() {
  if (options_.rate_bytes_per_sec == 0) return Invalid("scrub rate must be positive");
  if (options_.interval < absl::ZeroDuration()) return Invalid("scrub interval must be >= 0");
  if (options_.list_page == 0) return Invalid("scrub list page must be positive");
  absl::MutexLock l(&mu_);
  if (started_) return absl::OkStatus();
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void Scrubber::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    changed_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

bool Scrubber::Stopping() const {
  absl::MutexLock l(&mu_);
  return stop_;
}

bool Scrubber::StartCycle(ScrubStatus* before) {
  absl::MutexLock l(&mu_);
  if (before != nullptr) *before = StatusLocked();
  if (status_.running || stop_) return false;
  cycle_requested_ = true;
  changed_.SignalAll();
  return true;
}

void Scrubber::ReportCorrupt(ChunkId id) {
  absl::MutexLock l(&mu_);
  reports_.insert(id);
  changed_.SignalAll();
}

ScrubStatus Scrubber::status() const {
  absl::MutexLock l(&mu_);
  return StatusLocked();
}

ScrubStatus Scrubber::StatusLocked() const {
  ScrubStatus s = status_;
  s.waiting_repair = unrepaired_.size();
  return s;
}

bool Scrubber::WaitIdle(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  absl::MutexLock l(&mu_);
  while (busy_ || cycle_requested_ || !reports_.empty()) {
    if (changed_.WaitWithDeadline(&mu_, deadline)) {
      return !busy_ && !cycle_requested_ && reports_.empty();
    }
  }
  return true;
}

void Scrubber::Loop() {
  const bool scheduled = options_.interval > absl::ZeroDuration();
  absl::Time next_cycle = absl::Now() + options_.first_delay;
  while (true) {
    bool run_cycle = false;
    {
      absl::MutexLock l(&mu_);
      while (!stop_ && !cycle_requested_ && reports_.empty() &&
             !(scheduled && absl::Now() >= next_cycle)) {
        changed_.WaitWithDeadline(&mu_, scheduled ? next_cycle : absl::InfiniteFuture());
      }
      if (stop_) break;
      run_cycle = cycle_requested_ || (scheduled && absl::Now() >= next_cycle);
      busy_ = true;
    }
    DrainReports();
    if (run_cycle) {
      if (scheduled) next_cycle = absl::Now() + options_.interval;
      RunCycle();
    }
    absl::MutexLock l(&mu_);
    busy_ = false;
    changed_.SignalAll();
  }
  absl::MutexLock l(&mu_);
  busy_ = false;
  status_.running = false;
  if (running_metric_ != nullptr) running_metric_->Set(0);
  changed_.SignalAll();
}

void Scrubber::RunCycle() {
  absl::StatusOr<chunk::StoreStats> stats = store_->Stat();
  {
    absl::MutexLock l(&mu_);
    cycle_requested_ = false;
    const ScrubStatus old = status_;
    status_ = ScrubStatus{};
    status_.running = true;
    status_.cycles_completed = old.cycles_completed;
    status_.last_end_ns = old.last_end_ns;
    status_.total_bad = old.total_bad;
    status_.total_repaired = old.total_repaired;
    status_.total_unrepaired = old.total_unrepaired;
    status_.last_start_ns = NowNs();
    if (stats.ok()) {
      status_.chunks_total = stats->chunk_count;
      status_.bytes_total = stats->chunk_bytes;
    }
    changed_.SignalAll();
  }
  if (running_metric_ != nullptr) running_metric_->Set(1);
  spdlog::info("msg=\"scrub cycle started\" chunks={} bytes={} rate={}", status().chunks_total,
               status().bytes_total, options_.rate_bytes_per_sec);
  RetryUnrepaired();

  std::optional<ChunkId> after;
  bool complete = true;
  while (true) {
    absl::StatusOr<std::vector<chunk::ChunkInfo>> page = store_->List(after, options_.list_page);
    if (!page.ok()) {
      spdlog::error("msg=\"scrub: cannot list chunks\" error=\"{}\"", page.status().ToString());
      complete = false;
      break;
    }
    for (const chunk::ChunkInfo& info : *page) {
      if (!Pace(info.length)) {
        complete = false;
        break;
      }
      CheckChunk(info);
      DrainReports();
    }
    if (!complete || page->size() < options_.list_page) break;
    after = page->back().id;
  }

  const int64_t end = NowNs();
  absl::MutexLock l(&mu_);
  status_.running = false;
  if (complete) {
    status_.last_end_ns = end;
    ++status_.cycles_completed;
    if (last_complete_metric_ != nullptr) last_complete_metric_->Set(end / 1'000'000'000);
    spdlog::info(
        "msg=\"scrub cycle done\" chunks={} bytes={} bad={} repaired={} unrepaired={} "
        "seconds={:.1f}",
        status_.chunks_done, status_.bytes_done, status_.bad_found, status_.repaired,
        status_.unrepaired, static_cast<double>(end - status_.last_start_ns) / 1e9);
  }
  if (running_metric_ != nullptr) running_metric_->Set(0);
  changed_.SignalAll();
}

bool Scrubber::Pace(uint64_t bytes) {
  const absl::Time now = absl::Now();
  if (next_read_ < now) next_read_ = now;  // no catching up after a pause
  const absl::Time at = next_read_;
  next_read_ +=
      absl::Seconds(static_cast<double>(bytes) / static_cast<double>(options_.rate_bytes_per_sec));
  absl::MutexLock l(&mu_);
  while (!stop_ && absl::Now() < at) changed_.WaitWithDeadline(&mu_, at);
  return !stop_;
}

void Scrubber::CheckChunk(const chunk::ChunkInfo& info) {
  absl::StatusOr<AlignedBuffer> data = store_->Get(info.id, 0, chunk::kToEnd);
  const Errc e = ErrcOf(data.status());
  uint64_t bytes = data.ok() ? data->size() : 0;
  {
    absl::MutexLock l(&mu_);
    ++status_.chunks_done;
    status_.bytes_done += bytes;
  }
  if (chunks_metric_ != nullptr) chunks_metric_->Increment();
  if (bytes_metric_ != nullptr) bytes_metric_->Increment(bytes);
  if (e == Errc::kOk) return;
  if (e == Errc::kNotFound) {
    // Deleted meanwhile, or its file vanished behind the index's back: the
    // index still lists it after a second look only in the second case.
    if (!store_->Lookup(info.id).ok()) return;
    if (ErrcOf(store_->Get(info.id, 0, chunk::kToEnd).status()) != Errc::kNotFound) return;
    if (!store_->Lookup(info.id).ok()) return;
    HandleBad(info.id, "chunk file missing: " + std::string(data.status().message()));
    return;
  }
  if (e != Errc::kCorrupt) {
    // Not a verdict on the copy (an I/O error, ...): the next cycle retries.
    spdlog::error("msg=\"scrub: cannot read chunk\" chunk={} error=\"{}\"", info.id.ToString(),
                  data.status().ToString());
    return;
  }
  HandleBad(info.id, std::string(data.status().message()));
}

void Scrubber::DrainReports() {
  while (true) {
    ChunkId id;
    {
      absl::MutexLock l(&mu_);
      if (stop_ || reports_.empty()) return;
      id = *reports_.begin();
      reports_.erase(reports_.begin());
    }
    // Re-read: the report may be stale (already repaired, deleted).
    absl::StatusOr<AlignedBuffer> data = store_->Get(id, 0, chunk::kToEnd);
    if (ErrcOf(data.status()) == Errc::kCorrupt) {
      HandleBad(id, "read found it damaged: " + std::string(data.status().message()));
    }
  }
}

void Scrubber::HandleBad(ChunkId id, const std::string& why) {
  bool known = false;
  {
    absl::MutexLock l(&mu_);
    known = unrepaired_.count(id) > 0;
    if (!known) {
      ++status_.bad_found;
      ++status_.total_bad;
    }
  }
  if (!known) {
    spdlog::warn("msg=\"damaged chunk copy\" chunk={} error=\"{}\"", id.ToString(), why);
    if (bad_metric_ != nullptr) bad_metric_->Increment();
    peers_->ReportBad(id, "scrub: " + why);
  }
  Repair(id);
}

bool Scrubber::Repair(ChunkId id) {
  absl::StatusOr<AlignedBuffer> copy = peers_->FetchGoodCopy(id);
  absl::Status s = copy.status();
  bool quarantined = false;
  if (copy.ok()) {
    // Only with a good copy in hand does the damaged one go: without one
    // it may be all that is left of the chunk.
    s = store_->Quarantine(id);
    if (ErrcOf(s) == Errc::kNotFound) s = absl::OkStatus();
    quarantined = s.ok();
    if (s.ok()) s = store_->PutComputingCrcs(id, copy->span());
  }
  absl::MutexLock l(&mu_);
  if (s.ok()) {
    unrepaired_.erase(id);
    ++status_.repaired;
    ++status_.total_repaired;
    if (repaired_metric_ != nullptr) repaired_metric_->Increment();
    spdlog::info("msg=\"damaged chunk repaired from a replica\" chunk={} bytes={}", id.ToString(),
                 copy->size());
    return true;
  }
  auto [it, inserted] = unrepaired_.emplace(id, quarantined);
  it->second = it->second || quarantined;
  if (inserted) {
    ++status_.unrepaired;
    ++status_.total_unrepaired;
    if (unrepaired_metric_ != nullptr) unrepaired_metric_->Increment();
  }
  if (it->second) {
    spdlog::error("msg=\"damaged chunk quarantined, not yet repaired\" chunk={} error=\"{}\"",
                  id.ToString(), s.ToString());
  } else if (inserted) {
    spdlog::error(
        "msg=\"damaged chunk unrepairable for now: no good copy found; the damaged copy is "
        "kept\" chunk={} error=\"{}\"",
        id.ToString(), s.ToString());
  }
  return false;
}

void Scrubber::RetryUnrepaired() {
  std::vector<std::pair<ChunkId, bool>> ids;
  {
    absl::MutexLock l(&mu_);
    ids.assign(unrepaired_.begin(), unrepaired_.end());
  }
  for (const auto& [id, quarantined] : ids) {
    if (Stopping()) return;
    if (store_->Lookup(id).ok()) {
      // Replaced meanwhile (a client write, fsck): done. Still damaged:
      // the cycle's walk finds it and tries again.
      if (store_->Get(id, 0, chunk::kToEnd).ok()) {
        absl::MutexLock l(&mu_);
        unrepaired_.erase(id);
      }
      continue;
    }
    if (!quarantined) {  // the kept copy was deleted (the chunk is garbage)
      absl::MutexLock l(&mu_);
      unrepaired_.erase(id);
      continue;
    }
    Repair(id);
  }
}

}  // namespace cairn::chunkserver

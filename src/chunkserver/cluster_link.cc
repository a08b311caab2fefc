#include "chunkserver/cluster_link.h"

#include <chrono>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "common/errors.h"
#include "service/grpc_status.h"

namespace cairn::chunkserver {

ClusterLink::ClusterLink(ClusterLinkOptions options, NodeId stored_id, UsageFn usage,
                         PersistFn persist_id)
    : options_(std::move(options)),
      usage_(std::move(usage)),
      persist_id_(std::move(persist_id)),
      node_id_(stored_id.value()) {
  // gRPC's own reconnect back-off starts at 1 s and grows to 2 min; keep it
  // within ours so a meta that comes back is found by the next attempt.
  grpc::ChannelArguments args;
  const int min_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.retry_min));
  const int max_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.retry_max));
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::max(1, min_ms));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::max(1, min_ms));
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, std::max(1, max_ms));
  stub_ = proto::Cluster::NewStub(
      grpc::CreateCustomChannel(options_.meta_address, grpc::InsecureChannelCredentials(), args));
}

ClusterLink::~ClusterLink() { Stop(); }

void ClusterLink::Start() {
  absl::MutexLock l(&thread_mu_);
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void ClusterLink::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
    if (call_ != nullptr) call_->TryCancel();
  }
  absl::MutexLock l(&thread_mu_);
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const proto::ClusterMap> ClusterLink::map() const {
  absl::MutexLock l(&mu_);
  return map_;
}

std::string ClusterLink::last_error() const {
  absl::MutexLock l(&mu_);
  return last_error_;
}

bool ClusterLink::WaitRegistered(absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (!registered()) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

bool ClusterLink::WaitEpoch(uint64_t epoch, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  while (this->epoch() < epoch) {
    if (absl::Now() >= deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

absl::Status ClusterLink::CheckEpoch(uint64_t epoch) {
  if (epoch == 0) return absl::OkStatus();  // tools: unchecked
  const uint64_t mine = epoch_.load();
  if (mine != 0 && epoch < mine) {
    return Error(Errc::kStaleEpoch, "request made with map epoch " + std::to_string(epoch) +
                                        ", the server has epoch " + std::to_string(mine));
  }
  if (epoch > mine) RequestRefresh(epoch);
  return absl::OkStatus();
}

void ClusterLink::RequestRefresh(uint64_t epoch) {
  uint64_t seen = wanted_epoch_.load();
  while (epoch > seen && !wanted_epoch_.compare_exchange_weak(seen, epoch)) {
  }
  if (epoch <= epoch_.load()) return;
  absl::MutexLock l(&mu_);
  refresh_ = true;
}

void ClusterLink::SetError(const absl::Status& status) {
  absl::MutexLock l(&mu_);
  last_error_ = status.ok() ? "" : std::string(status.message());
}

template <typename Req, typename Reply>
absl::Status ClusterLink::Call(grpc::Status (proto::Cluster::Stub::*method)(grpc::ClientContext*,
                                                                            const Req&, Reply*),
                               const Req& req, Reply* reply) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.rpc_timeout));
  {
    absl::MutexLock l(&mu_);
    if (stop_) return Error(Errc::kCancelled, "stopping");
    call_ = &ctx;
  }
  grpc::Status s = (stub_.get()->*method)(&ctx, req, reply);
  {
    absl::MutexLock l(&mu_);
    call_ = nullptr;
  }
  absl::Status st = service::FromGrpcStatus(s, ctx);
  if (!st.ok()) {
    return Error(ErrcOf(st), "meta " + options_.meta_address + ": " + std::string(st.message()));
  }
  return st;
}

bool ClusterLink::Sleep(absl::Time deadline, bool wake_on_refresh) {
  absl::MutexLock l(&mu_);
  auto ready = [this, wake_on_refresh]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || (wake_on_refresh && refresh_);
  };
  mu_.AwaitWithDeadline(absl::Condition(&ready), deadline);
  return stop_;
}

void ClusterLink::InstallMap(proto::ClusterMap map) {
  const uint64_t epoch = map.epoch();
  absl::MutexLock l(&mu_);
  if (map_ && map_->epoch() >= epoch) return;
  map_ = std::make_shared<const proto::ClusterMap>(std::move(map));
  epoch_.store(epoch);
  if (wanted_epoch_.load() <= epoch) refresh_ = false;
}

absl::Status ClusterLink::Register() {
  absl::StatusOr<NodeUsage> usage = usage_();
  if (!usage.ok()) return usage.status();
  proto::RegisterRequest req;
  req.set_node_id(node_id_.load());
  req.set_data_address(options_.data_address);
  req.set_grpc_address(options_.grpc_address);
  req.set_http_address(options_.http_address);
  req.set_zone(options_.zone);
  req.set_capacity_bytes(usage->stats.capacity_bytes);
  req.set_available_bytes(usage->stats.available_bytes);
  proto::RegisterReply reply;
  absl::Status st = Call(&proto::Cluster::Stub::Register, req, &reply);
  if (ErrcOf(st) == Errc::kNotFound && req.node_id() != 0) {
    if (usage->stats.chunk_count != 0) {
      return Error(Errc::kNotFound,
                   "meta does not know node " + std::to_string(req.node_id()) +
                       " and this node holds " + std::to_string(usage->stats.chunk_count) +
                       " chunks: not registering them as a new node (was meta's store "
                       "replaced?); " +
                       std::string(st.message()));
    }
    spdlog::warn(
        "msg=\"meta does not know this node; the store is empty, registering as new\" "
        "old_node_id={}",
        req.node_id());
    req.set_node_id(0);
    reply.Clear();
    st = Call(&proto::Cluster::Stub::Register, req, &reply);
  }
  if (!st.ok()) return st;
  if (reply.node_id() == 0) return Error(Errc::kInternal, "meta assigned node id 0");
  if (reply.node_id() != req.node_id()) {
    absl::Status saved = persist_id_(NodeId(reply.node_id()));
    if (!saved.ok()) {
      return Error(ErrcOf(saved), "cannot store node id " + std::to_string(reply.node_id()) + ": " +
                                      std::string(saved.message()));
    }
  }
  node_id_.store(reply.node_id());
  InstallMap(std::move(*reply.mutable_map()));
  registrations_.fetch_add(1);
  SetError(absl::OkStatus());  // before anyone can see registered() (no stale error after it)
  registered_.store(true);
  spdlog::info("msg=\"registered with meta\" node_id={} epoch={} data={} meta={}", reply.node_id(),
               epoch(), options_.data_address, options_.meta_address);
  return absl::OkStatus();
}

absl::Status ClusterLink::Heartbeat() {
  absl::StatusOr<NodeUsage> usage = usage_();
  if (!usage.ok()) return usage.status();
  proto::HeartbeatRequest req;
  req.set_node_id(node_id_.load());
  req.set_epoch(epoch());
  req.set_capacity_bytes(usage->stats.capacity_bytes);
  req.set_used_bytes(usage->stats.chunk_bytes);
  req.set_available_bytes(usage->stats.available_bytes);
  req.set_chunk_count(usage->stats.chunk_count);
  req.set_load(usage->load);
  if (progress_) {
    for (proto::PgProgress& p : progress_()) *req.add_recovery() = std::move(p);
  }
  proto::HeartbeatReply reply;
  absl::Status st = Call(&proto::Cluster::Stub::Heartbeat, req, &reply);
  if (!st.ok()) return st;
  heartbeats_.fetch_add(1);
  RequestRefresh(reply.epoch());
  return absl::OkStatus();
}

absl::StatusOr<proto::ClusterMap> ClusterLink::FreshMap() {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.rpc_timeout));
  proto::GetClusterMapRequest req;
  proto::ClusterMap reply;
  absl::Status st = service::FromGrpcStatus(stub_->GetClusterMap(&ctx, req, &reply), ctx);
  if (!st.ok()) return st;
  return reply;
}

absl::Status ClusterLink::PgRecovered(uint32_t pg, uint64_t epoch) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.rpc_timeout));
  proto::PgRecoveredRequest req;
  req.set_node_id(node_id_.load());
  req.set_pg(pg);
  req.set_epoch(epoch);
  proto::ReportReply reply;
  absl::Status st = service::FromGrpcStatus(stub_->PgRecovered(&ctx, req, &reply), ctx);
  if (st.ok()) RequestRefresh(reply.epoch());
  return st;
}

absl::Status ClusterLink::FetchMap() {
  proto::GetClusterMapRequest req;
  req.set_known_epoch(epoch());
  proto::ClusterMap reply;
  absl::Status st = Call(&proto::Cluster::Stub::GetClusterMap, req, &reply);
  if (!st.ok()) return st;
  map_fetches_.fetch_add(1);
  if (reply.epoch() != req.known_epoch() || reply.pgs_size() > 0) {
    spdlog::info("msg=\"cluster map\" epoch={} node_id={}", reply.epoch(), node_id_.load());
    InstallMap(std::move(reply));
  }
  // Whatever a request claimed beyond meta's own epoch is not there to
  // fetch: the next heartbeat tells when there is more.
  uint64_t wanted = wanted_epoch_.load();
  while (wanted > epoch() && !wanted_epoch_.compare_exchange_weak(wanted, epoch())) {
  }
  return absl::OkStatus();
}

void ClusterLink::Loop() {
  absl::Duration backoff = options_.retry_min;
  absl::Time next_heartbeat = absl::Now();
  bool logged_unreachable = false;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (stop_) return;
    }
    if (!registered()) {
      absl::Status st = Register();
      if (!st.ok()) {
        SetError(st);
        if (ErrcOf(st) == Errc::kCancelled) return;
        if (!logged_unreachable) {
          spdlog::warn("msg=\"cannot register with meta; retrying\" error=\"{}\"",
                       std::string(st.message()));
          logged_unreachable = true;
        }
        if (Sleep(absl::Now() + backoff, false)) return;
        backoff = std::min(backoff * 2, options_.retry_max);
        continue;
      }
      logged_unreachable = false;
      backoff = options_.retry_min;
      next_heartbeat = absl::Now() + options_.heartbeat_interval;
    }
    if (absl::Now() >= next_heartbeat) {
      next_heartbeat = absl::Now() + options_.heartbeat_interval;
      absl::Status st = Heartbeat();
      if (!st.ok()) {
        if (ErrcOf(st) == Errc::kCancelled) return;
        heartbeat_failures_.fetch_add(1);
        SetError(st);
        if (ErrcOf(st) == Errc::kNotFound) {
          spdlog::warn("msg=\"meta does not know this node; registering again\" node_id={}",
                       node_id_.load());
          registered_.store(false);
          continue;
        }
        if (!logged_unreachable) {
          spdlog::warn("msg=\"heartbeat failed\" error=\"{}\"", std::string(st.message()));
          logged_unreachable = true;
        }
      } else {
        if (logged_unreachable) spdlog::info("msg=\"meta reachable again\"");
        logged_unreachable = false;
        SetError(absl::OkStatus());
      }
    }
    {
      // Asked for again by a request or the next heartbeat.
      absl::MutexLock l(&mu_);
      refresh_ = false;
    }
    if (wanted_epoch_.load() > epoch()) {
      absl::Status st = FetchMap();
      if (!st.ok()) {
        if (ErrcOf(st) == Errc::kCancelled) return;
        SetError(st);
        // Do not spin on a meta that is away while requests keep asking.
        if (Sleep(std::min(next_heartbeat, absl::Now() + options_.retry_min), false)) return;
      }
    }
    if (Sleep(next_heartbeat, true)) return;
  }
}

}  // namespace cairn::chunkserver

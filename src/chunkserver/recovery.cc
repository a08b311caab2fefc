#include "chunkserver/recovery.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <set>

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/hash.h"
#include "common/status_macros.h"
#include "service/grpc_status.h"

namespace cairn::chunkserver {
namespace {

const proto::NodeInfo* FindNode(const proto::ClusterMap& map, uint64_t id) {
  for (const proto::NodeInfo& n : map.nodes()) {
    if (n.id() == id) return &n;
  }
  return nullptr;
}

bool InService(const proto::NodeInfo& n) {
  return n.state() == proto::NODE_UP || n.state() == proto::NODE_DRAINING;
}

bool Contains(const google::protobuf::RepeatedField<uint64_t>& ids, uint64_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// The healthy members of `pg` other than `me` that can serve a copy,
// rotated by a hash of (pg, me) so recovering nodes spread their reads.
std::vector<const proto::NodeInfo*> Sources(const proto::ClusterMap& map, uint32_t pg,
                                            uint64_t me) {
  std::vector<const proto::NodeInfo*> out;
  if (pg >= static_cast<uint32_t>(map.pgs_size())) return out;
  const proto::PgChain& chain = map.pgs(static_cast<int>(pg));
  for (uint64_t id : chain.nodes()) {
    if (id == me || Contains(chain.recovering(), id)) continue;
    const proto::NodeInfo* n = FindNode(map, id);
    if (n == nullptr || !InService(*n) || n->grpc_address().empty() || n->data_address().empty())
      continue;
    out.push_back(n);
  }
  if (!out.empty()) {
    std::rotate(out.begin(), out.begin() + static_cast<long>(Mix64(Mix64(pg) ^ me) % out.size()),
                out.end());
  }
  return out;
}

}  // namespace

Recovery::Recovery(RecoveryOptions options, chunk::ChunkStore* store, ClusterLink* link)
    : options_(options), store_(store), link_(link) {}

Recovery::~Recovery() { Stop(); }

void Recovery::Start() {
  absl::MutexLock l(&thread_mu_);
  if (thread_.joinable()) return;
  {
    absl::MutexLock s(&mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Recovery::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  absl::MutexLock l(&thread_mu_);
  if (thread_.joinable()) thread_.join();
  thread_ = std::thread();
}

bool Recovery::stopping() const {
  absl::MutexLock l(&mu_);
  return stop_;
}

bool Recovery::Pause(absl::Duration d) {
  absl::MutexLock l(&mu_);
  auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
  mu_.AwaitWithTimeout(absl::Condition(&stopped), d);
  return !stop_;
}

bool Recovery::Throttle(uint64_t bytes) {
  if (options_.rate_bytes_per_sec == 0) return !stopping();
  absl::Time start;
  {
    absl::MutexLock l(&mu_);
    const absl::Time now = absl::Now();
    // No credit for idle time beyond one chunk: a burst stays one chunk.
    start = std::max(now, next_free_);
    next_free_ = start + absl::Seconds(static_cast<double>(bytes) /
                                       static_cast<double>(options_.rate_bytes_per_sec));
  }
  const absl::Duration wait = start - absl::Now();
  return wait <= absl::ZeroDuration() ? !stopping() : Pause(wait);
}

std::vector<proto::PgProgress> Recovery::Progress() const {
  absl::MutexLock l(&mu_);
  std::vector<proto::PgProgress> out;
  for (const auto& [pg, p] : progress_) out.push_back(p);
  return out;
}

proto::ChunkNode::Stub* Recovery::StubFor(const std::string& grpc_address) {
  absl::MutexLock l(&mu_);
  auto& stub = stubs_[grpc_address];
  if (!stub) {
    stub = proto::ChunkNode::NewStub(
        grpc::CreateChannel(grpc_address, grpc::InsecureChannelCredentials()));
  }
  return stub.get();
}

absl::StatusOr<proto::ListChunksReply> Recovery::List(const std::string& grpc_address,
                                                      const proto::ListChunksRequest& req) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   absl::ToChronoMilliseconds(options_.rpc_timeout));
  proto::ListChunksReply reply;
  absl::Status st =
      service::FromGrpcStatus(StubFor(grpc_address)->ListChunks(&ctx, req, &reply), ctx);
  if (!st.ok()) {
    return Error(ErrcOf(st), "list chunks on " + grpc_address + ": " + std::string(st.message()));
  }
  return reply;
}

absl::Status Recovery::ListPg(const proto::ClusterMap& map, uint32_t pg,
                              const proto::NodeInfo& member, const ListedFn& fn) {
  proto::ListChunksRequest req;
  req.set_limit(options_.list_page);
  req.set_pg_count(map.pg_count());
  req.set_pg(pg);
  for (;;) {
    if (stopping()) return Error(Errc::kCancelled, "stopping");
    ASSIGN_OR_RETURN(proto::ListChunksReply page, List(member.grpc_address(), req));
    for (const proto::ChunkEntry& e : page.chunks()) {
      absl::StatusOr<ChunkId> id = cluster::ChunkIdFromBytes(e.id());
      if (!id.ok()) continue;  // a peer's bad entry: neither copied nor a confirmation
      RETURN_IF_ERROR(fn(*id, e));
    }
    if (page.done() || page.next_after().empty()) return absl::OkStatus();
    req.set_after(page.next_after());
  }
}

absl::StatusOr<std::map<ChunkId, Recovery::Missing>> Recovery::ListMissing(
    const proto::ClusterMap& map, uint32_t pg, const std::vector<const proto::NodeInfo*>& sources,
    PassStats& stats) {
  std::map<ChunkId, Missing> missing;
  std::set<ChunkId> seen;
  absl::Status last;
  for (const proto::NodeInfo* src : sources) {
    absl::Status local;  // this node's store failed: ends the pass
    absl::Status listed =
        ListPg(map, pg, *src, [&](ChunkId id, const proto::ChunkEntry& e) -> absl::Status {
          if (!seen.insert(id).second) {
            if (auto it = missing.find(id); it != missing.end()) it->second.holders.push_back(src);
            return absl::OkStatus();
          }
          absl::StatusOr<chunk::ChunkInfo> have = store_->Lookup(id);
          if (have.ok()) return absl::OkStatus();
          if (ErrcOf(have.status()) != Errc::kNotFound) {
            local = have.status();
            return local;
          }
          Missing& m = missing[id];
          m.length = e.length();
          m.holders.push_back(src);
          return absl::OkStatus();
        });
    if (!local.ok()) return local;
    if (stopping()) return Error(Errc::kCancelled, "stopping");
    if (listed.ok()) continue;
    // A chunk only this member holds would be missed: the pass goes on
    // with the others but is not clean.
    ++stats.unlisted;
    last = listed;
    spdlog::warn("msg=\"recovery: cannot list source\" pg={} source={} error=\"{}\"", pg, src->id(),
                 std::string(listed.message()));
  }
  if (stats.unlisted == sources.size()) return last;
  stats.listed = seen.size();
  return missing;
}

absl::Status Recovery::CopyChunk(ChunkId id, const Missing& m,
                                 const std::vector<const proto::NodeInfo*>& sources,
                                 PassStats& stats) {
  // The members that listed it first, then the others.
  std::vector<const proto::NodeInfo*> order = m.holders;
  for (const proto::NodeInfo* src : sources) {
    if (std::find(order.begin(), order.end(), src) == order.end()) order.push_back(src);
  }
  bool gone = true;
  absl::Status last;
  for (const proto::NodeInfo* src : order) {
    absl::StatusOr<AlignedBuffer> data =
        data_.ReadChunk(src->data_address(), id, 0, chunk::kToEnd, /*epoch=*/0);
    if (!data.ok()) {
      last = data.status();
      if (ErrcOf(last) != Errc::kNotFound) gone = false;
      continue;
    }
    gone = false;
    // DataClient verified every block's CRC; the store computes them
    // again over the verified bytes and keeps them.
    last = store_->PutComputingCrcs(id, data->span());
    if (last.ok()) {
      ++stats.copied;
      stats.copied_bytes += m.length;
      chunks_.fetch_add(1);
      bytes_.fetch_add(m.length);
      return absl::OkStatus();
    }
    if (ErrcOf(last) == Errc::kNoSpace) return last;
  }
  if (gone) {
    // Deleted since the listing, or lost behind a member's index: either
    // way not copied, so the PG is not claimed; the next pass lists again.
    ++stats.vanished;
    spdlog::info("msg=\"recovery: listed chunk found on no member\" chunk={}", id.ToString());
    return absl::OkStatus();
  }
  ++stats.failed;
  errors_.fetch_add(1);
  spdlog::warn("msg=\"recovery: chunk not copied\" chunk={} error=\"{}\"", id.ToString(),
               std::string(last.message()));
  return absl::OkStatus();
}

absl::StatusOr<PassStats> Recovery::BackfillPass(const proto::ClusterMap& map, uint32_t pg) {
  const uint64_t me = link_->node_id().value();
  std::vector<const proto::NodeInfo*> sources = Sources(map, pg, me);
  if (sources.empty()) {
    return Error(Errc::kUnavailable,
                 "pg " + std::to_string(pg) + " has no healthy member to copy from");
  }
  // The listing: what any healthy member holds that this node does not.
  PassStats stats;
  ASSIGN_OR_RETURN(auto missing, ListMissing(map, pg, sources, stats));

  proto::PgProgress progress;
  progress.set_pg(pg);
  progress.set_chunks_total(missing.size());
  for (const auto& [id, m] : missing) progress.set_bytes_total(progress.bytes_total() + m.length);
  {
    absl::MutexLock l(&mu_);
    progress_[pg] = progress;
  }
  for (const auto& [id, m] : missing) {
    if (!Throttle(m.length)) return Error(Errc::kCancelled, "stopping");
    RETURN_IF_ERROR(CopyChunk(id, m, sources, stats));
    absl::MutexLock l(&mu_);
    proto::PgProgress& p = progress_[pg];
    p.set_chunks_done(p.chunks_done() + 1);
    p.set_bytes_done(p.bytes_done() + m.length);
  }
  return stats;
}

absl::Status Recovery::WaitMembersAt(const std::vector<uint32_t>& pgs, uint64_t epoch) {
  const absl::Time deadline = absl::Now() + options_.epoch_wait;
  for (;;) {
    absl::StatusOr<proto::ClusterMap> map = link_->FreshMap();
    if (map.ok()) {
      bool all = true;
      for (uint32_t pg : pgs) {
        if (pg >= static_cast<uint32_t>(map->pgs_size())) continue;
        for (uint64_t id : map->pgs(static_cast<int>(pg)).nodes()) {
          const proto::NodeInfo* n = FindNode(*map, id);
          if (n != nullptr && InService(*n) && n->map_epoch() < epoch) all = false;
        }
      }
      if (all) return absl::OkStatus();
    }
    if (absl::Now() >= deadline) {
      return Error(Errc::kTimeout, "chain members did not reach epoch " + std::to_string(epoch));
    }
    if (!Pause(options_.poll_interval)) return Error(Errc::kCancelled, "stopping");
  }
}

bool Recovery::Round(const proto::ClusterMap& map) {
  const uint64_t me = link_->node_id().value();
  std::vector<uint32_t> pgs;
  size_t waiting = 0;
  for (const proto::PgChain& c : map.pgs()) {
    if (!Contains(c.recovering(), me)) continue;
    // No healthy member (every holder gone): nothing to copy from until
    // one is back; not a failed pass.
    if (Sources(map, c.pg(), me).empty()) {
      ++waiting;
      continue;
    }
    pgs.push_back(c.pg());
  }
  {
    // Forget progress of PGs no longer recovering here.
    absl::MutexLock l(&mu_);
    for (auto it = progress_.begin(); it != progress_.end();) {
      it = std::find(pgs.begin(), pgs.end(), it->first) == pgs.end() ? progress_.erase(it)
                                                                     : std::next(it);
    }
  }
  if (waiting > 0) {
    spdlog::debug("msg=\"recovery: pgs wait for a holder\" node={} pgs={}", me, waiting);
  }
  if (pgs.empty()) return false;
  const uint64_t epoch = map.epoch();
  spdlog::info("msg=\"recovery round\" node={} epoch={} pgs={}", me, epoch, pgs.size());
  std::vector<uint32_t> clean;
  for (uint32_t pg : pgs) {
    absl::StatusOr<PassStats> st = BackfillPass(map, pg);
    if (stopping()) return true;
    if (!st.ok()) {
      errors_.fetch_add(1);
      spdlog::warn("msg=\"recovery pass failed\" pg={} error=\"{}\"", pg,
                   std::string(st.status().message()));
    } else if (st->Clean()) {
      clean.push_back(pg);
    }
  }
  if (clean.empty()) return true;
  // Final pass once no write made with an older chain can start.
  if (absl::Status st = WaitMembersAt(clean, epoch); !st.ok()) {
    if (ErrcOf(st) != Errc::kCancelled)
      spdlog::warn("msg=\"recovery: final pass postponed\" error=\"{}\"",
                   std::string(st.message()));
    return true;
  }
  if (!Pause(options_.final_pass_delay)) return true;
  for (uint32_t pg : clean) {
    absl::StatusOr<PassStats> st = BackfillPass(map, pg);
    if (stopping()) return true;
    if (!st.ok() || !st->Clean()) continue;  // the next round tries again
    absl::Status claimed = link_->PgRecovered(pg, epoch);
    if (claimed.ok()) {
      pgs_recovered_.fetch_add(1);
      absl::MutexLock l(&mu_);
      progress_.erase(pg);
    } else {
      spdlog::info("msg=\"recovery claim refused\" pg={} epoch={} error=\"{}\"", pg, epoch,
                   std::string(claimed.message()));
    }
  }
  spdlog::info("msg=\"recovery round done\" node={} epoch={} copied_chunks={} copied_bytes={}", me,
               epoch, chunks_.load(), bytes_.load());
  return true;
}

absl::StatusOr<std::vector<ChunkId>> Recovery::Confirmed(
    const proto::ClusterMap& map, uint32_t pg, const std::vector<const proto::NodeInfo*>& members,
    const std::vector<chunk::ChunkInfo>& candidates) {
  // confirmations[i]: members that listed candidates[i] with its length.
  std::vector<size_t> confirmations(candidates.size(), 0);
  for (const proto::NodeInfo* member : members) {
    if (member->grpc_address().empty()) {
      return Error(Errc::kUnavailable,
                   "member " + std::to_string(member->id()) + " has no gRPC address to list");
    }
    std::vector<bool> listed(candidates.size(), false);
    RETURN_IF_ERROR(
        ListPg(map, pg, *member, [&](ChunkId id, const proto::ChunkEntry& e) -> absl::Status {
          auto it = std::lower_bound(
              candidates.begin(), candidates.end(), id,
              [](const chunk::ChunkInfo& c, const ChunkId& x) { return c.id < x; });
          if (it != candidates.end() && it->id == id && it->length == e.length()) {
            listed[static_cast<size_t>(it - candidates.begin())] = true;
          }
          return absl::OkStatus();
        }));
    for (size_t i = 0; i < candidates.size(); ++i) confirmations[i] += listed[i] ? 1 : 0;
  }
  std::vector<ChunkId> out;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (confirmations[i] == members.size()) out.push_back(candidates[i].id);
  }
  return out;
}

bool Recovery::MapMoved(const proto::ClusterMap& map) const {
  const uint64_t now = link_->epoch();
  if (now == map.epoch()) return false;
  spdlog::info("msg=\"extra copy clean-up stopped: the map changed\" epoch={} now={}", map.epoch(),
               now);
  return true;
}

bool Recovery::DeleteBatch(const proto::ClusterMap& map,
                           const std::vector<std::vector<const proto::NodeInfo*>>& members,
                           const std::map<uint32_t, std::vector<chunk::ChunkInfo>>& batch,
                           uint64_t& deleted) {
  for (const auto& [pg, candidates] : batch) {
    if (MapMoved(map)) return false;  // no point listing for an old map
    absl::StatusOr<std::vector<ChunkId>> confirmed = Confirmed(map, pg, members[pg], candidates);
    if (stopping()) return false;
    if (!confirmed.ok()) {
      // A member we cannot ask might lack any of them: keep the PG's copies.
      spdlog::warn(
          "msg=\"extra copies kept: a member cannot be listed\" pg={} chunks={} "
          "error=\"{}\"",
          pg, candidates.size(), std::string(confirmed.status().message()));
      continue;
    }
    if (confirmed->size() < candidates.size()) {
      spdlog::info("msg=\"extra copies kept: not on every healthy member\" pg={} chunks={}", pg,
                   candidates.size() - confirmed->size());
    }
    // Deleted kDeleteBatch at a time, each batch only while the cache holds
    // `map`'s epoch: the listing answered for the chains of `map`, and once
    // the map moved on (a member left, this node rejoined the PG) it no
    // longer says where the copies must be.
    constexpr size_t kDeleteBatch = 1000;
    for (size_t i = 0; i < confirmed->size(); ++i) {
      if (i % kDeleteBatch == 0 && (stopping() || MapMoved(map))) return false;
      if (store_->Delete((*confirmed)[i]).ok()) ++deleted;
    }
  }
  return true;
}

absl::StatusOr<uint64_t> Recovery::CleanupPass(const proto::ClusterMap& map) {
  if (options_.extra_copy_grace <= absl::ZeroDuration() || map.pg_count() == 0 ||
      static_cast<uint32_t>(map.pgs_size()) != map.pg_count()) {
    return 0;
  }
  const uint64_t me = link_->node_id().value();
  if (me == 0) return 0;
  // Per PG that is not ours, its healthy members, when at least R (and
  // at least one): each must confirm a chunk before it goes. Empty: keep.
  const size_t want = std::max<size_t>(map.replicas(), 1);
  std::vector<std::vector<const proto::NodeInfo*>> members(map.pg_count());
  for (const proto::PgChain& c : map.pgs()) {
    if (c.pg() >= map.pg_count() || Contains(c.nodes(), me)) continue;
    std::vector<const proto::NodeInfo*> healthy;
    for (uint64_t id : c.nodes()) {
      const proto::NodeInfo* n = FindNode(map, id);
      if (n != nullptr && InService(*n) && !Contains(c.recovering(), id)) healthy.push_back(n);
    }
    if (healthy.size() >= want) members[c.pg()] = std::move(healthy);
  }
  // Candidates are gathered from the local store in id order and confirmed
  // in batches of up to kBatch, each listing the batch's PGs on their
  // members: memory stays bounded (~24 MB) while a node with few extra
  // copies lists each PG once per pass.
  constexpr size_t kPage = 1000;
  constexpr size_t kBatch = 1'000'000;
  const int64_t older_than = absl::ToUnixNanos(absl::Now() - options_.extra_copy_grace);
  uint64_t deleted = 0;
  std::map<uint32_t, std::vector<chunk::ChunkInfo>> batch;
  size_t batched = 0;
  std::optional<ChunkId> after;
  absl::Status failed;
  for (bool more = true; more && !stopping();) {
    absl::StatusOr<std::vector<chunk::ChunkInfo>> page = store_->List(after, kPage);
    if (!page.ok()) {
      failed = page.status();
      break;
    }
    for (const chunk::ChunkInfo& info : *page) {
      const uint32_t pg = cluster::PgOf(info.id, map.pg_count()).value();
      if (members[pg].empty()) continue;
      absl::StatusOr<int64_t> mtime = store_->ModifiedNs(info.id);
      if (!mtime.ok() || *mtime > older_than) continue;
      batch[pg].push_back(info);  // in id order, as Confirmed needs
      ++batched;
    }
    more = page->size() == kPage;
    if (more) after = page->back().id;
    if (batched >= kBatch || (!more && batched > 0)) {
      if (!DeleteBatch(map, members, batch, deleted)) break;
      batch.clear();
      batched = 0;
    }
  }
  extra_deleted_.fetch_add(deleted);
  if (deleted > 0) spdlog::info("msg=\"extra copies deleted\" chunks={}", deleted);
  if (!failed.ok()) return failed;
  return deleted;
}

void Recovery::Loop() {
  absl::Time next_cleanup = absl::Now() + options_.cleanup_interval;
  while (!stopping()) {
    std::shared_ptr<const proto::ClusterMap> map = link_->map();
    bool busy = false;
    if (map != nullptr && link_->registered()) {
      busy = Round(*map);
      if (!busy && absl::Now() >= next_cleanup) {
        next_cleanup = absl::Now() + options_.cleanup_interval;
        // A fresh map, and only when the cache agrees with it: a node that
        // has not seen a change yet must not act on it.
        absl::StatusOr<proto::ClusterMap> fresh = link_->FreshMap();
        if (fresh.ok() && fresh->epoch() == link_->epoch()) {
          absl::StatusOr<uint64_t> st = CleanupPass(*fresh);
          if (!st.ok())
            spdlog::warn("msg=\"extra copy clean-up failed\" error=\"{}\"",
                         std::string(st.status().message()));
        }
      }
    }
    if (!Pause(busy ? absl::Milliseconds(100) : options_.poll_interval)) return;
  }
}

}  // namespace cairn::chunkserver

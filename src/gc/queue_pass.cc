// The queue pass: delete the chunks of GC queue entries older than the
// delay from every member of their PG's current chain, then remove the
// entries whose every chunk every member confirmed (deleted or not found).
//
// Only ids taken from queue entries are ever sent here: a transaction put
// them there when it released them (docs/metadata.md, "The GC queue").
#include <algorithm>
#include <map>
#include <set>

#include <spdlog/spdlog.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cluster/placement.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "gc/collector.h"

namespace cairn::gc {
namespace {

constexpr uint32_t kQueuePage = 10'000;

}  // namespace

absl::Status Collector::CountQueue() {
  ASSIGN_OR_RETURN(QueueCount::Totals totals, queue_count_.Update(clock_->NowNanos()));
  queue_gauge_->Set(static_cast<int64_t>(totals.entries));
  absl::MutexLock lock(&mu_);
  status_.set_queue_entries(totals.entries);
  status_.set_queue_chunks(totals.chunks);
  return absl::OkStatus();
}

absl::Status Collector::QueuePass(bool dry_run, uint32_t list_limit, proto::GcQueueResult* out) {
  const int64_t now_ns = clock_->NowNanos();
  const int64_t ready_before = now_ns - absl::ToInt64Nanoseconds(options_.delay);

  // 1. The ready entries: the oldest ones, at most `batch`, queued at or
  //    before now - delay (the queue is in time order).
  std::vector<meta::GcQueueEntry> ready;
  {
    std::string after;
    bool young = false;
    while (!young && ready.size() < options_.batch) {
      const uint32_t want = std::min<uint32_t>(kQueuePage, options_.batch - ready.size());
      ASSIGN_OR_RETURN(std::vector<meta::GcQueueEntry> page, ns_->ListGcQueue(after, want));
      for (meta::GcQueueEntry& e : page) {
        if (e.entry.queued_ns() > ready_before) {
          young = true;
          break;
        }
        ready.push_back(std::move(e));
      }
      // Young entries (the rest is younger still) or the end of the queue.
      if (young || page.size() < want) break;
      after = ready.back().key;  // the whole page was ready: not empty
    }
  }
  uint64_t chunks_ready = 0;
  for (const meta::GcQueueEntry& e : ready) {
    for (const std::string& id : e.entry.chunk_ids()) {
      if (static_cast<uint32_t>(out->ids_size()) < list_limit) out->add_ids(id);
      ++chunks_ready;
    }
  }
  out->set_entries_ready(ready.size());
  out->set_chunks_ready(chunks_ready);
  if (dry_run || ready.empty()) {
    RETURN_IF_ERROR(CountQueue());
    if (!dry_run) {
      absl::MutexLock lock(&mu_);
      status_.set_last_queue_pass_ns(now_ns);
    }
    return absl::OkStatus();
  }

  // 2. Each chunk goes to every member of its PG's current chain. An id
  //    whose chain is empty or names a node without an address cannot be
  //    confirmed: its entry stays.
  const proto::ClusterMap map = map_();
  absl::flat_hash_map<uint64_t, const proto::NodeInfo*> node_info;
  for (const proto::NodeInfo& n : map.nodes()) node_info[n.id()] = &n;
  const bool map_usable = map.pg_count() > 0 && map.pgs_size() == static_cast<int>(map.pg_count());
  absl::flat_hash_set<std::string> blocked;  // ids that cannot be confirmed this pass
  // node -> ids to delete there (each id once per node)
  std::map<uint64_t, std::vector<std::string>> per_node;
  absl::flat_hash_map<std::string, std::vector<uint64_t>> members_of;
  for (const meta::GcQueueEntry& e : ready) {
    for (const std::string& id : e.entry.chunk_ids()) {
      if (members_of.contains(id) || blocked.contains(id)) continue;
      absl::StatusOr<ChunkId> cid = cluster::ChunkIdFromBytes(id);
      if (!cid.ok() || !map_usable) {
        blocked.insert(id);
        continue;
      }
      const proto::PgChain& chain =
          map.pgs(static_cast<int>(cluster::PgOf(*cid, map.pg_count()).value()));
      std::vector<uint64_t> members(chain.nodes().begin(), chain.nodes().end());
      bool ok = !members.empty();
      for (uint64_t n : members) {
        auto it = node_info.find(n);
        if (it == node_info.end() || it->second->grpc_address().empty()) ok = false;
      }
      if (!ok) {
        blocked.insert(id);
        continue;
      }
      for (uint64_t n : members) per_node[n].push_back(id);
      members_of[id] = std::move(members);
    }
  }
  if (!blocked.empty()) {
    NoteError("gc queue: " + std::to_string(blocked.size()) +
                  " chunk(s) have no complete chain with addresses; their entries stay queued",
              0);
  }

  // 3. Delete, node by node, in batches; note what each node confirmed.
  const uint32_t per_call = std::min(options_.batch, kMaxDeleteIds);
  // (node, id) pairs that were not confirmed.
  absl::flat_hash_set<std::pair<uint64_t, std::string>> unconfirmed;
  uint64_t deleted = 0, not_found = 0, failed = 0;
  for (auto& [node, ids] : per_node) {
    const std::string& address = node_info[node]->grpc_address();
    for (size_t i = 0; i < ids.size(); i += per_call) {
      const size_t end = std::min(ids.size(), i + per_call);
      if (Alarmed()) {  // raised meanwhile: delete nothing more
        for (size_t j = i; j < end; ++j) unconfirmed.insert({node, ids[j]});
        continue;
      }
      proto::DeleteChunksRequest req;
      for (size_t j = i; j < end; ++j) req.add_ids(ids[j]);
      absl::StatusOr<proto::DeleteChunksReply> reply = nodes_->DeleteChunks(address, req);
      if (!reply.ok()) {
        failed += end - i;
        for (size_t j = i; j < end; ++j) unconfirmed.insert({node, ids[j]});
        NoteError("gc queue: deleting " + std::to_string(end - i) + " chunk(s) on node " +
                  std::to_string(node) + " (" + address +
                  ") failed: " + std::string(reply.status().message()));
        continue;
      }
      deleted += reply->deleted();
      not_found += reply->not_found();
      for (const std::string& bad : reply->failed_ids()) unconfirmed.insert({node, bad});
      if (reply->failed_ids_size() > 0) {
        failed += reply->failed_ids_size();
        NoteError("gc queue: node " + std::to_string(node) + " failed to delete " +
                      std::to_string(reply->failed_ids_size()) + " chunk(s): " +
                      (reply->errors_size() > 0 ? reply->errors(0) : std::string("no reason")),
                  reply->failed_ids_size());
      }
    }
  }
  deleted_queue_->Increment(deleted);
  out->set_deleted(deleted);
  out->set_not_found(not_found);
  out->set_failed(failed + blocked.size());

  // 4. Remove the entries whose every chunk every member confirmed.
  std::vector<const meta::GcQueueEntry*> done;
  for (const meta::GcQueueEntry& e : ready) {
    bool confirmed = true;
    for (const std::string& id : e.entry.chunk_ids()) {
      if (blocked.contains(id)) {
        confirmed = false;
        break;
      }
      for (uint64_t n : members_of[id]) {
        if (unconfirmed.contains(std::make_pair(n, id))) confirmed = false;
      }
      if (!confirmed) break;
    }
    if (confirmed) done.push_back(&e);
  }
  for (size_t i = 0; i < done.size(); i += kQueuePage) {
    const size_t end = std::min(done.size(), i + kQueuePage);
    std::vector<std::string> part;
    for (size_t j = i; j < end; ++j) part.push_back(done[j]->key);
    absl::Status removed = ns_->RemoveGcEntries(part);
    if (!removed.ok()) {
      queue_count_.Reset();  // the removal may have committed all the same
      NoteError("gc queue: removing entries failed: " + std::string(removed.message()));
      return removed;
    }
    for (size_t j = i; j < end; ++j) queue_count_.Removed(*done[j]);
    out->set_entries_removed(out->entries_removed() + part.size());
  }
  if (deleted > 0 || !done.empty()) {
    spdlog::info(
        "msg=\"gc queue pass\" entries_removed={} chunks={} deleted={} not_found={} "
        "failed={}",
        done.size(), chunks_ready, deleted, not_found, out->failed());
  }
  RETURN_IF_ERROR(CountQueue());
  absl::MutexLock lock(&mu_);
  status_.set_last_queue_pass_ns(now_ns);
  return absl::OkStatus();
}

}  // namespace cairn::gc

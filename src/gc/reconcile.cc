// Reconciliation: find and delete orphans, or raise the alarm.
//
// Order matters: (1) list every UP node's chunks, (2) THEN scan meta for
// every referenced id, (3) then the queued ids. A chunk committed to a
// file before step 2 reaches that file is in the referenced set; one
// committed later was written before the commit, and a write is only a
// candidate once its file is older than the grace. So an id is deleted
// only if it was on the node at (1), referenced by no file at (2), not
// queued at (3) (the queue pass deletes those) and older than the grace.
#include <algorithm>
#include <map>

#include <spdlog/spdlog.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "cluster/validate.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "gc/collector.h"

namespace cairn::gc {
namespace {

constexpr uint32_t kListPage = 10'000;
constexpr uint32_t kQueuePage = 10'000;
// A listing is incomplete when it holds fewer chunks than the node's
// heartbeat chunk_count minus max(kListSlackMin, chunk_count / 10): the
// count moves while writes go on, but not by that much.
constexpr uint64_t kListSlackMin = 1000;

struct Listed {
  ChunkId id;
  std::string bytes;
  int64_t modified_ns = 0;
};

// Every chunk of one node, paged; an error or a page that does not move on
// is a failed listing.
absl::StatusOr<std::vector<Listed>> ListNode(ChunkNodes& nodes, const std::string& address) {
  std::vector<Listed> out;
  std::string after;
  while (true) {
    proto::ListChunksRequest req;
    req.set_after(after);
    req.set_limit(kListPage);
    req.set_with_times(true);
    ASSIGN_OR_RETURN(proto::ListChunksReply reply, nodes.ListChunks(address, req));
    for (const proto::ChunkEntry& e : reply.chunks()) {
      absl::StatusOr<ChunkId> id = cluster::ChunkIdFromBytes(e.id());
      if (!id.ok()) return Error(Errc::kInternal, "the node listed a malformed chunk id");
      out.push_back({*id, e.id(), e.modified_ns()});
    }
    if (reply.done()) return out;
    if (reply.next_after().empty() || reply.next_after() <= after) {
      return Error(Errc::kInternal, "the listing did not advance");
    }
    after = reply.next_after();
  }
}

}  // namespace

absl::Status Collector::Reconcile(bool dry_run, uint32_t list_limit, proto::GcReconcileResult* out,
                                  std::string* alarm) {
  const int64_t started_ns = clock_->NowNanos();
  const int64_t old_before = started_ns - absl::ToInt64Nanoseconds(options_.grace);
  auto stop = [&](std::string reason) {
    *alarm = std::move(reason);
    if (!dry_run) RaiseAlarm(*alarm);
    return absl::OkStatus();
  };
  if (!dry_run && Alarmed()) {
    return Error(Errc::kBusy, "gc alarm raised: reconciliation stopped");
  }

  // 1. The nodes and their chunks.
  const proto::ClusterMap map = map_();
  absl::flat_hash_set<uint64_t> known;
  for (const proto::NodeInfo& n : map.nodes()) known.insert(n.id());
  for (const proto::PgChain& pg : map.pgs()) {
    for (uint64_t n : pg.nodes()) {
      if (!known.contains(n)) {
        return stop("placement group " + std::to_string(pg.pg()) + " lists unknown node " +
                    std::to_string(n));
      }
    }
  }
  struct NodeListing {
    const proto::NodeInfo* info;
    std::vector<Listed> chunks;
  };
  std::vector<NodeListing> listings;
  for (const proto::NodeInfo& n : map.nodes()) {
    if (n.state() != proto::NODE_UP) continue;  // its orphans wait until it is back
    if (n.grpc_address().empty()) {
      return stop("node " + std::to_string(n.id()) + " has no gRPC address to list");
    }
    absl::StatusOr<std::vector<Listed>> chunks = ListNode(*nodes_, n.grpc_address());
    if (!chunks.ok()) {
      NoteError("gc reconcile: listing node " + std::to_string(n.id()) +
                " failed: " + std::string(chunks.status().message()));
      return stop("listing the chunks of node " + std::to_string(n.id()) + " (" + n.grpc_address() +
                  ") failed: " + std::string(chunks.status().message()));
    }
    const uint64_t expected = n.chunk_count();
    const uint64_t slack = std::max<uint64_t>(kListSlackMin, expected / 10);
    if (n.last_heartbeat_ns() > 0 && chunks->size() + slack < expected) {
      return stop("node " + std::to_string(n.id()) + " listed " + std::to_string(chunks->size()) +
                  " chunks but reports " + std::to_string(expected) + ": listing incomplete");
    }
    listings.push_back({&n, std::move(*chunks)});
  }

  // 2. Every referenced chunk id, THEN 3. every queued one.
  absl::flat_hash_set<ChunkId> referenced;
  {
    InodeId after;
    while (true) {
      absl::StatusOr<meta::ReferencedChunksPage> page = ns_->ListReferencedChunks(after, 0);
      if (!page.ok()) {
        NoteError("gc reconcile: scan failed: " + std::string(page.status().message()));
        return stop("scanning the chunk references failed: " +
                    std::string(page.status().message()));
      }
      for (const std::string& bytes : page->ids) {
        absl::StatusOr<ChunkId> id = cluster::ChunkIdFromBytes(bytes);
        if (!id.ok()) return stop("a file references a malformed chunk id");
        referenced.insert(*id);
      }
      if (page->done) break;
      after = page->next_after;
    }
  }
  absl::flat_hash_set<ChunkId> queued;
  {
    std::string after;
    while (true) {
      absl::StatusOr<std::vector<meta::GcQueueEntry>> page = ns_->ListGcQueue(after, kQueuePage);
      if (!page.ok()) {
        NoteError("gc reconcile: queue scan failed: " + std::string(page.status().message()));
        return stop("scanning the GC queue failed: " + std::string(page.status().message()));
      }
      for (const meta::GcQueueEntry& e : *page) {
        for (const std::string& bytes : e.entry.chunk_ids()) {
          absl::StatusOr<ChunkId> id = cluster::ChunkIdFromBytes(bytes);
          if (id.ok()) queued.insert(*id);
        }
      }
      if (page->size() < kQueuePage) break;
      after = page->back().key;
    }
  }
  out->set_referenced(referenced.size());
  out->set_queued(queued.size());

  // 4. Orphans per node; too many unknown chunks on one node is the alarm.
  struct NodeOrphans {
    const proto::NodeInfo* info;
    std::vector<std::string> orphans;  // id bytes
  };
  std::vector<NodeOrphans> plan;
  for (const NodeListing& l : listings) {
    proto::GcNodeOrphans* r = out->add_nodes();
    r->set_node_id(l.info->id());
    r->set_grpc_address(l.info->grpc_address());
    r->set_listed(l.chunks.size());
    NodeOrphans p{l.info, {}};
    uint64_t unknown = 0;
    for (const Listed& c : l.chunks) {
      if (referenced.contains(c.id) || queued.contains(c.id)) continue;  // never an orphan
      ++unknown;
      // Unknown mtime (0) or younger than the grace: maybe a write in flight.
      if (c.modified_ns <= 0 || c.modified_ns >= old_before) continue;
      p.orphans.push_back(c.bytes);
      if (static_cast<uint32_t>(r->ids_size()) < list_limit) r->add_ids(c.bytes);
    }
    r->set_unknown(unknown);
    r->set_orphans(p.orphans.size());
    const uint64_t threshold = std::max<uint64_t>(
        options_.alarm_min_unknown, static_cast<uint64_t>(options_.alarm_unknown_fraction *
                                                          static_cast<double>(l.chunks.size())));
    if (unknown > threshold) {
      return stop("node " + std::to_string(l.info->id()) + " holds " + std::to_string(unknown) +
                  " chunks unknown to meta (of " + std::to_string(l.chunks.size()) +
                  "; threshold " + std::to_string(threshold) +
                  "): was meta restored from an old copy?");
    }
    plan.push_back(std::move(p));
  }
  out->set_ran(true);
  if (dry_run) return absl::OkStatus();

  // 5. Delete the orphans, node by node, in batches.
  const uint32_t per_call = std::min(options_.batch, kMaxDeleteIds);
  uint64_t total = 0;
  for (size_t k = 0; k < plan.size(); ++k) {
    const NodeOrphans& p = plan[k];
    proto::GcNodeOrphans* r = out->mutable_nodes(static_cast<int>(k));
    for (size_t i = 0; i < p.orphans.size(); i += per_call) {
      if (Alarmed()) return absl::OkStatus();
      const size_t end = std::min(p.orphans.size(), i + per_call);
      proto::DeleteChunksRequest req;
      for (size_t j = i; j < end; ++j) req.add_ids(p.orphans[j]);
      absl::StatusOr<proto::DeleteChunksReply> reply =
          nodes_->DeleteChunks(p.info->grpc_address(), req);
      if (!reply.ok()) {
        r->set_failed(r->failed() + (end - i));
        NoteError("gc reconcile: deleting orphans on node " + std::to_string(p.info->id()) +
                  " failed: " + std::string(reply.status().message()));
        continue;
      }
      r->set_deleted(r->deleted() + reply->deleted());
      r->set_failed(r->failed() + reply->failed_ids_size());
      deleted_orphan_->Increment(reply->deleted());
      total += reply->deleted();
      if (reply->failed_ids_size() > 0) {
        NoteError("gc reconcile: node " + std::to_string(p.info->id()) + " failed to delete " +
                      std::to_string(reply->failed_ids_size()) + " orphan(s)",
                  reply->failed_ids_size());
      }
    }
  }
  const int64_t done_ns = clock_->NowNanos();
  last_reconcile_gauge_->Set(done_ns / 1'000'000'000);
  {
    absl::MutexLock lock(&mu_);
    status_.set_last_reconcile_ns(done_ns);
  }
  spdlog::info("msg=\"gc reconciliation\" nodes={} referenced={} queued={} orphans_deleted={}",
               listings.size(), referenced.size(), queued.size(), total);
  return absl::OkStatus();
}

}  // namespace cairn::gc

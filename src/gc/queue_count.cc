#include "gc/queue_count.h"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "common/status_macros.h"
#include "meta/keys.h"

namespace cairn::gc {
namespace {

constexpr uint32_t kQueuePage = 10'000;

// The last possible key of an entry queued at `ns`: listing strictly after
// it yields exactly the entries queued at `ns` + 1 or later.
std::string LastKeyAt(int64_t ns) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  return meta::keys::GcQueue(ns, InodeId(kMax), kMax);
}

void Add(QueueCount::Totals& t, uint64_t entries, uint64_t chunks) {
  t.entries += entries;
  t.chunks += chunks;
}

}  // namespace

QueueCount::QueueCount(meta::Namespace* ns, absl::Duration settle, absl::Duration recount)
    : ns_(ns),
      settle_ns_(absl::ToInt64Nanoseconds(std::max(settle, absl::ZeroDuration()))),
      recount_ns_(absl::ToInt64Nanoseconds(recount)) {}

absl::Status QueueCount::Read(const std::string& after, int64_t line_ns, Totals& settled,
                              Totals& young) {
  std::string from = after;
  while (true) {
    ASSIGN_OR_RETURN(std::vector<meta::GcQueueEntry> page, ns_->ListGcQueue(from, kQueuePage));
    for (const meta::GcQueueEntry& e : page) {
      ASSIGN_OR_RETURN(meta::keys::DecodedKey key, meta::keys::Decode(e.key));
      const uint64_t chunks = static_cast<uint64_t>(e.entry.chunk_ids_size());
      Add(key.queued_ns < line_ns ? settled : young, 1, chunks);
    }
    last_read_ += page.size();
    if (page.size() < kQueuePage) return absl::OkStatus();
    from = page.back().key;
  }
}

absl::StatusOr<QueueCount::Totals> QueueCount::Update(int64_t now_ns) {
  const bool full = !counted_ || now_ns < full_at_ns_ || now_ns - full_at_ns_ >= recount_ns_;
  // The line never moves back between full counts: entries behind it are
  // in settled_ already.
  const int64_t line_ns = full ? now_ns - settle_ns_ : std::max(line_ns_, now_ns - settle_ns_);
  // Queue times are never negative: a line at or before 0 reads everything.
  const std::string after = (full || line_ns_ <= 0) ? std::string() : LastKeyAt(line_ns_ - 1);
  Totals settled = full ? Totals{} : settled_;
  Totals young;
  last_read_ = 0;
  last_full_ = full;
  absl::Status s = Read(after, line_ns, settled, young);
  if (!s.ok()) {
    counted_ = false;
    return s;
  }
  if (full) {
    counted_ = true;
    full_at_ns_ = now_ns;
  }
  line_ns_ = line_ns;
  settled_ = settled;
  return Totals{settled.entries + young.entries, settled.chunks + young.chunks};
}

void QueueCount::Removed(const meta::GcQueueEntry& entry) {
  absl::StatusOr<meta::keys::DecodedKey> key = meta::keys::Decode(entry.key);
  // Young entries are read again by the next update; only settled ones
  // are kept here.
  if (!counted_ || !key.ok() || key->queued_ns >= line_ns_) return;
  const uint64_t chunks = static_cast<uint64_t>(entry.entry.chunk_ids_size());
  settled_.entries -= std::min<uint64_t>(settled_.entries, 1);
  settled_.chunks -= std::min(settled_.chunks, chunks);
}

}  // namespace cairn::gc

#include "client/chunk_io.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <thread>

#include "chunk/crc32c.h"
#include "common/errors.h"
#include "dataplane/protocol.h"

namespace cairn::client {
namespace {

// Exponential back-off bounded by a deadline.
class Backoff {
 public:
  Backoff(const ChunkIoOptions& o)
      : deadline_(absl::Now() + o.deadline), next_(o.first_backoff), max_(o.max_backoff) {}
  // Sleeps for the next interval; false when the deadline has passed.
  bool Wait() {
    absl::Duration left = deadline_ - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    absl::SleepFor(std::min(next_, left));
    next_ = std::min(next_ * 2, max_);
    return true;
  }
  bool Expired() const { return absl::Now() >= deadline_; }

 private:
  const absl::Time deadline_;
  absl::Duration next_;
  const absl::Duration max_;
};

bool IsNodeFailure(Errc code) { return code == Errc::kUnavailable || code == Errc::kTimeout; }

// The error to give up with at the deadline: the last one seen, as a
// timeout when it was a transport failure.
absl::Status GiveUp(const absl::Status& last, std::string_view what) {
  Errc code = ErrcOf(last);
  if (code == Errc::kOk) code = Errc::kUnavailable;
  return Error(code, std::string(what) + ": " + std::string(last.message()));
}

}  // namespace

std::shared_ptr<PendingRead> PendingRead::Done(Range range, absl::StatusOr<AlignedBuffer> result) {
  std::vector<Piece> pieces(1);
  pieces[0].range = range;
  pieces[0].result = std::move(result);
  return std::make_shared<PendingRead>(range, std::move(pieces));
}

absl::Status PendingRead::Resolve(Piece& piece) {
  if (!piece.result.has_value()) piece.result = piece.future.get();
  return piece.result->status();
}

absl::Status PendingRead::CopyTo(const Range& r, uint8_t* dst) {
  std::lock_guard<std::mutex> l(mu_);
  for (Piece& piece : pieces_) {
    Range part = Intersect(piece.range, r);
    if (part.empty()) continue;
    absl::Status s = Resolve(piece);
    if (!s.ok()) return s;
    const AlignedBuffer& buf = **piece.result;
    std::memcpy(dst + (part.begin - r.begin), buf.data() + (part.begin - piece.range.begin),
                part.size());
  }
  return absl::OkStatus();
}

absl::Status PendingRead::Wait() {
  std::lock_guard<std::mutex> l(mu_);
  for (Piece& piece : pieces_) {
    absl::Status s = Resolve(piece);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

ChunkIo::ChunkIo(ClusterMapCache* maps, dataplane::DataClient* data, TaskPool* pool,
                 ChunkIoOptions options)
    : maps_(maps), data_(data), pool_(pool), options_(options) {}

absl::Status ChunkIo::Write(const ChunkId& id, std::span<const uint8_t> data, uint32_t replicas,
                            std::span<const uint32_t> block_crcs) {
  std::vector<uint32_t> computed;
  if (block_crcs.empty() && !data.empty()) {
    computed = crc32c::BlockCrcs(data, dataplane::kBlockSize);
    block_crcs = computed;
  }
  const std::string what = "write of chunk " + id.ToString();
  Backoff backoff(options_);
  absl::Status last;
  uint64_t seen = 0;
  int stale = 0;
  for (;;) {
    absl::StatusOr<std::shared_ptr<const MapSnapshot>> map =
        seen == 0 ? maps_->Get() : maps_->Refresh(seen);
    if (!map.ok()) {
      last = map.status();
    } else {
      seen = (*map)->epoch();
      std::vector<Replica> chain = (*map)->WriteChain(id, replicas);
      if (chain.empty()) {
        last = Error(Errc::kUnavailable, "placement group " +
                                             std::to_string((*map)->PgOf(id).value()) +
                                             " has no chunk server up");
      } else {
        std::vector<std::string> addresses;
        addresses.reserve(chain.size());
        for (const Replica& r : chain) addresses.push_back(r.address);
        absl::Status s = data_->WriteChunk(addresses, id, data, block_crcs, seen);
        if (s.ok()) return s;
        last = s;
        Errc code = ErrcOf(s);
        if (code == Errc::kNoSpace || code == Errc::kInvalid || code == Errc::kExists ||
            code == Errc::kRange) {
          return s;
        }
        // A newer map exists: refresh at once (a few times, then back off).
        if (code == Errc::kStaleEpoch && ++stale <= 3) continue;
        if (IsNodeFailure(code)) {
          if (std::optional<std::string> who = dataplane::FailedServer(s)) {
            if (std::optional<NodeId> node = (*map)->NodeAt(*who)) {
              maps_->ReportNodeFailure(*node, seen, std::string(s.message()));
            }
          }
        }
      }
    }
    if (!backoff.Wait()) return GiveUp(last, what);
  }
}

absl::StatusOr<AlignedBuffer> ChunkIo::ReadRange(const ChunkId& id, const Range& r,
                                                 uint32_t first) {
  const std::string what = "read of chunk " + id.ToString();
  Backoff backoff(options_);
  absl::Status last;
  uint64_t seen = 0;
  int not_found_rounds = 0;
  for (;;) {
    absl::StatusOr<std::shared_ptr<const MapSnapshot>> map =
        seen == 0 ? maps_->Get() : maps_->Refresh(seen);
    bool all_not_found = false;
    if (!map.ok()) {
      last = map.status();
    } else {
      seen = (*map)->epoch();
      std::vector<Replica> chain = (*map)->ReadChain(id);
      if (chain.empty()) {
        last = Error(Errc::kUnavailable, "placement group " +
                                             std::to_string((*map)->PgOf(id).value()) +
                                             " has no chunk server up");
      } else {
        all_not_found = true;
        for (size_t i = 0; i < chain.size(); ++i) {
          const Replica& m = chain[(first + i) % chain.size()];
          absl::StatusOr<AlignedBuffer> got =
              data_->ReadChunk(m.address, id, r.begin, r.size(), seen);
          if (got.ok()) return got;
          last = got.status();
          Errc code = ErrcOf(last);
          if (code != Errc::kNotFound) all_not_found = false;
          if (code == Errc::kCorrupt) {
            maps_->ReportBadChunk(id, m.node, std::string(last.message()));
          } else if (IsNodeFailure(code)) {
            maps_->ReportNodeFailure(m.node, seen, std::string(last.message()));
          }
        }
      }
    }
    // Every member says the chunk does not exist: after one more look at a
    // fresh map it is gone (e.g. collected after someone replaced it).
    if (all_not_found && ++not_found_rounds >= 2) return last;
    if (!backoff.Wait()) return GiveUp(last, what);
  }
}

std::shared_ptr<PendingRead> ChunkIo::StartRead(const ChunkId& id, const Range& r) {
  uint32_t members = 1;
  if (r.size() >= options_.parallel_read_min) {
    absl::StatusOr<std::shared_ptr<const MapSnapshot>> map = maps_->Get();
    if (map.ok()) members = std::max<uint32_t>(1, (*map)->ReadChain(id).size());
  }
  const uint32_t first = spread_.fetch_add(1, std::memory_order_relaxed);
  std::vector<PendingRead::Piece> pieces;
  std::vector<Range> parts = SplitAligned(r, members, dataplane::kBlockSize);
  for (size_t i = 0; i < parts.size(); ++i) {
    PendingRead::Piece piece;
    piece.range = parts[i];
    piece.future = pool_->Submit([this, id, range = parts[i], member = first + i] {
      return ReadRange(id, range, static_cast<uint32_t>(member));
    });
    pieces.push_back(std::move(piece));
  }
  return std::make_shared<PendingRead>(r, std::move(pieces));
}

absl::Status ChunkIo::ReadInto(const ChunkId& id, const Range& r, uint8_t* dst) {
  if (r.empty()) return absl::OkStatus();
  if (r.size() < options_.parallel_read_min) {
    absl::StatusOr<AlignedBuffer> got =
        ReadRange(id, r, spread_.fetch_add(1, std::memory_order_relaxed));
    if (!got.ok()) return got.status();
    std::memcpy(dst, got->data(), r.size());
    return absl::OkStatus();
  }
  return StartRead(id, r)->CopyTo(r, dst);
}

}  // namespace cairn::client

#include "chunk/volume_chunk_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>

#include "chunk/crc32c.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::chunk {
namespace {

constexpr char kLockFile[] = "LOCK";
constexpr char kVolumePrefix[] = "volume-";
constexpr size_t kSeqDigits = 10;
constexpr mode_t kDirMode = 0755;
constexpr mode_t kFileMode = 0644;
constexpr size_t kZeroChunk = 1 << 20;
// Volumes are scanned through a window of this size.
constexpr size_t kScanWindow = 4 << 20;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t RandomNonce() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

const uint8_t* Zeros() {
  static const std::vector<uint8_t>* zeros = new std::vector<uint8_t>(kZeroChunk, 0);
  return zeros->data();
}

std::optional<uint64_t> ParseVolumeName(const std::string& name) {
  const size_t plen = sizeof(kVolumePrefix) - 1;
  if (name.size() != plen + kSeqDigits || name.compare(0, plen, kVolumePrefix) != 0) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  for (size_t i = plen; i < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9') return std::nullopt;
    seq = seq * 10 + static_cast<uint64_t>(name[i] - '0');
  }
  if (seq == 0) return std::nullopt;
  return seq;
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Reads a file sequentially through a window, for the scan on open.
class ScanReader {
 public:
  ScanReader(FileOps* ops, int fd, uint64_t file_size) : ops_(ops), fd_(fd), size_(file_size) {}

  // [offset, offset+n) of the file, or an error; Errc::kRange past the end.
  absl::StatusOr<const uint8_t*> At(uint64_t offset, size_t n) {
    if (offset + n > size_) return Error(Errc::kRange, "past the end of the volume");
    if (offset < start_ || offset + n > start_ + buf_.size() || buf_.empty()) {
      size_t want =
          std::max<size_t>(n, static_cast<size_t>(std::min<uint64_t>(kScanWindow, size_ - offset)));
      buf_.resize(want);
      ASSIGN_OR_RETURN(size_t got, ops_->PreadAll(fd_, buf_.data(), want, offset));
      buf_.resize(got);
      start_ = offset;
      if (got < n) return Error(Errc::kRange, "short read of the volume");
    }
    return buf_.data() + (offset - start_);
  }

 private:
  FileOps* ops_;
  int fd_;
  uint64_t size_;
  uint64_t start_ = 0;
  std::vector<uint8_t> buf_;
};

}  // namespace

// One volume file. Fields marked (append) are guarded by the store's
// append_mu_, (index) by its mu_; the rest are fixed after creation.
struct VolumeChunkStore::Volume {
  Volume(FileOps* o, uint64_t s, std::string p, int f, uint64_t n, uint32_t a)
      : ops(o), seq(s), path(std::move(p)), fd(f), nonce(n), alignment(a) {}
  ~Volume() { ops->Close(fd).IgnoreError(); }
  Volume(const Volume&) = delete;
  Volume& operator=(const Volume&) = delete;

  FileOps* const ops;
  const uint64_t seq;
  const std::string path;
  const int fd;
  const uint64_t nonce;
  const uint32_t alignment;

  uint64_t end = 0;           // (append) where the next record goes
  uint64_t prealloc_end = 0;  // (append) space reserved up to here
  int inflight = 0;           // (append) appends reserved, not yet finished
  bool sealed = false;        // (append) no more appends (in memory)
  bool broken = false;        // (append) an append failed: roll over
  bool unclean = false;       // (append) a failed record may look valid: never seal

  struct Tombstone {
    ChunkId id;
    uint64_t target_seq;  // the volume holding the deleted record
  };
  uint64_t live_bytes = 0;            // (index) record bytes of indexed chunks
  std::vector<Tombstone> tombstones;  // (index) DELETE records in this volume

  // Group commit of this volume (SyncVolume).
  absl::Mutex sync_mu;
  absl::CondVar round_done;
  std::shared_ptr<SyncRound> collecting ABSL_GUARDED_BY(sync_mu);
  bool sync_leader ABSL_GUARDED_BY(sync_mu) = false;
};

struct VolumeChunkStore::SyncRound {
  absl::Status status;
  bool done = false;
};

struct VolumeChunkStore::ScannedRecord {
  RecordHeader header;
  uint64_t size = 0;
};

VolumeChunkStore::VolumeChunkStore(VolumeChunkStoreOptions options, FileOps* ops)
    : options_(std::move(options)), ops_(ops) {
  active_.resize(static_cast<size_t>(options_.active_volumes));
}

VolumeChunkStore::~VolumeChunkStore() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

absl::StatusOr<std::unique_ptr<VolumeChunkStore>> VolumeChunkStore::Open(
    VolumeChunkStoreOptions options) {
  if (options.dir.empty()) return Error(Errc::kInvalid, "volume store: no directory");
  if (!ValidAlignment(options.record_alignment)) {
    return Error(Errc::kInvalid,
                 "volume store: record alignment must be a power of two in "
                 "[512, 1 MiB]");
  }
  if (options.volume_bytes < 2 * uint64_t{options.record_alignment}) {
    return Error(Errc::kInvalid, "volume store: volume size too small");
  }
  if (options.zero_fill_bytes == 0) options.zero_fill_bytes = kZeroChunk;
  if (options.active_volumes < 1 || options.active_volumes > 64) {
    return Error(Errc::kInvalid, "volume store: active volumes must be 1..64");
  }
  while (options.dir.size() > 1 && options.dir.back() == '/') options.dir.pop_back();
  FileOps* ops = options.file_ops != nullptr ? options.file_ops : FileOps::Real();
  std::unique_ptr<VolumeChunkStore> store(new VolumeChunkStore(std::move(options), ops));
  RETURN_IF_ERROR(store->Recover());
  return store;
}

std::string VolumeChunkStore::VolumePath(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%s%010llu", kVolumePrefix,
                static_cast<unsigned long long>(seq));
  return options_.dir + "/" + name;
}

// ---------------------------------------------------------------- open

absl::Status VolumeChunkStore::Recover() {
  const std::string& dir = options_.dir;
  absl::Status mk = ops_->Mkdir(dir, kDirMode);
  if (!mk.ok() && ErrcOf(mk) != Errc::kExists) return mk;
  if (mk.ok()) {
    std::string parent = dir.find('/') == std::string::npos ? "." : dir.substr(0, dir.rfind('/'));
    RETURN_IF_ERROR(ops_->SyncDir(parent.empty() ? "/" : parent));
  }
  ASSIGN_OR_RETURN(lock_fd_, ops_->Open(dir + "/" + kLockFile, O_RDWR | O_CREAT, kFileMode));
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    return Error(err == EWOULDBLOCK ? Errc::kBusy : Errc::kIo,
                 "volume directory " + dir + " is in use by another process");
  }
  ASSIGN_OR_RETURN(std::vector<DirEntry> entries, ops_->ListDir(dir));
  std::vector<uint64_t> seqs;
  for (const DirEntry& e : entries) {
    if (e.name == kLockFile) continue;
    std::optional<uint64_t> seq = ParseVolumeName(e.name);
    if (!seq || !e.is_regular) {
      ++recovery_.ignored;
      continue;
    }
    seqs.push_back(*seq);
  }
  std::sort(seqs.begin(), seqs.end());
  for (size_t i = 0; i < seqs.size(); ++i) {
    RETURN_IF_ERROR(RecoverVolume(seqs[i], VolumePath(seqs[i]), i + 1 == seqs.size()));
  }
  // The newest unsealed volumes become the lanes' active volumes again;
  // older unsealed ones (a crash during a rollover, fewer lanes than
  // before) are sealed now, so later opens need not verify their data.
  std::vector<std::shared_ptr<Volume>> unsealed, to_seal;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [seq, v] : volumes_) unsealed.push_back(v);
  }
  {
    absl::MutexLock a(&append_mu_);
    if (!seqs.empty()) next_seq_ = seqs.back() + 1;
    std::erase_if(unsealed, [](const std::shared_ptr<Volume>& v) { return v->sealed; });
    size_t lane = 0;
    for (auto it = unsealed.rbegin(); it != unsealed.rend(); ++it) {
      if (lane < active_.size()) {
        active_[lane++] = *it;
      } else {
        (*it)->sealed = true;
        to_seal.push_back(*it);
      }
    }
    PruneRecentDeletes();
  }
  for (const std::shared_ptr<Volume>& v : to_seal) Seal(v);
  absl::MutexLock l(&mu_);
  recovery_.chunks_loaded = index_.size();
  return absl::OkStatus();
}

absl::Status VolumeChunkStore::RecoverVolume(uint64_t seq, const std::string& path, bool last) {
  ASSIGN_OR_RETURN(int fd, ops_->Open(path, O_RDWR, 0));
  absl::StatusOr<uint64_t> size = ops_->FileSize(fd);
  if (!size.ok()) {
    ops_->Close(fd).IgnoreError();
    return size.status();
  }
  uint8_t hb[kVolumeHeaderSize] = {};
  absl::StatusOr<size_t> n = ops_->PreadAll(fd, hb, sizeof(hb), 0);
  if (!n.ok()) {
    ops_->Close(fd).IgnoreError();
    return n.status();
  }
  absl::StatusOr<VolumeHeader> vh = DecodeVolumeHeader(std::span<const uint8_t>(hb, *n));
  if (vh.ok() && vh->seq != seq) vh = Error(Errc::kCorrupt, "volume number differs from name");
  if (!vh.ok()) {
    ops_->Close(fd).IgnoreError();
    if (last && AllZero(hb, *n)) {
      // Created, never made valid: a crash inside CreateVolume.
      RETURN_IF_ERROR(ops_->Unlink(path));
      RETURN_IF_ERROR(ops_->SyncDir(options_.dir));
      ++recovery_.volumes_removed;
    } else {
      ++recovery_.volumes_damaged;
    }
    return absl::OkStatus();
  }
  auto v = std::make_shared<Volume>(ops_, seq, path, fd, vh->nonce, vh->alignment);
  std::vector<ScannedRecord> records;
  bool sealed = false, tail_dirty = false;
  RETURN_IF_ERROR(ScanVolume(*v, *size, records, sealed, tail_dirty));
  uint64_t good_end = v->alignment;
  if (!records.empty()) good_end = records.back().header.offset + records.back().size;
  bool repaired = false;
  if (!sealed) {
    // Zero the holes between good records (a slot whose body was written
    // but whose header never was, or was taken back; a record that failed
    // verification): nothing in them was acknowledged, and left in place
    // they would be found, and counted, again by every later open (and
    // frozen in by a SEAL).
    uint64_t hole = v->alignment;
    for (const ScannedRecord& r : records) {
      for (uint64_t p = hole; p < r.header.offset; p += kZeroChunk) {
        RETURN_IF_ERROR(ops_->PwriteAll(
            fd, Zeros(), static_cast<size_t>(std::min<uint64_t>(kZeroChunk, r.header.offset - p)),
            p));
        repaired = true;
      }
      hole = r.header.offset + r.size;
    }
  }
  if (!sealed && tail_dirty) {
    // Cut off the torn or invalid tail, durably, so nothing after the last
    // good record can ever be read as a record.
    RETURN_IF_ERROR(ops_->Truncate(fd, good_end));
    recovery_.tail_bytes_cut += *size - good_end;
    *size = good_end;
    repaired = true;
  }
  if (repaired) RETURN_IF_ERROR(ops_->Fsync(fd));
  ++recovery_.volumes;
  if (!sealed) ++recovery_.volumes_unsealed;
  {
    absl::MutexLock a(&append_mu_);
    v->end = good_end;
    v->prealloc_end = std::max(*size, good_end);
    // Unsealed volumes get appends again (Recover picks the lanes).
    v->sealed = sealed;
    for (const ScannedRecord& r : records) {
      if (r.header.type == RecordType::kDelete) recent_deletes_[r.header.id] = seq;
    }
  }
  absl::MutexLock l(&mu_);
  volumes_[seq] = v;
  for (const ScannedRecord& r : records) ApplyRecord(v, r);
  return absl::OkStatus();
}

absl::Status VolumeChunkStore::ScanVolume(Volume& v, uint64_t file_size,
                                          std::vector<ScannedRecord>& out, bool& sealed,
                                          bool& tail_dirty) {
  ScanReader reader(ops_, v.fd, file_size);
  uint64_t pos = v.alignment;
  bool in_damage = false;  // inside a run of positions that hold no valid record
  std::vector<uint32_t> table;
  while (pos + kRecordHeaderSize <= file_size) {
    ASSIGN_OR_RETURN(const uint8_t* hp, reader.At(pos, kRecordHeaderSize));
    absl::StatusOr<RecordHeader> h = DecodeRecordHeader({hp, kRecordHeaderSize}, v.nonce, pos);
    bool ok = h.ok();
    uint64_t size = 0;
    if (ok) {
      size = RecordSize(h->num_blocks, h->data_length, v.alignment);
      uint64_t used = RecordDataOffset(h->num_blocks) + h->data_length;
      ok = pos + used <= file_size;
      if (ok && h->num_blocks > 0) {
        const size_t tbytes = 4 * size_t{h->num_blocks};
        ASSIGN_OR_RETURN(const uint8_t* tp, reader.At(pos + kRecordHeaderSize, tbytes));
        ok = crc32c::Value(tp, tbytes) == h->table_crc;
      }
    }
    if (!ok) {
      if (!AllZero(hp, kRecordHeaderSize)) in_damage = true;
      pos += v.alignment;
      continue;
    }
    if (in_damage) {
      ++recovery_.records_damaged;
      in_damage = false;
    }
    out.push_back(ScannedRecord{*h, size});
    if (h->type == RecordType::kSeal) {
      sealed = true;
      break;
    }
    pos += size;
  }
  if (sealed) {
    out.pop_back();  // the SEAL record itself
    return absl::OkStatus();
  }
  tail_dirty = in_damage;
  // Not sealed: some records may not have reached the disk whole. Verify
  // the data of each; a bad one in the middle is skipped, bad ones at the
  // end are the torn tail.
  std::vector<ScannedRecord> good;
  good.reserve(out.size());
  size_t bad_run = 0;
  for (const ScannedRecord& r : out) {
    bool ok = true;
    if (r.header.type == RecordType::kPut && r.header.num_blocks > 0) {
      const RecordHeader& h = r.header;
      ASSIGN_OR_RETURN(const uint8_t* tp,
                       reader.At(h.offset + kRecordHeaderSize, 4 * size_t{h.num_blocks}));
      table.assign(h.num_blocks, 0);
      for (uint32_t b = 0; b < h.num_blocks; ++b) {
        table[b] = static_cast<uint32_t>(tp[4 * b]) | static_cast<uint32_t>(tp[4 * b + 1]) << 8 |
                   static_cast<uint32_t>(tp[4 * b + 2]) << 16 |
                   static_cast<uint32_t>(tp[4 * b + 3]) << 24;
      }
      ASSIGN_OR_RETURN(const uint8_t* dp,
                       reader.At(h.offset + RecordDataOffset(h.num_blocks), h.data_length));
      for (uint32_t b = 0; b < h.num_blocks && ok; ++b) {
        uint64_t p = uint64_t{b} * kBlockSize;
        uint64_t len = std::min<uint64_t>(kBlockSize, h.data_length - p);
        ok = crc32c::Value(dp + p, len) == table[b];
      }
    }
    if (ok) {
      recovery_.records_damaged += bad_run;
      bad_run = 0;
      good.push_back(r);
    } else {
      ++bad_run;
    }
  }
  if (bad_run > 0) tail_dirty = true;
  out = std::move(good);
  return absl::OkStatus();
}

void VolumeChunkStore::ApplyRecord(const std::shared_ptr<Volume>& v, const ScannedRecord& r) {
  const RecordHeader& h = r.header;
  auto it = index_.find(h.id);
  if (it != index_.end()) {
    // Superseded (a later copy, or deleted): the old record is dead.
    auto ov = volumes_.find(it->second.seq);
    if (ov != volumes_.end()) ov->second->live_bytes -= it->second.size;
    chunk_bytes_ -= it->second.length;
  }
  if (h.type == RecordType::kPut) {
    index_[h.id] = Loc{v->seq, h.offset, r.size, h.data_length, h.stored_ns};
    v->live_bytes += r.size;
    chunk_bytes_ += h.data_length;
  } else if (it != index_.end()) {
    v->tombstones.push_back(Volume::Tombstone{h.id, it->second.seq});
    index_.erase(it);
  }
}

// ---------------------------------------------------------------- append

absl::StatusOr<std::shared_ptr<VolumeChunkStore::Volume>> VolumeChunkStore::CreateVolume(
    uint64_t seq) {
  const std::string path = VolumePath(seq);
  const uint32_t align = options_.record_alignment;
  ASSIGN_OR_RETURN(int fd, ops_->Open(path, O_RDWR | O_CREAT | O_EXCL, kFileMode));
  auto v = std::make_shared<Volume>(ops_, seq, path, fd, RandomNonce(), align);
  VolumeHeader vh{align, seq, v->nonce, NowNs()};
  std::vector<uint8_t> head(align, 0);
  EncodeVolumeHeader(vh, std::span(head.data(), kVolumeHeaderSize));
  absl::Status s = ops_->PwriteAll(fd, head.data(), head.size(), 0);
  v->end = align;
  v->prealloc_end = align;
  if (s.ok()) s = EnsurePrealloc(*v, align + 1);
  if (s.ok()) s = ops_->Fsync(fd);
  if (s.ok()) s = ops_->SyncDir(options_.dir);
  if (!s.ok()) {
    ops_->Unlink(path).IgnoreError();
    return s;
  }
  return v;
}

absl::Status VolumeChunkStore::EnsurePrealloc(Volume& v, uint64_t end) {
  if (end <= v.prealloc_end) return absl::OkStatus();
  switch (options_.preallocation) {
    case Preallocation::kNone:
      return absl::OkStatus();
    case Preallocation::kFallocate: {
      uint64_t target = std::max(end, options_.volume_bytes);
      RETURN_IF_ERROR(ops_->Fallocate(v.fd, v.prealloc_end, target - v.prealloc_end));
      // Make the new size durable now, so record syncs need not.
      RETURN_IF_ERROR(ops_->Fsync(v.fd));
      v.prealloc_end = target;
      return absl::OkStatus();
    }
    case Preallocation::kZeroFill: {
      uint64_t target = AlignUp(end, options_.zero_fill_bytes);
      for (uint64_t p = v.prealloc_end; p < target; p += kZeroChunk) {
        RETURN_IF_ERROR(
            ops_->PwriteAll(v.fd, Zeros(), std::min<uint64_t>(kZeroChunk, target - p), p));
      }
      RETURN_IF_ERROR(ops_->Fdatasync(v.fd));
      v.prealloc_end = target;
      return absl::OkStatus();
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<VolumeChunkStore::Volume>> VolumeChunkStore::PrepareActive(
    size_t lane, uint32_t num_blocks, uint64_t data_length) {
  const std::shared_ptr<Volume>& cur = active_[lane];
  if (cur != nullptr && !cur->broken && !cur->sealed) {
    // Sized with the active volume's own alignment (it may come from an
    // earlier run with another setting).
    const uint64_t size = RecordSize(num_blocks, data_length, cur->alignment);
    bool empty = cur->end == cur->alignment;
    if (empty || cur->end + size <= options_.volume_bytes) return nullptr;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<Volume> v, CreateVolume(next_seq_));
  ++next_seq_;
  std::shared_ptr<Volume> old = std::exchange(active_[lane], v);
  if (old != nullptr) old->sealed = true;  // no more appends
  PruneRecentDeletes();
  absl::MutexLock l(&mu_);
  volumes_[v->seq] = v;
  return old;
}

size_t VolumeChunkStore::NewestLane() const {
  size_t newest = 0;
  uint64_t newest_seq = 0;
  for (size_t lane = 0; lane < active_.size(); ++lane) {
    const std::shared_ptr<Volume>& v = active_[lane];
    // A lane without a usable volume gets a new one: the newest of all.
    const uint64_t seq =
        v == nullptr || v->sealed || v->broken ? std::numeric_limits<uint64_t>::max() : v->seq;
    if (seq >= newest_seq) {
      newest = lane;
      newest_seq = seq;
    }
  }
  return newest;
}

void VolumeChunkStore::PruneRecentDeletes() {
  // A PUT in a volume at least as new as the DELETE's comes after it in
  // log order (same volume: appended later, at a higher offset).
  uint64_t oldest = std::numeric_limits<uint64_t>::max();
  for (const std::shared_ptr<Volume>& v : active_) {
    if (v != nullptr) oldest = std::min(oldest, v->seq);
  }
  for (auto it = recent_deletes_.begin(); it != recent_deletes_.end();) {
    if (it->second <= oldest) {
      recent_deletes_.erase(it++);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<VolumeChunkStore::Appended> VolumeChunkStore::Append(
    RecordType type, ChunkId id, std::span<const uint8_t> data,
    std::span<const uint32_t> block_crcs, int64_t stored_ns, bool supersedes) {
  const uint32_t nblocks = static_cast<uint32_t>(block_crcs.size());
  std::shared_ptr<Volume> v, to_seal;
  uint64_t offset = 0, size = 0;
  absl::Status prealloc;
  {
    absl::MutexLock a(&append_mu_);
    // Lanes are separate logs; a record that must come after an earlier
    // record of its id in log order goes to the newest volume, at its tail.
    const bool newest = supersedes || type == RecordType::kDelete || recent_deletes_.contains(id);
    const size_t lane = newest ? NewestLane() : next_lane_++ % active_.size();
    ASSIGN_OR_RETURN(to_seal, PrepareActive(lane, nblocks, data.size()));
    v = active_[lane];
    size = RecordSize(nblocks, data.size(), v->alignment);
    prealloc = EnsurePrealloc(*v, v->end + size);
    if (prealloc.ok()) {
      offset = v->end;
      v->end += size;
      ++v->inflight;
    }
  }
  if (to_seal != nullptr) Seal(to_seal);
  if (!prealloc.ok()) {
    return Error(ErrcOf(prealloc), v->path + ": reserve space: " + std::string(prealloc.message()));
  }

  // The body (table, data, padding) first and the header last: a write that
  // fails part way leaves no valid header behind.
  const uint64_t body = size - kRecordHeaderSize;
  AlignedBuffer buf(body);
  uint8_t* p = buf.data();
  for (uint32_t b = 0; b < nblocks; ++b) {
    uint32_t c = block_crcs[b];
    p[4 * b] = static_cast<uint8_t>(c);
    p[4 * b + 1] = static_cast<uint8_t>(c >> 8);
    p[4 * b + 2] = static_cast<uint8_t>(c >> 16);
    p[4 * b + 3] = static_cast<uint8_t>(c >> 24);
  }
  const size_t tbytes = 4 * size_t{nblocks};
  if (!data.empty()) std::memcpy(p + tbytes, data.data(), data.size());
  std::memset(p + tbytes + data.size(), 0, body - tbytes - data.size());
  RecordHeader h;
  h.type = type;
  h.id = id;
  h.data_length = data.size();
  h.num_blocks = nblocks;
  h.stored_ns = stored_ns;
  h.offset = offset;
  h.table_crc = crc32c::Value(p, tbytes);
  uint8_t hb[kRecordHeaderSize];
  EncodeRecordHeader(h, v->nonce, hb);

  absl::Status s = ops_->PwriteAll(v->fd, buf.data(), body, offset + kRecordHeaderSize);
  bool header_written = false;
  if (s.ok()) {
    s = ops_->PwriteAll(v->fd, hb, sizeof(hb), offset);
    header_written = true;  // possibly in part
  }
  if (s.ok()) records_appended_.fetch_add(1, std::memory_order_relaxed);
  if (s.ok()) s = SyncVolume(v);
  bool unclean = false;
  if (!s.ok() && header_written) {
    // Not acknowledged: take the header back so no later sync makes the
    // record valid on disk. If even that fails, the volume is never sealed,
    // so the next open verifies its data (docs/chunk-format.md).
    std::memset(hb, 0, sizeof(hb));
    unclean = !ops_->PwriteAll(v->fd, hb, sizeof(hb), offset).ok();
  }
  {
    absl::MutexLock a(&append_mu_);
    if (!s.ok()) {
      // A full disk leaves the volume usable (the slot is just dead);
      // any other failure retires it.
      if (ErrcOf(s) != Errc::kNoSpace) v->broken = true;
      v->unclean = v->unclean || unclean;
    } else if (type == RecordType::kDelete) {
      recent_deletes_[id] = v->seq;
    }
    if (--v->inflight == 0) appends_done_.SignalAll();
  }
  if (!s.ok()) return Error(ErrcOf(s), v->path + ": append: " + std::string(s.message()));
  return Appended{v, Loc{v->seq, offset, size, data.size(), stored_ns}};
}

void VolumeChunkStore::Seal(const std::shared_ptr<Volume>& v) {
  uint64_t offset;
  {
    absl::MutexLock a(&append_mu_);
    while (v->inflight > 0) appends_done_.Wait(&append_mu_);
    if (v->unclean) return;
    offset = v->end;
    v->end += RecordSize(0, 0, v->alignment);
  }
  RecordHeader h;
  h.type = RecordType::kSeal;
  h.offset = offset;
  h.stored_ns = NowNs();
  uint8_t hb[kRecordHeaderSize];
  EncodeRecordHeader(h, v->nonce, hb);
  // Best effort: a volume whose SEAL did not make it is verified in full on
  // the next open, which is slower but as safe.
  absl::Status s = ops_->PwriteAll(v->fd, hb, sizeof(hb), offset);
  if (s.ok()) s = ops_->Truncate(v->fd, offset + v->alignment);
  if (s.ok()) s = ops_->Fsync(v->fd);
  if (s.ok()) {
    absl::MutexLock a(&append_mu_);
    v->prealloc_end = offset + v->alignment;
  }
}

absl::Status VolumeChunkStore::SyncVolume(const std::shared_ptr<Volume>& v) {
  absl::MutexLock l(&v->sync_mu);
  if (v->collecting == nullptr) v->collecting = std::make_shared<SyncRound>();
  std::shared_ptr<SyncRound> mine = v->collecting;
  while (!mine->done) {
    if (v->sync_leader) {
      v->round_done.Wait(&v->sync_mu);
      continue;
    }
    // Lead: the collecting round is ours (a round leaves `collecting` only
    // through a leader, and is done before that leader steps down). Every
    // record of the round was written before this sync starts.
    v->sync_leader = true;
    std::shared_ptr<SyncRound> round = std::exchange(v->collecting, std::make_shared<SyncRound>());
    v->sync_mu.Unlock();
    absl::Status s = ops_->Fdatasync(v->fd);
    v->sync_mu.Lock();
    round->status = s;
    round->done = true;
    v->sync_leader = false;
    sync_rounds_.fetch_add(1, std::memory_order_relaxed);
    v->round_done.SignalAll();
  }
  return mine->status;
}

// ---------------------------------------------------------------- read

absl::StatusOr<std::pair<std::shared_ptr<VolumeChunkStore::Volume>, VolumeChunkStore::Loc>>
VolumeChunkStore::Find(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  auto vit = volumes_.find(it->second.seq);
  if (vit == volumes_.end()) return Error(Errc::kInternal, "chunk in a missing volume");
  return std::make_pair(vit->second, it->second);
}

absl::StatusOr<AlignedBuffer> VolumeChunkStore::ReadRecord(const Volume& v, ChunkId id,
                                                           const Loc& loc, uint64_t offset,
                                                           uint64_t length,
                                                           std::vector<uint32_t>* table_out) {
  auto corrupt = [&](const std::string& what) {
    return Error(Errc::kCorrupt, v.path + " @" + std::to_string(loc.offset) + ": chunk " +
                                     id.ToString() + ": " + what);
  };
  const uint64_t nblocks = crc32c::NumBlocks(loc.length, kBlockSize);
  std::vector<uint8_t> prefix(RecordDataOffset(nblocks));
  ASSIGN_OR_RETURN(size_t n, ops_->PreadAll(v.fd, prefix.data(), prefix.size(), loc.offset));
  if (n != prefix.size()) return corrupt("short record");
  absl::StatusOr<RecordHeader> h = DecodeRecordHeader(prefix, v.nonce, loc.offset);
  if (!h.ok()) return corrupt(std::string(h.status().message()));
  if (h->type != RecordType::kPut || h->id != id || h->data_length != loc.length) {
    return corrupt("record holds something else");
  }
  const uint8_t* tp = prefix.data() + kRecordHeaderSize;
  if (crc32c::Value(tp, 4 * nblocks) != h->table_crc) return corrupt("crc table mismatch");
  std::vector<uint32_t> table(nblocks);
  for (uint64_t b = 0; b < nblocks; ++b) {
    table[b] = static_cast<uint32_t>(tp[4 * b]) | static_cast<uint32_t>(tp[4 * b + 1]) << 8 |
               static_cast<uint32_t>(tp[4 * b + 2]) << 16 |
               static_cast<uint32_t>(tp[4 * b + 3]) << 24;
  }
  ASSIGN_OR_RETURN(uint64_t want, ResolveRange(loc.length, offset, length));
  if (table_out != nullptr) *table_out = table;
  if (want == 0) return AlignedBuffer();
  const uint64_t first = offset / kBlockSize;
  const uint64_t last = (offset + want - 1) / kBlockSize;
  const uint64_t begin = first * kBlockSize;
  const uint64_t end = std::min<uint64_t>(loc.length, (last + 1) * kBlockSize);
  AlignedBuffer buf(end - begin);
  ASSIGN_OR_RETURN(size_t got, ops_->PreadAll(v.fd, buf.data(), buf.size(),
                                              loc.offset + RecordDataOffset(nblocks) + begin));
  if (got != buf.size()) return corrupt("short data");
  for (uint64_t b = first; b <= last; ++b) {
    uint64_t pos = b * kBlockSize - begin;
    uint64_t len = std::min<uint64_t>(kBlockSize, buf.size() - pos);
    if (crc32c::Value(buf.data() + pos, len) != table[b]) {
      return corrupt("crc mismatch in block " + std::to_string(b));
    }
  }
  if (offset != begin) std::memmove(buf.data(), buf.data() + (offset - begin), want);
  buf.Truncate(want);
  return buf;
}

absl::StatusOr<AlignedBuffer> VolumeChunkStore::Get(ChunkId id, uint64_t offset, uint64_t length) {
  ASSIGN_OR_RETURN(auto found, Find(id));
  return ReadRecord(*found.first, id, found.second, offset, length);
}

// ---------------------------------------------------------------- write

absl::Status VolumeChunkStore::Put(ChunkId id, std::span<const uint8_t> data,
                                   std::span<const uint32_t> block_crcs) {
  RETURN_IF_ERROR(ValidatePut(id, data, block_crcs));
  IdLocks::Guard guard(&id_locks_, id);
  absl::StatusOr<std::pair<std::shared_ptr<Volume>, Loc>> existing = Find(id);
  if (existing.ok()) {
    // Immutable: the same bytes again are a retry, other bytes a caller
    // bug. A stored copy that fails verification is replaced.
    absl::StatusOr<AlignedBuffer> old =
        ReadRecord(*existing->first, id, existing->second, 0, kToEnd);
    if (old.ok()) {
      bool same = old->size() == data.size() &&
                  (data.empty() || std::memcmp(old->data(), data.data(), data.size()) == 0);
      if (same) return absl::OkStatus();
      return Error(Errc::kExists,
                   "chunk " + id.ToString() + " is already stored with other content");
    }
    if (ErrcOf(old.status()) != Errc::kCorrupt) return old.status();
  }
  ASSIGN_OR_RETURN(Appended a,
                   Append(RecordType::kPut, id, data, block_crcs, NowNs(), existing.ok()));
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it != index_.end()) {
    auto ov = volumes_.find(it->second.seq);
    if (ov != volumes_.end()) ov->second->live_bytes -= it->second.size;
    chunk_bytes_ -= it->second.length;
  }
  index_[id] = a.loc;
  a.volume->live_bytes += a.loc.size;
  chunk_bytes_ += a.loc.length;
  return absl::OkStatus();
}

absl::Status VolumeChunkStore::Remove(ChunkId id, const char* what) {
  IdLocks::Guard guard(&id_locks_, id);
  ASSIGN_OR_RETURN(auto found, Find(id));
  const Loc old = found.second;
  absl::StatusOr<Appended> a = Append(RecordType::kDelete, id, {}, {}, NowNs(), true);
  if (!a.ok())
    return Error(ErrcOf(a.status()), std::string(what) + " " + id.ToString() + ": " +
                                         std::string(a.status().message()));
  absl::MutexLock l(&mu_);
  index_.erase(id);
  chunk_bytes_ -= old.length;
  found.first->live_bytes -= old.size;
  a->volume->tombstones.push_back(Volume::Tombstone{id, old.seq});
  return absl::OkStatus();
}

absl::Status VolumeChunkStore::Delete(ChunkId id) { return Remove(id, "delete"); }

absl::Status VolumeChunkStore::Quarantine(ChunkId id) { return Remove(id, "quarantine"); }

// ---------------------------------------------------------------- compaction

absl::StatusOr<CompactionReport> VolumeChunkStore::Compact() {
  std::vector<std::shared_ptr<Volume>> candidates;
  {
    absl::MutexLock a(&append_mu_);
    absl::MutexLock l(&mu_);
    for (const auto& [seq, v] : volumes_) {
      if (!v->sealed || v->inflight > 0) continue;  // active volumes are not sealed
      const uint64_t used = v->end > v->alignment ? v->end - v->alignment : 0;
      const uint64_t dead = used - std::min(used, v->live_bytes);
      if (used == 0 ||
          static_cast<double>(dead) >= options_.compact_dead_ratio * static_cast<double>(used)) {
        candidates.push_back(v);
      }
    }
  }
  CompactionReport report;
  for (const std::shared_ptr<Volume>& v : candidates) RETURN_IF_ERROR(CompactVolume(v, report));
  return report;
}

absl::Status VolumeChunkStore::CompactVolume(const std::shared_ptr<Volume>& v,
                                             CompactionReport& report) {
  std::vector<ChunkId> live;
  std::vector<Volume::Tombstone> tombstones;
  {
    absl::MutexLock l(&mu_);
    for (const auto& [id, loc] : index_) {
      if (loc.seq == v->seq) live.push_back(id);
    }
    tombstones = v->tombstones;
  }
  bool keep = false;
  for (ChunkId id : live) {
    IdLocks::Guard guard(&id_locks_, id);
    Loc loc;
    {
      absl::MutexLock l(&mu_);
      auto it = index_.find(id);
      if (it == index_.end() || it->second.seq != v->seq) continue;  // gone meanwhile
      loc = it->second;
    }
    std::vector<uint32_t> table;
    absl::StatusOr<AlignedBuffer> data = ReadRecord(*v, id, loc, 0, kToEnd, &table);
    if (!data.ok()) {
      if (ErrcOf(data.status()) != Errc::kCorrupt) return data.status();
      keep = true;  // never drop a chunk silently: scrub and repair decide
      continue;
    }
    // (to the newest volume: a move must come after every older record of
    // its id, a DELETE in a volume between the two included)
    ASSIGN_OR_RETURN(Appended a,
                     Append(RecordType::kPut, id, data->span(), table, loc.stored_ns, true));
    absl::MutexLock l(&mu_);
    index_[id] = a.loc;
    v->live_bytes -= loc.size;
    a.volume->live_bytes += a.loc.size;
    ++report.chunks_moved;
  }
  if (keep) {
    ++report.volumes_skipped;
    return absl::OkStatus();
  }
  // A tombstone must outlive the record it kills, or that record would come
  // back on the next open.
  for (const Volume::Tombstone& t : tombstones) {
    if (t.target_seq == v->seq) continue;
    IdLocks::Guard guard(&id_locks_, t.id);
    {
      absl::MutexLock l(&mu_);
      if (!volumes_.contains(t.target_seq) || index_.contains(t.id)) continue;
    }
    ASSIGN_OR_RETURN(Appended a, Append(RecordType::kDelete, t.id, {}, {}, NowNs(), true));
    absl::MutexLock l(&mu_);
    a.volume->tombstones.push_back(t);
    ++report.tombstones_moved;
  }
  uint64_t file_bytes = 0;
  {
    absl::MutexLock a(&append_mu_);
    file_bytes = v->prealloc_end;
  }
  {
    absl::MutexLock l(&mu_);
    volumes_.erase(v->seq);
  }
  // Readers that found the volume before it left the map keep its
  // descriptor (shared_ptr) and finish reading the unlinked file.
  RETURN_IF_ERROR(ops_->Unlink(v->path));
  RETURN_IF_ERROR(ops_->SyncDir(options_.dir));
  ++report.volumes_compacted;
  report.bytes_reclaimed += file_bytes;
  return absl::OkStatus();
}

// ---------------------------------------------------------------- rest

absl::StatusOr<ChunkInfo> VolumeChunkStore::Lookup(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return ChunkInfo{id, it->second.length};
}

absl::StatusOr<int64_t> VolumeChunkStore::ModifiedNs(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return it->second.stored_ns;
}

absl::StatusOr<std::vector<ChunkInfo>> VolumeChunkStore::List(std::optional<ChunkId> after,
                                                              size_t limit) {
  absl::MutexLock l(&mu_);
  std::vector<ChunkInfo> out;
  auto it = after ? index_.upper_bound(*after) : index_.begin();
  for (; it != index_.end() && out.size() < limit; ++it) {
    out.push_back(ChunkInfo{it->first, it->second.length});
  }
  return out;
}

absl::StatusOr<StoreStats> VolumeChunkStore::Stat() {
  ASSIGN_OR_RETURN(FsSpace space, ops_->StatFs(options_.dir));
  StoreStats stats;
  stats.capacity_bytes = space.capacity_bytes;
  stats.available_bytes = space.available_bytes;
  absl::MutexLock l(&mu_);
  stats.chunk_count = index_.size();
  stats.chunk_bytes = chunk_bytes_;
  return stats;
}

uint64_t VolumeChunkStore::sync_rounds() const { return sync_rounds_.load(); }

uint64_t VolumeChunkStore::records_appended() const { return records_appended_.load(); }

absl::StatusOr<VolumeChunkStore::RecordPlace> VolumeChunkStore::Locate(ChunkId id) {
  ASSIGN_OR_RETURN(auto found, Find(id));
  const Loc& loc = found.second;
  return RecordPlace{found.first->path, loc.offset,
                     loc.offset + RecordDataOffset(crc32c::NumBlocks(loc.length, kBlockSize))};
}

std::vector<std::string> VolumeChunkStore::VolumePaths() {
  absl::MutexLock l(&mu_);
  std::vector<std::string> out;
  for (const auto& [seq, v] : volumes_) out.push_back(v->path);
  return out;
}

}  // namespace cairn::chunk

#include "chunk/file_chunk_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "common/errors.h"
#include "common/status_macros.h"

namespace cairn::chunk {
namespace {

constexpr char kChunksDir[] = "chunks";
constexpr char kQuarantineDir[] = "quarantine";
constexpr char kLockFile[] = "LOCK";
constexpr char kTempInfix[] = ".tmp.";
constexpr mode_t kDirMode = 0755;
constexpr mode_t kFileMode = 0644;

bool IsHexPair(const std::string& s) {
  return s.size() == 2 && std::isxdigit(static_cast<unsigned char>(s[0])) &&
         std::isxdigit(static_cast<unsigned char>(s[1])) && !std::isupper(s[0]) &&
         !std::isupper(s[1]);
}

// Creates `path`; true when it was created, false when it was there.
absl::StatusOr<bool> MakeDir(FileOps* ops, const std::string& path) {
  absl::Status s = ops->Mkdir(path, kDirMode);
  if (s.ok()) return true;
  if (ErrcOf(s) == Errc::kExists) return false;
  return s;
}

absl::Status WithPath(const absl::Status& s, const std::string& path) {
  return Error(ErrcOf(s), path + ": " + std::string(s.message()));
}

// Closes a descriptor on every path out of a scope.
class FdCloser {
 public:
  FdCloser(FileOps* ops, int fd) : ops_(ops), fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ops_->Close(fd_).IgnoreError();
  }
  // Closes now and reports the result.
  absl::Status Close() {
    int fd = std::exchange(fd_, -1);
    return ops_->Close(fd);
  }

 private:
  FileOps* ops_;
  int fd_;
};

}  // namespace

FileChunkStore::FileChunkStore(FileChunkStoreOptions options, FileOps* ops)
    : options_(std::move(options)),
      ops_(ops),
      syncer_(
          [ops, mode = options_.sync_mode](const std::string& key) {
            return mode == SyncMode::kGroupSyncfs ? ops->SyncFs(key) : ops->SyncDir(key);
          },
          options_.sync_mode != SyncMode::kPerOp) {
  for (std::string d : options_.dirs) {
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    dirs_.push_back(std::move(d));
  }
}

FileChunkStore::~FileChunkStore() {
  for (int fd : lock_fds_) ::close(fd);  // releases the flock
}

absl::StatusOr<std::unique_ptr<FileChunkStore>> FileChunkStore::Open(
    FileChunkStoreOptions options) {
  if (options.dirs.empty()) return Error(Errc::kInvalid, "chunk store: no data directory");
  FileOps* ops = options.file_ops != nullptr ? options.file_ops : FileOps::Real();
  std::unique_ptr<FileChunkStore> store(new FileChunkStore(std::move(options), ops));
  RETURN_IF_ERROR(store->Recover());
  return store;
}

std::string FileChunkStore::ShardDir(uint32_t d, const std::string& hex) const {
  return dirs_[d] + "/" + kChunksDir + "/" + hex.substr(0, 2) + "/" + hex.substr(2, 2);
}

std::string FileChunkStore::FilePath(uint32_t d, const std::string& hex) const {
  return ShardDir(d, hex) + "/" + hex;
}

uint32_t FileChunkStore::PickDir(ChunkId id) const {
  // A hash of its own (seeded), so the choice of directory does not
  // correlate with the placement group, which also hashes the id.
  return static_cast<uint32_t>(id.Hash(/*seed=*/0x6469727321) % dirs_.size());
}

std::string FileChunkStore::SyncKey(uint32_t d, const std::string& dir) const {
  return options_.sync_mode == SyncMode::kGroupSyncfs ? dirs_[d] : dir;
}

std::string FileChunkStore::ChunkPath(ChunkId id) {
  uint32_t d = PickDir(id);
  {
    absl::MutexLock l(&mu_);
    auto it = index_.find(id);
    if (it != index_.end()) d = it->second.dir;
  }
  return FilePath(d, id.ToString());
}

// ---------------------------------------------------------------- open

absl::Status FileChunkStore::Recover() {
  for (uint32_t d = 0; d < dirs_.size(); ++d) {
    for (uint32_t e = 0; e < d; ++e) {
      if (dirs_[e] == dirs_[d])
        return Error(Errc::kInvalid, "data directory given twice: " + dirs_[d]);
    }
    RETURN_IF_ERROR(RecoverDir(d));
  }
  return absl::OkStatus();
}

absl::Status FileChunkStore::RecoverDir(uint32_t d) {
  const std::string& dir = dirs_[d];
  ASSIGN_OR_RETURN(bool created, MakeDir(ops_, dir));
  // One process per directory: two stores renaming into the same shards
  // would each believe it owns the chunks.
  ASSIGN_OR_RETURN(int lock_fd, ops_->Open(dir + "/" + kLockFile, O_RDWR | O_CREAT, kFileMode));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(lock_fd);
    return Error(err == EWOULDBLOCK ? Errc::kBusy : Errc::kIo,
                 "data directory " + dir + " is in use by another process");
  }
  lock_fds_.push_back(lock_fd);

  const std::string root = dir + "/" + kChunksDir;
  const std::string quarantine = dir + "/" + kQuarantineDir;
  ASSIGN_OR_RETURN(bool created_root, MakeDir(ops_, root));
  ASSIGN_OR_RETURN(bool created_q, MakeDir(ops_, quarantine));
  if (created || created_root || created_q) RETURN_IF_ERROR(ops_->SyncDir(dir));

  ASSIGN_OR_RETURN(std::vector<DirEntry> level1, ops_->ListDir(root));
  std::vector<std::string> changed;  // directories whose entries we changed
  bool quarantined_any = false;
  for (const DirEntry& e1 : level1) {
    if (!e1.is_dir || !IsHexPair(e1.name)) {
      ++recovery_.ignored;
      continue;
    }
    const std::string p1 = root + "/" + e1.name;
    ASSIGN_OR_RETURN(std::vector<DirEntry> level2, ops_->ListDir(p1));
    // A previous run may have died between mkdir and the parent's fsync:
    // sync every shard parent once so what we see is what is on disk.
    changed.push_back(p1);
    for (const DirEntry& e2 : level2) {
      if (!e2.is_dir || !IsHexPair(e2.name)) {
        ++recovery_.ignored;
        continue;
      }
      const std::string p2 = p1 + "/" + e2.name;
      {
        absl::MutexLock l(&shard_mu_);
        shards_ready_.insert(std::to_string(d) + "/" + e1.name);
        shards_ready_.insert(std::to_string(d) + "/" + e1.name + "/" + e2.name);
      }
      ASSIGN_OR_RETURN(std::vector<DirEntry> files, ops_->ListDir(p2));
      bool touched = false;
      for (const DirEntry& f : files) {
        const std::string path = p2 + "/" + f.name;
        if (f.name.find(kTempInfix) != std::string::npos) {
          RETURN_IF_ERROR(ops_->Unlink(path));
          ++recovery_.temp_files_removed;
          touched = true;
          continue;
        }
        std::optional<ChunkId> id = ChunkId::Parse(f.name);
        if (!f.is_regular || !id || !id->valid()) {
          ++recovery_.ignored;
          continue;
        }
        absl::StatusOr<uint64_t> length = absl::InternalError("unchecked");
        const std::string hex = id->ToString();
        bool misplaced =
            hex != f.name || hex.compare(0, 2, e1.name) != 0 || hex.compare(2, 2, e2.name) != 0;
        if (!misplaced) length = CheckFile(path, *id);
        bool duplicate = false;
        if (length.ok()) {
          absl::MutexLock l(&mu_);
          duplicate = index_.contains(*id);
          if (!duplicate) {
            index_[*id] = Location{d, *length};
            chunk_bytes_ += *length;
            ++recovery_.chunks_loaded;
          }
        }
        if (!length.ok() || duplicate) {
          RETURN_IF_ERROR(MoveToQuarantine(d, path, f.name));
          ++recovery_.quarantined;
          touched = true;
          quarantined_any = true;
        }
      }
      if (touched) changed.push_back(p2);
    }
  }
  changed.push_back(root);
  if (quarantined_any) changed.push_back(quarantine);
  for (const std::string& p : changed) RETURN_IF_ERROR(ops_->SyncDir(p));
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> FileChunkStore::CheckFile(const std::string& path, ChunkId id) {
  ASSIGN_OR_RETURN(int fd, ops_->Open(path, O_RDONLY, 0));
  FdCloser closer(ops_, fd);
  ASSIGN_OR_RETURN(uint64_t size, ops_->FileSize(fd));
  std::vector<uint8_t> prefix(kHeaderSize + 4 * kMaxBlocks);
  ASSIGN_OR_RETURN(size_t n, ops_->PreadAll(fd, prefix.data(), prefix.size(), 0));
  ASSIGN_OR_RETURN(ChunkHeader h, DecodeHeader(std::span(prefix.data(), n)));
  if (h.id != id) return Error(Errc::kCorrupt, "file holds chunk " + h.id.ToString());
  if (size != h.data_offset + h.data_length) return Error(Errc::kCorrupt, "wrong file size");
  if (n < kHeaderSize + 4 * size_t{h.num_blocks}) return Error(Errc::kCorrupt, "short table");
  std::vector<uint32_t> table(h.num_blocks);
  RETURN_IF_ERROR(
      DecodeTable(h, std::span(prefix.data() + kHeaderSize, 4 * size_t{h.num_blocks}), table));
  return h.data_length;
}

absl::Status FileChunkStore::MoveToQuarantine(uint32_t d, const std::string& path,
                                              const std::string& name) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  std::string target = dirs_[d] + "/" + kQuarantineDir + "/" + name + "." + std::to_string(ns);
  return ops_->Rename(path, target);
}

// ---------------------------------------------------------------- put

absl::Status FileChunkStore::EnsureShard(uint32_t d, const std::string& hex) {
  const std::string key1 = std::to_string(d) + "/" + hex.substr(0, 2);
  const std::string key2 = key1 + "/" + hex.substr(2, 2);
  bool have1;
  {
    absl::MutexLock l(&shard_mu_);
    if (shards_ready_.contains(key2)) return absl::OkStatus();
    have1 = shards_ready_.contains(key1);
  }
  // Whoever finds a shard missing creates it (racing creators both succeed)
  // and syncs its parent whether or not it made the entry itself: the
  // creator may not have synced yet. The syncs go through the group
  // syncer, so a burst of new shards shares them.
  const std::string root = dirs_[d] + "/" + kChunksDir;
  const std::string p1 = root + "/" + hex.substr(0, 2);
  const std::string p2 = p1 + "/" + hex.substr(2, 2);
  if (!have1) {
    RETURN_IF_ERROR(MakeDir(ops_, p1).status());
    RETURN_IF_ERROR(syncer_.Sync(SyncKey(d, root)));
    absl::MutexLock l(&shard_mu_);
    shards_ready_.insert(key1);
  }
  RETURN_IF_ERROR(MakeDir(ops_, p2).status());
  RETURN_IF_ERROR(syncer_.Sync(SyncKey(d, p1)));
  absl::MutexLock l(&shard_mu_);
  shards_ready_.insert(key2);
  return absl::OkStatus();
}

absl::Status FileChunkStore::Put(ChunkId id, std::span<const uint8_t> data,
                                 std::span<const uint32_t> block_crcs) {
  RETURN_IF_ERROR(ValidatePut(id, data, block_crcs));
  IdLocks::Guard guard(&id_locks_, id);
  std::optional<Location> existing;
  {
    absl::MutexLock l(&mu_);
    auto it = index_.find(id);
    if (it != index_.end()) existing = it->second;
  }
  absl::Status status;
  bool write = !existing.has_value();
  if (existing) {
    // Immutable: the same content again is a retry (success), other
    // content is a caller bug. A stored copy found damaged is replaced.
    absl::StatusOr<AlignedBuffer> old = ReadVerified(existing->dir, id, 0, kToEnd);
    if (old.ok()) {
      bool same = old->size() == data.size() &&
                  (data.empty() || std::memcmp(old->data(), data.data(), data.size()) == 0);
      if (!same) {
        status = Error(Errc::kExists,
                       "chunk " + id.ToString() + " is already stored with other content");
      }
    } else if (ErrcOf(old.status()) == Errc::kCorrupt || ErrcOf(old.status()) == Errc::kNotFound) {
      std::string hex = id.ToString();
      absl::Status q = ErrcOf(old.status()) == Errc::kCorrupt
                           ? MoveToQuarantine(existing->dir, FilePath(existing->dir, hex), hex)
                           : absl::OkStatus();
      if (q.ok()) {
        absl::MutexLock l(&mu_);
        index_.erase(id);
        chunk_bytes_ -= existing->length;
        write = true;
      } else {
        status = q;
      }
    } else {
      status = old.status();
    }
  }
  const uint32_t d = PickDir(id);
  if (write) status = WriteNew(d, id, data, block_crcs);
  absl::MutexLock l(&mu_);
  if (write && status.ok()) {
    index_[id] = Location{d, data.size()};
    chunk_bytes_ += data.size();
  }
  return status;
}

absl::Status FileChunkStore::WriteNew(uint32_t d, ChunkId id, std::span<const uint8_t> data,
                                      std::span<const uint32_t> block_crcs) {
  const std::string hex = id.ToString();
  RETURN_IF_ERROR(EnsureShard(d, hex));
  const std::string shard = ShardDir(d, hex);
  const std::string final_path = shard + "/" + hex;
  const std::string temp_path = final_path + kTempInfix + std::to_string(temp_seq_.fetch_add(1));

  AlignedBuffer prefix(DataOffset(block_crcs.size()));
  EncodePrefix(id, data.size(), block_crcs, prefix.span());

  ASSIGN_OR_RETURN(int fd, ops_->Open(temp_path, O_WRONLY | O_CREAT | O_EXCL, kFileMode));
  absl::Status s;
  {
    FdCloser closer(ops_, fd);
    s = ops_->PwriteAll(fd, prefix.data(), prefix.size(), 0);
    if (s.ok() && !data.empty()) s = ops_->PwriteAll(fd, data.data(), data.size(), prefix.size());
    if (s.ok() && options_.sync_mode != SyncMode::kGroupSyncfs) s = ops_->Fdatasync(fd);
    if (s.ok()) s = closer.Close();
  }
  // The data is durable before the chunk gets its name, in every mode.
  if (s.ok() && options_.sync_mode == SyncMode::kGroupSyncfs) s = syncer_.Sync(dirs_[d]);
  if (s.ok()) s = ops_->Rename(temp_path, final_path);
  if (!s.ok()) {
    // Nothing half-written stays behind (a full disk included).
    ops_->Unlink(temp_path).IgnoreError();
    return WithPath(s, "put " + hex);
  }
  s = syncer_.Sync(SyncKey(d, shard));
  if (!s.ok()) {
    // The rename may or may not be durable; the chunk was not acknowledged
    // either way, so take it back rather than leave an unknown state.
    ops_->Unlink(final_path).IgnoreError();
    return WithPath(s, "put " + hex);
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------- read

absl::StatusOr<AlignedBuffer> FileChunkStore::Get(ChunkId id, uint64_t offset, uint64_t length) {
  uint32_t d;
  {
    absl::MutexLock l(&mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
    d = it->second.dir;
  }
  return ReadVerified(d, id, offset, length);
}

absl::StatusOr<AlignedBuffer> FileChunkStore::ReadVerified(uint32_t d, ChunkId id, uint64_t offset,
                                                           uint64_t length) {
  const std::string hex = id.ToString();
  const std::string path = FilePath(d, hex);
  auto corrupt = [&](const std::string& what) {
    return Error(Errc::kCorrupt, "chunk file " + path + ": " + what);
  };
  absl::StatusOr<int> fd = ops_->Open(path, O_RDONLY, 0);
  if (!fd.ok()) {
    if (ErrcOf(fd.status()) == Errc::kNotFound) return Error(Errc::kNotFound, "chunk " + hex);
    return fd.status();
  }
  FdCloser closer(ops_, *fd);
  ASSIGN_OR_RETURN(uint64_t size, ops_->FileSize(*fd));
  // Header and CRC table in one read (they fit in the first 8 KiB).
  std::vector<uint8_t> prefix(std::min<uint64_t>(size, kHeaderSize + 4 * kMaxBlocks));
  ASSIGN_OR_RETURN(size_t n, ops_->PreadAll(*fd, prefix.data(), prefix.size(), 0));
  absl::StatusOr<ChunkHeader> h = DecodeHeader(std::span(prefix.data(), n));
  if (!h.ok()) return corrupt(std::string(h.status().message()));
  if (h->id != id) return corrupt("holds chunk " + h->id.ToString());
  if (size != h->data_offset + h->data_length) return corrupt("wrong file size");
  const size_t table_bytes = 4 * size_t{h->num_blocks};
  if (n < kHeaderSize + table_bytes) return corrupt("short crc table");
  std::vector<uint32_t> table(h->num_blocks);
  absl::Status ts = DecodeTable(*h, std::span(prefix.data() + kHeaderSize, table_bytes), table);
  if (!ts.ok()) return corrupt(std::string(ts.message()));

  ASSIGN_OR_RETURN(uint64_t want, ResolveRange(h->data_length, offset, length));
  if (want == 0) return AlignedBuffer();
  // Read whole blocks so each one can be verified.
  const uint64_t first = offset / kBlockSize;
  const uint64_t last = (offset + want - 1) / kBlockSize;
  const uint64_t begin = first * kBlockSize;
  const uint64_t end = std::min<uint64_t>(h->data_length, (last + 1) * kBlockSize);
  AlignedBuffer buf(end - begin);
  ASSIGN_OR_RETURN(size_t got, ops_->PreadAll(*fd, buf.data(), buf.size(), h->data_offset + begin));
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

// ---------------------------------------------------------------- rest

absl::Status FileChunkStore::Delete(ChunkId id) {
  IdLocks::Guard guard(&id_locks_, id);
  Location loc;
  {
    absl::MutexLock l(&mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
    loc = it->second;
  }
  const std::string hex = id.ToString();
  absl::Status s = ops_->Unlink(FilePath(loc.dir, hex));
  bool gone = s.ok() || ErrcOf(s) == Errc::kNotFound;
  if (s.ok()) s = syncer_.Sync(SyncKey(loc.dir, ShardDir(loc.dir, hex)));
  if (ErrcOf(s) == Errc::kNotFound) s = absl::OkStatus();
  absl::MutexLock l(&mu_);
  if (gone) {
    index_.erase(id);
    chunk_bytes_ -= loc.length;
  }
  return s.ok() ? s : WithPath(s, "delete " + hex);
}

absl::Status FileChunkStore::Quarantine(ChunkId id) {
  IdLocks::Guard guard(&id_locks_, id);
  Location loc;
  {
    absl::MutexLock l(&mu_);
    auto it = index_.find(id);
    if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
    loc = it->second;
  }
  const std::string hex = id.ToString();
  absl::Status s = MoveToQuarantine(loc.dir, FilePath(loc.dir, hex), hex);
  // Gone from its place (moved now, or missing already): out of the index.
  bool gone = s.ok() || ErrcOf(s) == Errc::kNotFound;
  if (s.ok()) s = syncer_.Sync(SyncKey(loc.dir, ShardDir(loc.dir, hex)));
  if (s.ok()) s = syncer_.Sync(SyncKey(loc.dir, dirs_[loc.dir] + "/" + kQuarantineDir));
  if (ErrcOf(s) == Errc::kNotFound) s = absl::OkStatus();
  absl::MutexLock l(&mu_);
  if (gone) {
    index_.erase(id);
    chunk_bytes_ -= loc.length;
  }
  return s.ok() ? s : WithPath(s, "quarantine " + hex);
}

absl::StatusOr<ChunkInfo> FileChunkStore::Lookup(ChunkId id) {
  absl::MutexLock l(&mu_);
  auto it = index_.find(id);
  if (it == index_.end()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  return ChunkInfo{id, it->second.length};
}

absl::StatusOr<int64_t> FileChunkStore::ModifiedNs(ChunkId id) {
  if (!Lookup(id).ok()) return Error(Errc::kNotFound, "chunk " + id.ToString());
  struct stat st {};
  if (::stat(ChunkPath(id).c_str(), &st) != 0) {
    if (errno == ENOENT) return Error(Errc::kNotFound, "chunk " + id.ToString());
    return Error(Errc::kIo, "stat chunk " + id.ToString() + ": " + std::strerror(errno));
  }
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

absl::StatusOr<std::vector<ChunkInfo>> FileChunkStore::List(std::optional<ChunkId> after,
                                                            size_t limit) {
  absl::MutexLock l(&mu_);
  std::vector<ChunkInfo> out;
  auto it = after ? index_.upper_bound(*after) : index_.begin();
  for (; it != index_.end() && out.size() < limit; ++it) {
    out.push_back(ChunkInfo{it->first, it->second.length});
  }
  return out;
}

absl::StatusOr<StoreStats> FileChunkStore::Stat() {
  StoreStats stats;
  absl::flat_hash_map<uint64_t, FsSpace> by_fs;  // directories may share a file system
  for (const std::string& dir : dirs_) {
    ASSIGN_OR_RETURN(FsSpace space, ops_->StatFs(dir));
    by_fs[space.fs_id] = space;
  }
  for (const auto& [unused, space] : by_fs) {
    stats.capacity_bytes += space.capacity_bytes;
    stats.available_bytes += space.available_bytes;
  }
  absl::MutexLock l(&mu_);
  stats.chunk_count = index_.size();
  stats.chunk_bytes = chunk_bytes_;
  return stats;
}

}  // namespace cairn::chunk

#include "store/rocksdb_store.h"

#include <filesystem>

#include "common/errors.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/optimistic_transaction_db.h"
#include "rocksdb/utilities/transaction.h"

namespace cairn::store {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = std::string(what) + ": " + s.ToString();
  if (s.IsBusy() || s.IsTryAgain()) return Error(Errc::kConflict, msg);
  if (s.IsNoSpace()) return Error(Errc::kNoSpace, msg);
  if (s.IsCorruption()) return Error(Errc::kCorrupt, msg);
  return Error(Errc::kIo, msg);
}

rocksdb::Slice ToSlice(std::string_view v) { return rocksdb::Slice(v.data(), v.size()); }

absl::StatusOr<std::vector<KeyValue>> ScanDb(rocksdb::DB* db, rocksdb::ReadOptions ro,
                                             std::string_view begin, std::string_view end,
                                             size_t limit) {
  rocksdb::Slice upper = ToSlice(end);
  ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro));
  std::vector<KeyValue> out;
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    out.push_back({it->key().ToString(), it->value().ToString()});
    if (limit != 0 && out.size() >= limit) break;
  }
  if (!it->status().ok()) return FromRocks(it->status(), "scan");
  return out;
}

}  // namespace

// Reads of the latest state: a plain DB::Get (RocksDB takes an implicit
// sequence number per read) and an iterator per Scan (consistent in itself).
class RocksDbReader final : public Reader {
 public:
  RocksDbReader(rocksdb::DB* db, ReadCache* cache) : db_(db), cache_(cache) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    ReadCache::Ticket ticket;
    if (std::optional<ReadCache::Hit> hit = cache_->Lookup(key, &ticket)) {
      return std::move(hit->value);
    }
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(key), &value);
    std::optional<std::string> out;
    if (s.ok()) {
      out = std::move(value);
    } else if (!s.IsNotFound()) {
      return FromRocks(s, "get");
    }
    cache_->Fill(key, out, ticket);
    return out;
  }

  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                             size_t limit) override {
    return ScanDb(db_, rocksdb::ReadOptions(), begin, end, limit);
  }

 private:
  rocksdb::DB* db_;
  ReadCache* cache_;
};

class RocksDbTxn final : public Txn {
 public:
  RocksDbTxn(RocksDbStore* store, rocksdb::Transaction* txn) : store_(store), txn_(txn) {
    read_options_.snapshot = txn_->GetSnapshot();
  }

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    std::string value;
    rocksdb::Status s = txn_->GetForUpdate(read_options_, ToSlice(key), &value);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return FromRocks(s, "get");
    return std::optional<std::string>(std::move(value));
  }

  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                             size_t limit) override {
    return ScanDb(store_->db_->GetBaseDB(), read_options_, begin, end, limit);
  }

  void Put(std::string_view key, std::string_view value) override {
    status_.Update(FromRocks(txn_->Put(ToSlice(key), ToSlice(value)), "put"));
    written_.emplace_back(key);
  }
  void Delete(std::string_view key) override {
    status_.Update(FromRocks(txn_->Delete(ToSlice(key)), "delete"));
    written_.emplace_back(key);
  }

  absl::Status Commit(const CommitOptions& options) override {
    if (committed_) return Error(Errc::kInternal, "transaction committed twice");
    committed_ = true;
    if (!status_.ok()) return status_;
    if (txn_->GetNumPuts() == 0 && txn_->GetNumDeletes() == 0) {
      // Read-only: nothing to write. Validation would only tell whether the
      // reads are still current, which a read-only caller cannot act on.
      return absl::OkStatus();
    }
    bool sync = options.sync || store_->options_.sync_mode == SyncMode::kAlways;
    if (sync) {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      txn_->SetWriteOptions(wo);
    }
    // The read cache takes no fill of these keys' shards while the writes
    // apply (read_cache.h, "Coherence"); the end comes before the commit is
    // acknowledged, also after a failed commit, whose writes may or may not
    // have applied.
    for (const std::string& key : written_) store_->cache_.BeginWrite(key);
    absl::Status s = FromRocks(txn_->Commit(), "commit");
    if (s.ok() && !sync) store_->NoteWrite();
    for (const std::string& key : written_) store_->cache_.EndWrite(key);
    return s;
  }

 private:
  RocksDbStore* store_;
  std::unique_ptr<rocksdb::Transaction> txn_;
  rocksdb::ReadOptions read_options_;
  absl::Status status_;
  std::vector<std::string> written_;  // keys the read cache is told of at commit
  bool committed_ = false;
};

RocksDbStore::RocksDbStore(const RocksDbOptions& options)
    : options_(options), cache_(options.read_cache_bytes) {}

absl::StatusOr<std::unique_ptr<RocksDbStore>> RocksDbStore::Open(const RocksDbOptions& options) {
  if (options.dir.empty()) return Invalid("rocksdb store needs a directory");
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Error(Errc::kIo, "cannot create " + options.dir + ": " + ec.message());

  rocksdb::Options ro;
  ro.create_if_missing = true;
  ro.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  ro.IncreaseParallelism(2);
  ro.max_write_buffer_size_to_maintain = 64 << 20;  // history for optimistic validation
  // A bloom filter over whole keys in each memtable: a Get of an absent key
  // (a new entry's name, a commit checking it for conflicts) skips the skip
  // list search. Costs 1/10 of the write buffer.
  ro.memtable_prefix_bloom_size_ratio = 0.1;
  ro.memtable_whole_key_filtering = true;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));

  std::unique_ptr<RocksDbStore> store(new RocksDbStore(options));
  rocksdb::OptimisticTransactionDB* db = nullptr;
  // Conflict checks inside RocksDB's write group (serial) rather than under
  // per-key bucket locks before it (parallel): creates spent about 10 %
  // less time in the server (docs/BENCHMARKS.md, "Read cache and serial
  // validation").
  rocksdb::OptimisticTransactionDBOptions occ;
  occ.validate_policy = rocksdb::OccValidationPolicy::kValidateSerial;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::OptimisticTransactionDB::Open(
      rocksdb::DBOptions(ro), occ, options.dir,
      {rocksdb::ColumnFamilyDescriptor(rocksdb::kDefaultColumnFamilyName,
                                       rocksdb::ColumnFamilyOptions(ro))},
      &handles, &db);
  // Only the default column family, which the DB keeps its own handle of.
  for (rocksdb::ColumnFamilyHandle* h : handles) delete h;
  if (!s.ok()) return FromRocks(s, "open " + options.dir);
  store->db_.reset(db);
  if (options.sync_mode == SyncMode::kInterval) {
    store->sync_thread_ = std::thread([raw = store.get()] { raw->SyncLoop(); });
  }
  return store;
}

RocksDbStore::~RocksDbStore() {
  stop_.Notify();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (db_) {
    (void)Sync();
    (void)db_->Close();
  }
}

std::unique_ptr<Txn> RocksDbStore::Begin() {
  rocksdb::OptimisticTransactionOptions to;
  to.set_snapshot = true;
  rocksdb::Transaction* txn = db_->BeginTransaction(rocksdb::WriteOptions(), to);
  return std::make_unique<RocksDbTxn>(this, txn);
}

std::unique_ptr<Reader> RocksDbStore::NewReader() {
  return std::make_unique<RocksDbReader>(db_->GetBaseDB(), &cache_);
}

absl::Status RocksDbStore::Sync() {
  dirty_.store(false, std::memory_order_relaxed);
  absl::Status s = FromRocks(db_->SyncWAL(), "sync wal");
  if (s.ok()) sync_count_.fetch_add(1);
  return s;
}

void RocksDbStore::SyncLoop() {
  while (!stop_.WaitForNotificationWithTimeout(options_.sync_interval)) {
    if (dirty_.load(std::memory_order_relaxed)) (void)Sync();
  }
}

}  // namespace cairn::store

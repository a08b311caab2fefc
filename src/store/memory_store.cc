#include "store/memory_store.h"

#include <map>

#include "common/errors.h"

namespace cairn::store {

namespace {

// Committed keys of `data` (MemoryStore::data_) in [begin, end), at most
// `limit` (0: all). The caller holds the store's mutex.
template <typename Map>
std::vector<KeyValue> ScanLocked(const Map& data, std::string_view begin, std::string_view end,
                                 size_t limit) {
  std::vector<KeyValue> out;
  for (auto it = data.lower_bound(begin); it != data.end() && it->first < end; ++it) {
    if (!it->second.value) continue;
    out.push_back({it->first, *it->second.value});
    if (limit != 0 && out.size() >= limit) break;
  }
  return out;
}

}  // namespace

class MemoryReader final : public Reader {
 public:
  explicit MemoryReader(MemoryStore* store) : store_(store) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    auto it = store_->data_.find(key);
    if (it == store_->data_.end()) return std::optional<std::string>();
    return it->second.value;
  }

  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                             size_t limit) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    return ScanLocked(store_->data_, begin, end, limit);
  }

 private:
  MemoryStore* store_;
};

class MemoryTxn final : public Txn {
 public:
  explicit MemoryTxn(MemoryStore* store) : store_(store) {}

  absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
    if (auto it = writes_.find(key); it != writes_.end()) return it->second;
    absl::ReaderMutexLock lock(&store_->mu_);
    auto it = store_->data_.find(key);
    uint64_t version = it == store_->data_.end() ? 0 : it->second.version;
    reads_.try_emplace(std::string(key), version);
    if (it == store_->data_.end()) return std::optional<std::string>();
    return it->second.value;
  }

  absl::StatusOr<std::vector<KeyValue>> Scan(std::string_view begin, std::string_view end,
                                             size_t limit) override {
    absl::ReaderMutexLock lock(&store_->mu_);
    return ScanLocked(store_->data_, begin, end, limit);
  }

  void Put(std::string_view key, std::string_view value) override {
    writes_[std::string(key)] = std::string(value);
  }
  void Delete(std::string_view key) override { writes_[std::string(key)] = std::nullopt; }

  absl::Status Commit(const CommitOptions&) override {
    if (committed_) return Error(Errc::kInternal, "transaction committed twice");
    committed_ = true;
    absl::MutexLock lock(&store_->mu_);
    for (const auto& [key, version] : reads_) {
      auto it = store_->data_.find(key);
      uint64_t now = it == store_->data_.end() ? 0 : it->second.version;
      if (now != version) return Error(Errc::kConflict, "key changed since read");
    }
    if (writes_.empty()) return absl::OkStatus();
    uint64_t version = ++store_->version_;
    for (auto& [key, value] : writes_) {
      auto& entry = store_->data_[key];
      entry.value = std::move(value);
      entry.version = version;
    }
    return absl::OkStatus();
  }

 private:
  MemoryStore* store_;
  std::map<std::string, uint64_t, std::less<>> reads_;
  std::map<std::string, std::optional<std::string>, std::less<>> writes_;
  bool committed_ = false;
};

std::unique_ptr<Txn> MemoryStore::Begin() { return std::make_unique<MemoryTxn>(this); }

std::unique_ptr<Reader> MemoryStore::NewReader() { return std::make_unique<MemoryReader>(this); }

}  // namespace cairn::store

#include "store/memory_store.h"

#include <map>

#include "common/errors.h"

namespace cairn::store {

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
    std::vector<KeyValue> out;
    absl::ReaderMutexLock lock(&store_->mu_);
    for (auto it = store_->data_.lower_bound(begin); it != store_->data_.end() && it->first < end;
         ++it) {
      if (!it->second.value) continue;
      out.push_back({it->first, *it->second.value});
      if (limit != 0 && out.size() >= limit) break;
    }
    return out;
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

}  // namespace cairn::store

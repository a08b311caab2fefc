// The namespace test fixture, shared by the suites that run against every
// store (MemoryStore, RocksDbStore): namespace_test.cc and
// file_data_test.cc. Every test that changes the namespace ends with
// CheckConsistency(), which scans the whole store and checks every
// invariant of docs/metadata.md.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta/keys.h"
#include "meta/names.h"
#include "meta/namespace.h"
#include "meta/ops/ops.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"

namespace cairn::meta {

inline Errc E(const absl::Status& s) { return ErrcOf(s); }
template <typename T>
Errc E(const absl::StatusOr<T>& s) {
  return ErrcOf(s.status());
}

inline Ref P(std::string path) { return Ref::Path(std::move(path)); }
inline Ref R(InodeId ino) { return Ref::Id(ino); }
inline Ref R(const proto::InodeRecord& rec) { return Ref::Id(InodeId(rec.ino())); }

inline const Caller kUser{1000, 100};

class NamespaceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "rocksdb") {
      std::string name = "cairn-meta-test-" + std::to_string(::getpid()) + "-" +
                         ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = std::filesystem::temp_directory_path() / name;
      std::filesystem::remove_all(dir_);
    }
    OpenStore();
    OpenNamespace();
  }
  void TearDown() override {
    ns_.reset();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void OpenStore() {
    if (GetParam() == "memory") {
      store_ = std::make_unique<store::MemoryStore>();
      return;
    }
    store::RocksDbOptions o;
    o.dir = dir_.string();
    o.block_cache_bytes = 8 << 20;
    auto s = store::RocksDbStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  void OpenNamespace() {
    auto ns = Namespace::Open(store_.get(), options_, &clock_);
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::move(*ns);
  }
  // A restart: a new Namespace, and for RocksDB a reopened store.
  void Restart() {
    ns_.reset();
    if (GetParam() == "rocksdb") {
      store_.reset();
      OpenStore();
    }
    OpenNamespace();
  }

  proto::InodeRecord Mkdir(const std::string& parent, const std::string& name,
                           uint32_t mode = 0755) {
    auto r = ns_->Mkdir(P(parent), name, mode, kUser);
    EXPECT_TRUE(r.ok()) << parent << " " << name << ": " << r.status();
    return r.ok() ? *r : proto::InodeRecord();
  }
  proto::InodeRecord Create(const std::string& parent, const std::string& name,
                            uint32_t mode = 0644) {
    auto r = ns_->Create(P(parent), name, mode, /*exclusive=*/true, kUser);
    EXPECT_TRUE(r.ok()) << parent << " " << name << ": " << r.status();
    return r.ok() ? *r : proto::InodeRecord();
  }
  proto::InodeRecord Attr(const std::string& path) {
    auto r = ns_->GetAttr(P(path));
    EXPECT_TRUE(r.ok()) << path << ": " << r.status();
    return r.ok() ? *r : proto::InodeRecord();
  }
  bool Exists(const std::string& path) { return ns_->GetAttr(P(path)).ok(); }
  std::vector<std::string> List(const std::string& path) {
    std::vector<std::string> names;
    std::string after;
    while (true) {
      auto page = ns_->Readdir(P(path), after, 7, false);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      for (auto& e : page->entries) names.push_back(e.name);
      if (page->eof) break;
      after = names.back();
    }
    return names;
  }
  uint64_t Files() {
    auto s = ns_->Statfs();
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? s->files : 0;
  }
  std::vector<store::KeyValue> ScanAll(char prefix) {
    auto txn = store_->Begin();
    auto kvs = txn->Scan(std::string(1, prefix), std::string(1, static_cast<char>(prefix + 1)), 0);
    EXPECT_TRUE(kvs.ok());
    return kvs.ok() ? *kvs : std::vector<store::KeyValue>();
  }

  // Scans the whole store and checks every invariant of the schema.
  void CheckConsistency() {
    std::map<uint64_t, proto::InodeRecord> inodes;
    for (auto& kv : ScanAll('I')) {
      auto key = keys::Decode(kv.key);
      ASSERT_TRUE(key.ok());
      proto::InodeRecord rec;
      ASSERT_TRUE(rec.ParseFromString(kv.value));
      ASSERT_EQ(rec.ino(), key->ino.value());
      inodes[rec.ino()] = rec;
    }
    ASSERT_TRUE(inodes.count(1));
    std::map<uint64_t, uint64_t> entries, subdirs, links;
    std::map<uint64_t, uint64_t> dir_parent;  // directory -> directory holding its entry
    for (auto& kv : ScanAll('D')) {
      auto key = keys::Decode(kv.key);
      ASSERT_TRUE(key.ok()) << key.status();
      proto::DirentRecord d;
      ASSERT_TRUE(d.ParseFromString(kv.value));
      uint64_t parent = key->ino.value();
      ASSERT_TRUE(inodes.count(parent)) << "entry in missing dir " << parent;
      EXPECT_EQ(inodes[parent].type(), proto::FILE_TYPE_DIRECTORY);
      ASSERT_TRUE(inodes.count(d.ino())) << "entry " << key->name << " -> missing " << d.ino();
      EXPECT_EQ(inodes[d.ino()].type(), d.type()) << key->name;
      EXPECT_NE(d.ino(), 1u) << "entry for the root";
      entries[parent]++;
      links[d.ino()]++;
      if (d.type() == proto::FILE_TYPE_DIRECTORY) {
        subdirs[parent]++;
        EXPECT_FALSE(dir_parent.count(d.ino())) << "directory with two entries";
        dir_parent[d.ino()] = parent;
      }
    }
    std::map<uint64_t, uint64_t> xattr_bytes;
    for (auto& kv : ScanAll('X')) {
      auto key = keys::Decode(kv.key);
      ASSERT_TRUE(key.ok()) << key.status();
      EXPECT_TRUE(inodes.count(key->ino.value())) << "xattr of missing inode";
      xattr_bytes[key->ino.value()] += key->name.size() + kv.value.size();
    }
    // File data: ids well formed, no chunk past the size or its slot, no
    // trailing hole; GC entries well formed, and no queued id still in use.
    std::set<std::string> referenced;
    for (auto& [ino, rec] : inodes) {
      if (rec.type() != proto::FILE_TYPE_REGULAR) {
        EXPECT_EQ(rec.chunks_size(), 0) << "chunks of non-file " << ino;
        continue;
      }
      const uint64_t cs = rec.policy().chunk_size();
      EXPECT_NE(cs, 0u) << "file " << ino << " without a chunk size";
      if (cs == 0) continue;
      for (int i = 0; i < rec.chunks_size(); ++i) {
        const auto& ref = rec.chunks(i);
        if (ref.id().empty()) {
          EXPECT_EQ(ref.length(), 0u);
          continue;
        }
        EXPECT_EQ(ref.id().size(), kChunkIdBytes);
        EXPECT_GE(ref.length(), 1u);
        EXPECT_LE(ref.length(), cs);
        EXPECT_LE(i * cs + ref.length(), rec.size()) << "chunk past the size of " << ino;
        referenced.insert(ref.id());
      }
      if (rec.chunks_size() > 0) {
        EXPECT_FALSE(rec.chunks(rec.chunks_size() - 1).id().empty()) << "trailing hole " << ino;
      }
    }
    for (auto& kv : ScanAll('Q')) {
      auto key = keys::Decode(kv.key);
      ASSERT_TRUE(key.ok()) << key.status();
      proto::GcEntry e;
      ASSERT_TRUE(e.ParseFromString(kv.value));
      EXPECT_EQ(e.ino(), key->ino.value());
      EXPECT_EQ(e.queued_ns(), key->queued_ns);
      EXPECT_GT(e.chunk_ids_size(), 0);
      std::set<std::string> ids(e.chunk_ids().begin(), e.chunk_ids().end());
      EXPECT_EQ(ids.size(), static_cast<size_t>(e.chunk_ids_size())) << "an id queued twice";
      for (const auto& id : ids) EXPECT_EQ(referenced.count(id), 0u) << "queued id in use";
    }
    // Request records: well-formed keys and values, never a chunk list.
    for (auto& kv : ScanAll('R')) {
      auto key = keys::Decode(kv.key);
      ASSERT_TRUE(key.ok()) << key.status();
      ASSERT_EQ(key->prefix, keys::Prefix::kRequest);
      auto record = ops::DecodeRequestRecord(kv.value);
      ASSERT_TRUE(record.ok()) << record.status();
      EXPECT_EQ(record->result.chunks_size(), 0);
    }
    uint64_t max_ino = 0;
    for (auto& [ino, rec] : inodes) {
      max_ino = std::max(max_ino, ino);
      EXPECT_EQ(rec.xattr_bytes(), xattr_bytes[ino]) << "inode " << ino;
      if (rec.type() == proto::FILE_TYPE_DIRECTORY) {
        EXPECT_EQ(rec.entries(), entries[ino]) << "entries of " << ino;
        EXPECT_EQ(rec.nlink(), 2 + subdirs[ino]) << "nlink of dir " << ino;
        if (ino == 1) {
          EXPECT_EQ(rec.parent(), 1u);
        } else {
          EXPECT_EQ(rec.parent(), dir_parent[ino]) << "parent of " << ino;
        }
      } else {
        EXPECT_EQ(rec.nlink(), links[ino]) << "nlink of " << ino;
        EXPECT_GE(rec.nlink(), 1u);
        EXPECT_EQ(entries[ino], 0u);
      }
    }
    // Every directory reaches the root (no cycles, no orphans).
    for (auto& [ino, parent] : dir_parent) {
      uint64_t cur = ino;
      size_t steps = 0;
      while (cur != 1 && steps++ < inodes.size()) cur = inodes[cur].parent();
      EXPECT_EQ(cur, 1u) << "directory " << ino << " does not reach the root";
    }
    EXPECT_EQ(Files(), inodes.size());
    auto txn = store_->Begin();
    auto next = txn->Get(keys::System(keys::kNextInode));
    ASSERT_TRUE(next.ok() && next->has_value());
    EXPECT_GT(*keys::DecodeU64(**next), max_ino);
  }

  std::filesystem::path dir_;
  NamespaceOptions options_;
  ManualClock clock_;
  std::unique_ptr<store::KvStore> store_;
  std::unique_ptr<Namespace> ns_;
};
}  // namespace cairn::meta

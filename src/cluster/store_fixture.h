// StoreFixture: a test fixture parameterized over the metadata stores
// ("memory", "rocksdb") that ClusterManager tests run on. RocksDB lives in
// a temp directory named after the test and is reopened for real by
// OpenStore(); the memory store survives OpenStore() (a "reopen" keeps its
// contents). Subclasses drop whatever uses the store in ReleaseStoreUsers(),
// which TearDown calls before the store is closed.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"

namespace cairn::cluster {

class StoreFixture : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "rocksdb") {
      std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::replace(name.begin(), name.end(), '/', '_');
      dir_ = std::filesystem::temp_directory_path() /
             ("cairn_cluster_test_" + std::to_string(::getpid()) + "_" + name);
      std::filesystem::remove_all(dir_);
    }
    OpenStore();
  }
  void TearDown() override {
    ReleaseStoreUsers();
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  virtual void ReleaseStoreUsers() {}
  void OpenStore() {
    if (GetParam() == "memory") {
      if (!store_) store_ = std::make_unique<store::MemoryStore>();
      return;
    }
    store::RocksDbOptions o;
    o.dir = dir_.string();
    auto db = store::RocksDbStore::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    store_ = std::move(*db);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::KvStore> store_;
};

}  // namespace cairn::cluster

// The namespace suite, run against every store (MemoryStore, RocksDbStore).
// Every test that changes the namespace ends with CheckConsistency(), which
// scans the whole store and checks every invariant of docs/metadata.md.
#include "meta/namespace.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta/inode_allocator.h"
#include "meta/keys.h"
#include "meta/names.h"
#include "meta/namespace_fixture.h"
#include "meta/ops/ops.h"
#include "store/memory_store.h"
#include "store/rocksdb_store.h"

namespace cairn::meta {
namespace {

INSTANTIATE_TEST_SUITE_P(Stores, NamespaceTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

// ---- Open, root, ids ----

TEST_P(NamespaceTest, OpenCreatesRoot) {
  auto root = ns_->GetAttr(R(kRootInode));
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(root->ino(), 1u);
  EXPECT_EQ(root->type(), proto::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(root->mode(), 0755u);
  EXPECT_EQ(root->nlink(), 2u);
  EXPECT_EQ(root->parent(), 1u);
  EXPECT_EQ(root->ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/").ino(), 1u);
  EXPECT_EQ(Files(), 1u);
  // Opening again keeps what is there.
  Mkdir("/", "a");
  clock_.Advance(1000);
  Restart();
  EXPECT_EQ(Attr("/").ctime_ns(), root->ctime_ns());  // not created again
  EXPECT_TRUE(Exists("/a"));
  CheckConsistency();
}

TEST_P(NamespaceTest, FirstIdIsTwoAndBadRefs) {
  EXPECT_EQ(Mkdir("/", "a").ino(), 2u);
  EXPECT_EQ(Create("/", "b").ino(), 3u);
  EXPECT_EQ(E(ns_->GetAttr(R(InodeId()))), Errc::kInvalid);
  EXPECT_EQ(E(ns_->GetAttr(R(InodeId(999999)))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Mkdir(R(InodeId()), "x", 0755, kUser)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Mkdir(R(InodeId(999999)), "x", 0755, kUser)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->GetAttr(P("relative"))), Errc::kInvalid);
  CheckConsistency();
}

TEST_P(NamespaceTest, OpenRefusesUnknownFormat) {
  auto txn = store_->Begin();
  txn->Put(keys::System(keys::kFormatVersion), "999");
  ASSERT_TRUE(txn->Commit({}).ok());
  EXPECT_EQ(E(Namespace::Open(store_.get(), options_, &clock_)), Errc::kNotSupported);
}

// Counts the reads and writes of every transaction of a wrapped store.
class CountingStore final : public store::KvStore {
 public:
  explicit CountingStore(store::KvStore* base) : base_(base) {}
  struct Counts {
    int gets = 0, scans = 0, puts = 0, deletes = 0;
  };
  std::unique_ptr<store::Txn> Begin() override {
    return std::make_unique<CountingTxn>(base_->Begin(), &counts);
  }
  std::unique_ptr<store::Reader> NewReader() override {
    return std::make_unique<CountingReader>(base_->NewReader(), &counts);
  }
  absl::Status Sync() override { return base_->Sync(); }
  std::string_view Name() const override { return "counting"; }
  Counts counts;

 private:
  class CountingReader final : public store::Reader {
   public:
    CountingReader(std::unique_ptr<store::Reader> base, Counts* counts)
        : base_(std::move(base)), counts_(counts) {}
    absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
      counts_->gets++;
      return base_->Get(key);
    }
    absl::StatusOr<std::vector<store::KeyValue>> Scan(std::string_view b, std::string_view e,
                                                      size_t limit) override {
      counts_->scans++;
      return base_->Scan(b, e, limit);
    }

   private:
    std::unique_ptr<store::Reader> base_;
    Counts* counts_;
  };
  class CountingTxn final : public store::Txn {
   public:
    CountingTxn(std::unique_ptr<store::Txn> base, Counts* counts)
        : base_(std::move(base)), counts_(counts) {}
    absl::StatusOr<std::optional<std::string>> Get(std::string_view key) override {
      counts_->gets++;
      return base_->Get(key);
    }
    absl::StatusOr<std::vector<store::KeyValue>> Scan(std::string_view b, std::string_view e,
                                                      size_t limit) override {
      counts_->scans++;
      return base_->Scan(b, e, limit);
    }
    void Put(std::string_view k, std::string_view v) override {
      counts_->puts++;
      base_->Put(k, v);
    }
    void Delete(std::string_view k) override {
      counts_->deletes++;
      base_->Delete(k);
    }
    absl::Status Commit(const store::CommitOptions& o) override { return base_->Commit(o); }

   private:
    std::unique_ptr<store::Txn> base_;
    Counts* counts_;
  };
  store::KvStore* base_;
};

TEST_P(NamespaceTest, TransactionsStaySmall) {
  CountingStore counting(store_.get());
  auto ns = Namespace::Open(&counting, options_, &clock_);
  ASSERT_TRUE(ns.ok());
  auto d = (*ns)->Mkdir(R(kRootInode), "d", 0755, kUser);
  ASSERT_TRUE(d.ok());
  (void)(*ns)->Create(R(*d), "warm-up", 0644, true, kUser);  // reserves an id batch
  counting.counts = {};
  auto f = (*ns)->Create(R(*d), "f", 0644, true, kUser);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(counting.counts.gets, 3);  // parent, entry, counter shard
  EXPECT_EQ(counting.counts.puts, 4);  // inode, entry, parent, counter shard
  EXPECT_EQ(counting.counts.scans, 0);
  counting.counts = {};
  ASSERT_TRUE((*ns)->GetAttr(R(*f)).ok());
  EXPECT_EQ(counting.counts.gets, 1);
  counting.counts = {};
  ASSERT_TRUE((*ns)->GetAttr(P("/d/f")).ok());
  EXPECT_EQ(counting.counts.gets, 3);  // two entries, one inode
  counting.counts = {};
  ASSERT_TRUE((*ns)->Lookup(R(*d), "f").ok());
  EXPECT_EQ(counting.counts.gets, 2);  // entry, child
  counting.counts = {};
  ASSERT_TRUE((*ns)->Unlink(R(*d), "f").ok());
  EXPECT_EQ(counting.counts.gets, 4);   // parent, entry, child, counter shard
  EXPECT_EQ(counting.counts.scans, 0);  // no xattrs: no scan
  counting.counts = {};
  ASSERT_TRUE((*ns)->Readdir(R(*d), "", 100, false).ok());
  EXPECT_EQ(counting.counts.gets, 1);
  EXPECT_EQ(counting.counts.scans, 1);
}

TEST_P(NamespaceTest, InodeIdsNeverReusedAcrossRestarts) {
  options_.inode_batch = 5;
  Restart();
  std::set<uint64_t> seen;
  uint64_t max_seen = 0;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 7; ++i) {
      auto rec = Create("/", "f" + std::to_string(round) + "_" + std::to_string(i));
      EXPECT_GT(rec.ino(), max_seen) << "id reused or not increasing";
      EXPECT_TRUE(seen.insert(rec.ino()).second);
      max_seen = rec.ino();
    }
    // Deleting files does not give their ids back.
    ASSERT_TRUE(ns_->Unlink(P("/"), "f" + std::to_string(round) + "_6").ok());
    Restart();
  }
  CheckConsistency();
}

TEST_P(NamespaceTest, AllocatorReservesBatchesDurably) {
  InodeAllocator a(store_.get(), 10, {});
  InodeAllocator b(store_.get(), 10, {});  // a second server on the same store
  std::set<uint64_t> ids;
  for (int i = 0; i < 35; ++i) {
    auto x = a.Allocate();
    auto y = b.Allocate();
    ASSERT_TRUE(x.ok() && y.ok());
    EXPECT_TRUE(ids.insert(x->value()).second);
    EXPECT_TRUE(ids.insert(y->value()).second);
  }
  auto txn = store_->Begin();
  auto next = txn->Get(keys::System(keys::kNextInode));
  ASSERT_TRUE(next.ok() && next->has_value());
  EXPECT_GT(*keys::DecodeU64(**next), *ids.rbegin());
}

// ---- Names and paths ----

TEST_P(NamespaceTest, NameValidation) {
  for (auto op : {0, 1, 2, 3}) {
    auto run = [&](std::string_view name) -> absl::Status {
      switch (op) {
        case 0:
          return ns_->Mkdir(P("/"), name, 0755, kUser).status();
        case 1:
          return ns_->Create(P("/"), name, 0644, false, kUser).status();
        case 2:
          return ns_->Symlink(P("/"), name, "t", kUser).status();
        default:
          return ns_->Rename(P("/"), "src", P("/"), name, 0);
      }
    };
    if (op == 3) Create("/", "src");
    EXPECT_EQ(E(run("a/b")), Errc::kInvalid) << op;
    EXPECT_EQ(E(run(std::string("a\0b", 3))), Errc::kInvalid) << op;
    EXPECT_EQ(E(run(".")), Errc::kInvalid) << op;
    EXPECT_EQ(E(run("..")), Errc::kInvalid) << op;
    EXPECT_EQ(E(run("")), Errc::kInvalid) << op;
    EXPECT_EQ(E(run(std::string(256, 'n'))), Errc::kNameTooLong) << op;
    std::string longest(255, static_cast<char>('a' + op));
    EXPECT_TRUE(run(longest).ok()) << op;
    EXPECT_TRUE(Exists("/" + longest)) << op;
  }
  EXPECT_EQ(E(ns_->Lookup(P("/"), "a/b")), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Unlink(P("/"), std::string("x\0", 2))), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Link(P("/src"), P("/"), std::string(256, 'l'))), Errc::kNameTooLong);
  CheckConsistency();
}

TEST_P(NamespaceTest, PathLimits) {
  // Depth: 1024 components resolve, 1025 do not.
  std::string path;
  InodeId parent = kRootInode;
  for (size_t i = 0; i < kMaxPathDepth; ++i) {
    auto rec = ns_->Mkdir(R(parent), "d", 0755, kUser);
    ASSERT_TRUE(rec.ok()) << rec.status();
    parent = InodeId(rec->ino());
    path += "/d";
  }
  EXPECT_EQ(Attr(path).ino(), parent.value());
  EXPECT_EQ(E(ns_->GetAttr(P(path + "/d"))), Errc::kLoop);
  // Length: a 4097-byte path is refused before any lookup.
  EXPECT_EQ(E(ns_->GetAttr(P("/" + std::string(4096, 'x')))), Errc::kNameTooLong);
  EXPECT_EQ(E(ns_->GetAttr(P("/" + std::string(256, 'x')))), Errc::kNameTooLong);
  EXPECT_EQ(E(ns_->GetAttr(P("/" + std::string(255, 'x')))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->GetAttr(P("/a/../b"))), Errc::kInvalid);
  EXPECT_EQ(E(ns_->GetAttr(P(std::string("/a\0", 3)))), Errc::kInvalid);
}

TEST_P(NamespaceTest, PathResolution) {
  auto a = Mkdir("/", "a");
  auto b = Mkdir("/a", "b");
  auto f = Create("/a/b", "f");
  EXPECT_EQ(Attr("/a//b/f/").ino(), f.ino());
  EXPECT_EQ(E(ns_->GetAttr(P("/a/x"))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->GetAttr(P("/a/b/f/g"))), Errc::kNotDir);
  EXPECT_EQ(E(ns_->GetAttr(P("/a/b/f/g/h"))), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Mkdir(P("/a/b/f"), "x", 0755, kUser)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Mkdir(P("/nope"), "x", 0755, kUser)), Errc::kNotFound);

  // Symlinks in the middle are followed: absolute, relative, with "..".
  ASSERT_TRUE(ns_->Symlink(P("/"), "abs", "/a/b", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/a"), "rel", "b", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/a/b"), "up", "../../a/./b/", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "root", "/", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "dotdot", "..", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "chain", "abs", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "dangling", "/missing", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "tofile", "/a/b/f", kUser).ok());
  EXPECT_EQ(Attr("/abs/f").ino(), f.ino());
  EXPECT_EQ(Attr("/a/rel/f").ino(), f.ino());
  EXPECT_EQ(Attr("/a/b/up/f").ino(), f.ino());
  EXPECT_EQ(Attr("/root/a/b/f").ino(), f.ino());
  EXPECT_EQ(Attr("/dotdot/a").ino(), a.ino());
  EXPECT_EQ(Attr("/chain/up/up/f").ino(), f.ino());
  EXPECT_EQ(E(ns_->GetAttr(P("/dangling/x"))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->GetAttr(P("/tofile/x"))), Errc::kNotDir);
  // The last component is not followed for a target...
  EXPECT_EQ(Attr("/abs").type(), proto::FILE_TYPE_SYMLINK);
  EXPECT_EQ(Attr("/a/rel").type(), proto::FILE_TYPE_SYMLINK);
  EXPECT_EQ(*ns_->Readlink(P("/chain")), "abs");
  // ...but is for the directory an operation works in.
  auto g = ns_->Create(P("/chain"), "g", 0644, true, kUser);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(ns_->Lookup(P("/a/b"), "g")->ino(), g->ino());
  EXPECT_EQ(ns_->Lookup(P("/abs"), "g")->ino(), g->ino());
  EXPECT_EQ(ns_->Readdir(P("/abs"), "", 0, false)->entries.size(), 3u);  // f, g, up
  EXPECT_EQ(E(ns_->Mkdir(P("/tofile"), "x", 0755, kUser)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Mkdir(P("/dangling"), "x", 0755, kUser)), Errc::kNotFound);
  (void)b;
  CheckConsistency();
}

TEST_P(NamespaceTest, SymlinkLoops) {
  ASSERT_TRUE(ns_->Symlink(P("/"), "self", "self", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "x", "/y", kUser).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "y", "x", kUser).ok());
  EXPECT_EQ(E(ns_->GetAttr(P("/self/a"))), Errc::kLoop);
  EXPECT_EQ(E(ns_->GetAttr(P("/x/a"))), Errc::kLoop);
  EXPECT_EQ(E(ns_->Mkdir(P("/x"), "a", 0755, kUser)), Errc::kLoop);
  EXPECT_EQ(Attr("/self").type(), proto::FILE_TYPE_SYMLINK);  // lstat is fine
  // A chain of exactly kMaxSymlinkFollows links resolves; one more does not.
  Mkdir("/", "d");
  ASSERT_TRUE(ns_->Symlink(P("/"), "l0", "/d", kUser).ok());
  for (int i = 1; i <= kMaxSymlinkFollows; ++i) {
    ASSERT_TRUE(
        ns_->Symlink(P("/"), "l" + std::to_string(i), "l" + std::to_string(i - 1), kUser).ok());
  }
  EXPECT_EQ(E(ns_->Lookup(P("/l" + std::to_string(kMaxSymlinkFollows - 1)), "z")), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Lookup(P("/l" + std::to_string(kMaxSymlinkFollows)), "z")), Errc::kLoop);
  CheckConsistency();
}

// ---- Lookup, getattr, setattr ----

TEST_P(NamespaceTest, Lookup) {
  auto a = Mkdir("/", "a");
  auto f = Create("/a", "f");
  EXPECT_EQ(ns_->Lookup(P("/a"), "f")->ino(), f.ino());
  EXPECT_EQ(ns_->Lookup(R(a), "f")->ino(), f.ino());
  EXPECT_EQ(ns_->Lookup(R(a), ".")->ino(), a.ino());
  EXPECT_EQ(ns_->Lookup(R(a), "..")->ino(), 1u);
  EXPECT_EQ(ns_->Lookup(R(kRootInode), "..")->ino(), 1u);
  EXPECT_EQ(E(ns_->Lookup(R(a), "nope")), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Lookup(R(f), "x")), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Lookup(R(f), "..")), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Lookup(R(InodeId(12345)), "x")), Errc::kNotFound);
}

TEST_P(NamespaceTest, SetAttr) {
  auto f = Create("/", "f", 0644);
  const int64_t t0 = clock_.NowNanos();
  EXPECT_EQ(f.atime_ns(), t0);
  EXPECT_EQ(f.crtime_ns(), t0);
  clock_.Advance(1'000'000);
  const int64_t t1 = clock_.NowNanos();

  SetAttrArgs args;
  args.mode = 0100600 | 04000;  // type bits are dropped
  args.uid = 7;
  args.gid = 8;
  auto r = ns_->SetAttr(P("/f"), args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->mode(), 04600u);
  EXPECT_EQ(r->uid(), 7u);
  EXPECT_EQ(r->gid(), 8u);
  EXPECT_EQ(r->ctime_ns(), t1);
  EXPECT_EQ(r->mtime_ns(), t0);
  EXPECT_EQ(Attr("/f").mode(), 04600u);

  clock_.Advance(1'000'000);
  const int64_t t2 = clock_.NowNanos();
  args = {};
  args.size = 12345;
  r = ns_->SetAttr(R(f), args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->size(), 12345u);
  EXPECT_EQ(r->mtime_ns(), t2);
  EXPECT_EQ(r->ctime_ns(), t2);

  args = {};
  args.atime_ns = 111;
  args.mtime_ns = kTimeNow;
  clock_.Advance(5);
  r = ns_->SetAttr(R(f), args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->atime_ns(), 111);
  EXPECT_EQ(r->mtime_ns(), t2 + 5);
  args = {};
  args.atime_ns = kTimeNow;
  args.mtime_ns = 222;
  args.size = 0;  // truncation with an explicit mtime keeps that mtime
  r = ns_->SetAttr(R(f), args);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->atime_ns(), t2 + 5);
  EXPECT_EQ(r->mtime_ns(), 222);
  EXPECT_EQ(r->size(), 0u);

  // Nothing asked: nothing changes, not even ctime.
  clock_.Advance(5);
  r = ns_->SetAttr(R(f), SetAttrArgs{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ctime_ns(), t2 + 5);

  args = {};
  args.size = 1;
  Mkdir("/", "d");
  ASSERT_TRUE(ns_->Symlink(P("/"), "l", "f", kUser).ok());
  EXPECT_EQ(E(ns_->SetAttr(P("/d"), args)), Errc::kIsDir);
  EXPECT_EQ(E(ns_->SetAttr(P("/l"), args)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->SetAttr(P("/nope"), args)), Errc::kNotFound);
  args = {};
  args.mode = 0700;
  EXPECT_EQ(ns_->SetAttr(P("/d"), args)->mode(), 0700u);
  EXPECT_EQ(Attr("/d").type(), proto::FILE_TYPE_DIRECTORY);
  CheckConsistency();
}

// ---- mkdir, create, symlink ----

TEST_P(NamespaceTest, MkdirAttributesAndParent) {
  const int64_t t0 = clock_.NowNanos();
  clock_.Advance(1000);
  auto a = ns_->Mkdir(P("/"), "a", 040750, Caller{5, 6});
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->type(), proto::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(a->mode(), 0750u);
  EXPECT_EQ(a->uid(), 5u);
  EXPECT_EQ(a->gid(), 6u);
  EXPECT_EQ(a->nlink(), 2u);
  EXPECT_EQ(a->parent(), 1u);
  EXPECT_EQ(a->entries(), 0u);
  EXPECT_EQ(a->ctime_ns(), t0 + 1000);
  auto root = Attr("/");
  EXPECT_EQ(root.nlink(), 3u);
  EXPECT_EQ(root.entries(), 1u);
  EXPECT_EQ(root.mtime_ns(), t0 + 1000);
  EXPECT_EQ(root.ctime_ns(), t0 + 1000);
  EXPECT_EQ(E(ns_->Mkdir(P("/"), "a", 0755, kUser)), Errc::kExists);
  Create("/", "f");
  EXPECT_EQ(E(ns_->Mkdir(P("/"), "f", 0755, kUser)), Errc::kExists);
  EXPECT_EQ(E(ns_->Mkdir(P("/f"), "x", 0755, kUser)), Errc::kNotDir);
  Mkdir("/a", "b");
  Mkdir("/a", "c");
  Create("/a", "g");
  EXPECT_EQ(Attr("/a").nlink(), 4u);
  EXPECT_EQ(Attr("/a").entries(), 3u);
  EXPECT_EQ(Attr("/").nlink(), 3u);
  CheckConsistency();
}

TEST_P(NamespaceTest, CreateSemantics) {
  clock_.Advance(77);
  auto f = ns_->Create(P("/"), "f", 0100640, true, Caller{3, 4});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->type(), proto::FILE_TYPE_REGULAR);
  EXPECT_EQ(f->mode(), 0640u);
  EXPECT_EQ(f->nlink(), 1u);
  EXPECT_EQ(f->size(), 0u);
  EXPECT_EQ(f->uid(), 3u);
  EXPECT_EQ(f->mtime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/").entries(), 1u);
  EXPECT_EQ(Attr("/").nlink(), 2u);
  EXPECT_EQ(Attr("/").mtime_ns(), clock_.NowNanos());
  // O_EXCL.
  EXPECT_EQ(E(ns_->Create(P("/"), "f", 0644, true, kUser)), Errc::kExists);
  // Without O_EXCL: the existing file, unchanged.
  clock_.Advance(5);
  auto again = ns_->Create(P("/"), "f", 0600, false, kUser);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->ino(), f->ino());
  EXPECT_EQ(again->mode(), 0640u);
  EXPECT_EQ(Attr("/").mtime_ns(), clock_.NowNanos() - 5);
  Mkdir("/", "d");
  EXPECT_EQ(E(ns_->Create(P("/"), "d", 0644, false, kUser)), Errc::kIsDir);
  EXPECT_EQ(E(ns_->Create(P("/"), "d", 0644, true, kUser)), Errc::kExists);
  ASSERT_TRUE(ns_->Symlink(P("/"), "l", "f", kUser).ok());
  EXPECT_EQ(E(ns_->Create(P("/"), "l", 0644, false, kUser)), Errc::kExists);
  EXPECT_EQ(E(ns_->Create(P("/f"), "x", 0644, false, kUser)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Create(P("/nope"), "x", 0644, false, kUser)), Errc::kNotFound);
  CheckConsistency();
}

TEST_P(NamespaceTest, NewInodesInheritStoragePolicy) {
  // No API sets a policy yet: write one into a directory's record directly.
  auto d = Mkdir("/", "d");
  {
    auto txn = store_->Begin();
    auto rec = ops::LoadInode(*txn, InodeId(d.ino()));
    ASSERT_TRUE(rec.ok());
    rec->mutable_policy()->set_replicas(3);
    rec->mutable_policy()->set_chunk_size(1 << 20);
    ops::StoreInode(*txn, *rec);
    ASSERT_TRUE(txn->Commit({}).ok());
  }
  auto sub = Mkdir("/d", "sub");
  auto f = Create("/d/sub", "f");
  auto l = ns_->Symlink(P("/d"), "l", "x", kUser);
  ASSERT_TRUE(l.ok());
  for (const auto& rec : {sub, f, *l}) {
    EXPECT_EQ(rec.policy().replicas(), 3u);
    EXPECT_EQ(rec.policy().chunk_size(), 1u << 20);
  }
  auto plain = Create("/", "plain");
  EXPECT_EQ(plain.policy().replicas(), 0u);
  EXPECT_EQ(plain.policy().chunk_size(), kDefaultChunkSize);    // filled in for files
  EXPECT_EQ(Mkdir("/", "plaindir").policy().chunk_size(), 0u);  // directories: as stored
  CheckConsistency();
}

TEST_P(NamespaceTest, SymlinkAndReadlink) {
  auto l = ns_->Symlink(P("/"), "l", "some/where", Caller{9, 9});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->type(), proto::FILE_TYPE_SYMLINK);
  EXPECT_EQ(l->mode(), 0777u);
  EXPECT_EQ(l->size(), 10u);
  EXPECT_EQ(l->nlink(), 1u);
  EXPECT_EQ(*ns_->Readlink(P("/l")), "some/where");
  EXPECT_EQ(*ns_->Readlink(R(*l)), "some/where");
  Create("/", "f");
  EXPECT_EQ(E(ns_->Readlink(P("/f"))), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Readlink(P("/"))), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Readlink(P("/nope"))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Symlink(P("/"), "l", "x", kUser)), Errc::kExists);
  EXPECT_EQ(E(ns_->Symlink(P("/"), "e", "", kUser)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Symlink(P("/"), "e", std::string("a\0", 2), kUser)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Symlink(P("/"), "e", std::string(4096, 'x'), kUser)), Errc::kNameTooLong);
  ASSERT_TRUE(ns_->Symlink(P("/"), "max", std::string(4095, 'x'), kUser).ok());
  EXPECT_EQ(ns_->Readlink(P("/max"))->size(), 4095u);
  EXPECT_TRUE(ns_->Unlink(P("/"), "l").ok());
  EXPECT_FALSE(Exists("/l"));
  CheckConsistency();
}

// ---- unlink, rmdir, link ----

TEST_P(NamespaceTest, Unlink) {
  Mkdir("/", "d");
  auto f = Create("/d", "f");
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.a", "1", 0).ok());
  EXPECT_EQ(Files(), 3u);
  clock_.Advance(10);
  ASSERT_TRUE(ns_->Unlink(P("/d"), "f").ok());
  EXPECT_FALSE(Exists("/d/f"));
  EXPECT_EQ(E(ns_->GetAttr(R(f))), Errc::kNotFound);
  EXPECT_TRUE(ScanAll('X').empty());
  EXPECT_EQ(Attr("/d").entries(), 0u);
  EXPECT_EQ(Attr("/d").mtime_ns(), clock_.NowNanos());
  EXPECT_EQ(Files(), 2u);
  EXPECT_EQ(E(ns_->Unlink(P("/d"), "f")), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Unlink(P("/"), "d")), Errc::kIsDir);
  EXPECT_EQ(E(ns_->Unlink(P("/nope"), "x")), Errc::kNotFound);
  CheckConsistency();
}

TEST_P(NamespaceTest, HardLinks) {
  Mkdir("/", "a");
  Mkdir("/", "b");
  auto f = Create("/a", "f");
  clock_.Advance(10);
  auto l = ns_->Link(P("/a/f"), P("/b"), "g");
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->ino(), f.ino());
  EXPECT_EQ(l->nlink(), 2u);
  EXPECT_EQ(l->ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/b/g").ino(), f.ino());
  EXPECT_EQ(Attr("/b").entries(), 1u);
  EXPECT_EQ(Attr("/b").nlink(), 2u);
  ASSERT_TRUE(ns_->Link(R(f), P("/a"), "f2").ok());
  EXPECT_EQ(Attr("/a/f").nlink(), 3u);
  EXPECT_EQ(Files(), 4u);  // root, a, b, f

  EXPECT_EQ(E(ns_->Link(P("/a"), P("/b"), "dirlink")), Errc::kPermission);
  EXPECT_EQ(E(ns_->Link(R(f), P("/b"), "g")), Errc::kExists);
  EXPECT_EQ(E(ns_->Link(R(f), P("/a/f"), "x")), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Link(P("/nope"), P("/b"), "x")), Errc::kNotFound);
  // Symlinks can be hard-linked (the link itself, not its target).
  ASSERT_TRUE(ns_->Symlink(P("/"), "s", "a", kUser).ok());
  auto sl = ns_->Link(P("/s"), P("/"), "s2");
  ASSERT_TRUE(sl.ok());
  EXPECT_EQ(sl->type(), proto::FILE_TYPE_SYMLINK);

  ASSERT_TRUE(ns_->SetXattr(R(f), "user.k", "v", 0).ok());
  ASSERT_TRUE(ns_->Unlink(P("/a"), "f").ok());
  EXPECT_EQ(Attr("/b/g").nlink(), 2u);
  ASSERT_TRUE(ns_->Unlink(P("/a"), "f2").ok());
  EXPECT_EQ(Attr("/b/g").nlink(), 1u);
  EXPECT_EQ(*ns_->GetXattr(P("/b/g"), "user.k"), "v");
  EXPECT_EQ(Files(), 5u);
  ASSERT_TRUE(ns_->Unlink(P("/b"), "g").ok());
  EXPECT_EQ(E(ns_->GetAttr(R(f))), Errc::kNotFound);
  EXPECT_EQ(Files(), 4u);
  CheckConsistency();
}

TEST_P(NamespaceTest, Rmdir) {
  Mkdir("/", "a");
  Mkdir("/a", "b");
  Create("/a", "f");
  EXPECT_EQ(Attr("/a").nlink(), 3u);
  EXPECT_EQ(E(ns_->Rmdir(P("/"), "a")), Errc::kNotEmpty);
  EXPECT_EQ(E(ns_->Rmdir(P("/a"), "f")), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Rmdir(P("/a"), "nope")), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Rmdir(P("/a"), ".")), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rmdir(P("/a"), "..")), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rmdir(P("/"), "")), Errc::kBusy);
  EXPECT_EQ(E(ns_->Rmdir(R(kRootInode), "")), Errc::kBusy);
  EXPECT_EQ(E(ns_->Rmdir(P("/a"), "")), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rmdir(P("/a/f"), "x")), Errc::kNotDir);
  ASSERT_TRUE(ns_->SetXattr(P("/a/b"), "user.x", "y", 0).ok());
  clock_.Advance(3);
  ASSERT_TRUE(ns_->Rmdir(P("/a"), "b").ok());
  EXPECT_EQ(Attr("/a").nlink(), 2u);
  EXPECT_EQ(Attr("/a").entries(), 1u);
  EXPECT_EQ(Attr("/a").mtime_ns(), clock_.NowNanos());
  EXPECT_TRUE(ScanAll('X').empty());
  ASSERT_TRUE(ns_->Unlink(P("/a"), "f").ok());
  ASSERT_TRUE(ns_->Rmdir(P("/"), "a").ok());
  EXPECT_EQ(Attr("/").nlink(), 2u);
  EXPECT_EQ(Attr("/").entries(), 0u);
  EXPECT_EQ(Files(), 1u);
  CheckConsistency();
}

// ---- rename ----

TEST_P(NamespaceTest, RenameFile) {
  Mkdir("/", "a");
  Mkdir("/", "b");
  auto f = Create("/a", "f");
  clock_.Advance(10);
  ASSERT_TRUE(ns_->Rename(P("/a"), "f", P("/a"), "g", 0).ok());
  EXPECT_FALSE(Exists("/a/f"));
  EXPECT_EQ(Attr("/a/g").ino(), f.ino());
  EXPECT_EQ(Attr("/a/g").ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/a").entries(), 1u);
  EXPECT_EQ(Attr("/a").mtime_ns(), clock_.NowNanos());
  ASSERT_TRUE(ns_->Rename(P("/a"), "g", P("/b"), "h", 0).ok());
  EXPECT_EQ(Attr("/b/h").ino(), f.ino());
  EXPECT_EQ(Attr("/a").entries(), 0u);
  EXPECT_EQ(Attr("/b").entries(), 1u);
  EXPECT_EQ(Attr("/a").nlink(), 2u);
  EXPECT_EQ(E(ns_->Rename(P("/a"), "g", P("/b"), "x", 0)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Rename(P("/nope"), "g", P("/b"), "x", 0)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Rename(P("/b"), "h", P("/nope"), "x", 0)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Rename(P("/b"), "h", P("/b/h"), "x", 0)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Rename(P("/b"), "h", P("/b"), "x", 4)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rename(P("/b"), "h", P("/b"), "x", kRenameExchange | kRenameNoReplace)),
            Errc::kInvalid);
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameReplacesFile) {
  auto f = Create("/", "f");
  auto g = Create("/", "g");
  ASSERT_TRUE(ns_->SetXattr(R(g), "user.x", "1", 0).ok());
  EXPECT_EQ(Files(), 3u);
  ASSERT_TRUE(ns_->Rename(P("/"), "f", P("/"), "g", 0).ok());
  EXPECT_EQ(Attr("/g").ino(), f.ino());
  EXPECT_EQ(E(ns_->GetAttr(R(g))), Errc::kNotFound);
  EXPECT_TRUE(ScanAll('X').empty());
  EXPECT_EQ(Files(), 2u);
  EXPECT_EQ(Attr("/").entries(), 1u);
  // Replacing one link of a hard-linked file only drops its nlink.
  auto h = Create("/", "h");
  ASSERT_TRUE(ns_->Link(R(h), P("/"), "h2").ok());
  ASSERT_TRUE(ns_->Rename(P("/"), "g", P("/"), "h", 0).ok());
  EXPECT_EQ(Attr("/h").ino(), f.ino());
  EXPECT_EQ(Attr("/h2").ino(), h.ino());
  EXPECT_EQ(Attr("/h2").nlink(), 1u);
  // A symlink replaces a file too.
  ASSERT_TRUE(ns_->Symlink(P("/"), "s", "t", kUser).ok());
  ASSERT_TRUE(ns_->Rename(P("/"), "s", P("/"), "h2", 0).ok());
  EXPECT_EQ(Attr("/h2").type(), proto::FILE_TYPE_SYMLINK);
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameDirectories) {
  Mkdir("/", "a");
  Mkdir("/", "b");
  auto d = Mkdir("/a", "d");
  Create("/a/d", "inside");
  EXPECT_EQ(Attr("/a").nlink(), 3u);
  ASSERT_TRUE(ns_->Rename(P("/a"), "d", P("/b"), "d2", 0).ok());
  EXPECT_EQ(Attr("/a").nlink(), 2u);
  EXPECT_EQ(Attr("/b").nlink(), 3u);
  EXPECT_EQ(Attr("/b/d2").parent(), Attr("/b").ino());
  EXPECT_EQ(ns_->Lookup(R(d), "..")->ino(), Attr("/b").ino());
  EXPECT_TRUE(Exists("/b/d2/inside"));
  // Onto an empty directory: replaced.
  auto empty = Mkdir("/a", "empty");
  ASSERT_TRUE(ns_->Rename(P("/b"), "d2", P("/a"), "empty", 0).ok());
  EXPECT_EQ(Attr("/a/empty").ino(), d.ino());
  EXPECT_EQ(E(ns_->GetAttr(R(empty))), Errc::kNotFound);
  EXPECT_EQ(Attr("/a").nlink(), 3u);
  EXPECT_EQ(Attr("/b").nlink(), 2u);
  EXPECT_EQ(Attr("/a").entries(), 1u);
  // Onto a non-empty directory: refused.
  Mkdir("/", "full");
  Create("/full", "x");
  EXPECT_EQ(E(ns_->Rename(P("/a"), "empty", P("/"), "full", 0)), Errc::kNotEmpty);
  // Onto an ancestor: non-empty.
  EXPECT_EQ(E(ns_->Rename(P("/a/empty"), "inside", P("/"), "a", 0)), Errc::kIsDir);
  Mkdir("/a/empty", "sub");
  EXPECT_EQ(E(ns_->Rename(P("/a/empty"), "sub", P("/"), "a", 0)), Errc::kNotEmpty);
  // Types must match.
  Create("/", "file");
  EXPECT_EQ(E(ns_->Rename(P("/"), "a", P("/"), "file", 0)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Rename(P("/"), "file", P("/"), "a", 0)), Errc::kIsDir);
  // Within one directory a directory keeps its parent and the nlink.
  ASSERT_TRUE(ns_->Rename(P("/"), "a", P("/"), "a2", 0).ok());
  EXPECT_EQ(Attr("/a2").parent(), 1u);
  EXPECT_EQ(Attr("/").nlink(), 5u);  // a2, b, full + 2
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameIntoOwnSubtree) {
  Mkdir("/", "a");
  Mkdir("/a", "b");
  Mkdir("/a/b", "c");
  EXPECT_EQ(E(ns_->Rename(P("/"), "a", P("/a"), "x", 0)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rename(P("/"), "a", P("/a/b/c"), "x", 0)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rename(P("/a"), "b", P("/a/b"), "x", 0)), Errc::kInvalid);
  // Through a symlink to a subdirectory as the destination parent, too.
  ASSERT_TRUE(ns_->Symlink(P("/"), "toc", "/a/b/c", kUser).ok());
  EXPECT_EQ(E(ns_->Rename(P("/"), "a", P("/toc"), "x", 0)), Errc::kInvalid);
  // Moving down next to itself is fine, as is moving up.
  Mkdir("/", "s");
  ASSERT_TRUE(ns_->Rename(P("/"), "s", P("/a/b/c"), "s", 0).ok());
  ASSERT_TRUE(ns_->Rename(P("/a/b/c"), "s", P("/"), "s", 0).ok());
  ASSERT_TRUE(ns_->Rename(P("/a/b"), "c", P("/"), "c", 0).ok());
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameOntoItselfOrSameInode) {
  auto f = Create("/", "f");
  ASSERT_TRUE(ns_->Link(R(f), P("/"), "g").ok());
  auto before = Attr("/");
  clock_.Advance(100);
  EXPECT_TRUE(ns_->Rename(P("/"), "f", P("/"), "f", 0).ok());
  EXPECT_TRUE(ns_->Rename(P("/"), "f", P("/"), "g", 0).ok());
  EXPECT_TRUE(ns_->Rename(P("/"), "f", P("/"), "g", kRenameExchange).ok());
  EXPECT_EQ(E(ns_->Rename(P("/"), "f", P("/"), "f", kRenameNoReplace)), Errc::kExists);
  EXPECT_EQ(E(ns_->Rename(P("/"), "f", P("/"), "g", kRenameNoReplace)), Errc::kExists);
  // Both names remain, nothing changed.
  EXPECT_EQ(Attr("/f").nlink(), 2u);
  EXPECT_EQ(Attr("/g").ino(), f.ino());
  EXPECT_EQ(Attr("/").mtime_ns(), before.mtime_ns());
  Mkdir("/", "d");
  EXPECT_TRUE(ns_->Rename(P("/"), "d", P("/"), "d", 0).ok());
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameNoReplace) {
  Create("/", "f");
  Create("/", "g");
  EXPECT_EQ(E(ns_->Rename(P("/"), "f", P("/"), "g", kRenameNoReplace)), Errc::kExists);
  EXPECT_TRUE(ns_->Rename(P("/"), "f", P("/"), "h", kRenameNoReplace).ok());
  EXPECT_TRUE(Exists("/h"));
  EXPECT_TRUE(Exists("/g"));
  EXPECT_FALSE(Exists("/f"));
  CheckConsistency();
}

TEST_P(NamespaceTest, RenameExchange) {
  Mkdir("/", "a");
  Mkdir("/", "b");
  auto d = Mkdir("/a", "d");
  Mkdir("/a/d", "inner");
  auto f = Create("/b", "f");
  clock_.Advance(50);
  // A directory and a file across directories.
  ASSERT_TRUE(ns_->Rename(P("/a"), "d", P("/b"), "f", kRenameExchange).ok());
  EXPECT_EQ(Attr("/a/d").ino(), f.ino());
  EXPECT_EQ(Attr("/b/f").ino(), d.ino());
  EXPECT_EQ(Attr("/b/f").parent(), Attr("/b").ino());
  EXPECT_EQ(Attr("/b/f").ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/a/d").ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/a").nlink(), 2u);
  EXPECT_EQ(Attr("/b").nlink(), 3u);
  EXPECT_EQ(Attr("/a").entries(), 1u);
  EXPECT_EQ(Attr("/b").entries(), 1u);
  EXPECT_TRUE(Exists("/b/f/inner"));
  // Two directories.
  auto e = Mkdir("/a", "e");
  ASSERT_TRUE(ns_->Rename(P("/a"), "e", P("/b"), "f", kRenameExchange).ok());
  EXPECT_EQ(Attr("/a/e").ino(), d.ino());
  EXPECT_EQ(Attr("/a/e").parent(), Attr("/a").ino());
  EXPECT_EQ(Attr("/b/f").ino(), e.ino());
  EXPECT_EQ(Attr("/b/f").parent(), Attr("/b").ino());
  // A non-empty directory can be exchanged (nothing is replaced).
  Mkdir("/", "x");
  ASSERT_TRUE(ns_->Rename(P("/"), "x", P("/a"), "e", kRenameExchange).ok());
  EXPECT_TRUE(Exists("/x/inner"));
  // Same directory.
  Create("/", "p");
  ASSERT_TRUE(ns_->Rename(P("/"), "p", P("/"), "x", kRenameExchange).ok());
  EXPECT_EQ(Attr("/p").type(), proto::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(Attr("/x").type(), proto::FILE_TYPE_REGULAR);
  // Both must exist.
  EXPECT_EQ(E(ns_->Rename(P("/"), "p", P("/"), "nope", kRenameExchange)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->Rename(P("/"), "nope", P("/"), "p", kRenameExchange)), Errc::kNotFound);
  // Neither may end up inside the other.
  EXPECT_EQ(E(ns_->Rename(P("/"), "p", P("/p"), "inner", kRenameExchange)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->Rename(P("/p"), "inner", P("/"), "p", kRenameExchange)), Errc::kInvalid);
  CheckConsistency();
}

// ---- readdir ----

TEST_P(NamespaceTest, ReaddirPagesInNameOrder) {
  Mkdir("/", "d");
  std::set<std::string> names;
  for (int i = 0; i < 25; ++i) {
    std::string name = "n" + std::to_string(i * 7 % 25);
    names.insert(name);
    if (i % 5 == 0) {
      Mkdir("/d", name);
    } else {
      Create("/d", name);
    }
  }
  names.insert("\xff\xff");
  Create("/d", "\xff\xff");
  EXPECT_EQ(List("/d"), std::vector<std::string>(names.begin(), names.end()));

  auto page = ns_->Readdir(P("/d"), "", 10, true);
  ASSERT_TRUE(page.ok());
  EXPECT_FALSE(page->eof);
  ASSERT_EQ(page->entries.size(), 10u);
  for (const auto& e : page->entries) {
    ASSERT_TRUE(e.attr.has_value());
    EXPECT_EQ(e.attr->ino(), e.ino.value());
    EXPECT_EQ(e.attr->type(), e.type);
    EXPECT_EQ(Attr("/d/" + e.name).ino(), e.ino.value());
  }
  // The last page ends exactly: eof with a full page.
  page = ns_->Readdir(P("/d"), *std::next(names.begin(), 15), 10, false);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->entries.size(), 10u);
  EXPECT_TRUE(page->eof);
  EXPECT_FALSE(page->entries[0].attr.has_value());
  // A cursor that is not a name works too.
  page = ns_->Readdir(P("/d"), "n2", 1000, false);
  EXPECT_EQ(page->entries.front().name, "n20");
  page = ns_->Readdir(P("/d"), "\xff\xff", 10, false);
  EXPECT_TRUE(page->entries.empty());
  EXPECT_TRUE(page->eof);
  EXPECT_TRUE(ns_->Readdir(P("/d/n0"), "", 10, false)->eof);  // empty directory
  EXPECT_EQ(E(ns_->Readdir(P("/d/n1"), "", 10, false)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->Readdir(P("/nope"), "", 10, false)), Errc::kNotFound);
}

TEST_P(NamespaceTest, ReaddirLimitIsCapped) {
  options_.readdir_max = 5;
  Restart();
  for (int i = 0; i < 12; ++i) Create("/", "f" + std::to_string(i));
  EXPECT_EQ(ns_->Readdir(P("/"), "", 0, false)->entries.size(), 5u);
  EXPECT_EQ(ns_->Readdir(P("/"), "", 100, false)->entries.size(), 5u);
  EXPECT_EQ(ns_->Readdir(P("/"), "", 3, false)->entries.size(), 3u);
}

TEST_P(NamespaceTest, ReaddirStableUnderConcurrentChanges) {
  constexpr int kStable = 2500;
  auto d = Mkdir("/", "d");
  std::vector<std::string> stable;
  for (int i = 0; i < kStable; ++i) {
    char name[16];
    std::snprintf(name, sizeof name, "s%05d", i);
    stable.push_back(name);
    ASSERT_TRUE(ns_->Create(R(d), name, 0644, true, kUser).ok());
  }
  std::atomic<bool> stop{false};
  std::atomic<int> churned{0};
  std::thread churn([&] {
    // Adds and removes other names, spread between the stable ones.
    for (int round = 0; !stop.load(); ++round) {
      for (int i = 0; i < kStable && !stop.load(); i += 37) {
        char name[24];
        std::snprintf(name, sizeof name, "s%05d-%d", (i + round) % kStable, round % 3);
        if (ns_->Create(R(d), name, 0644, true, kUser).ok()) churned++;
        if (i % 2 == 0) (void)ns_->Unlink(R(d), name);
      }
      if (round % 2 == 1) {
        // Remove what is left of this round's names.
        for (int i = 0; i < kStable; i += 37) {
          char name[24];
          std::snprintf(name, sizeof name, "s%05d-%d", (i + round) % kStable, round % 3);
          (void)ns_->Unlink(R(d), name);
        }
      }
    }
  });
  // List at least three times, and until the churn has done real work
  // while listings were running.
  for (int listing = 0; listing < 3 || churned.load() < 500; ++listing) {
    ASSERT_LT(listing, 10000);
    std::vector<std::string> seen;
    std::string after;
    bool eof = false;
    int pages = 0;
    while (!eof) {
      auto page = ns_->Readdir(R(d), after, 100, listing % 2 == 1);
      ASSERT_TRUE(page.ok()) << page.status();
      ASSERT_LE(page->entries.size(), 100u);
      for (auto& e : page->entries) seen.push_back(e.name);
      eof = page->eof;
      if (!page->entries.empty()) after = page->entries.back().name;
      ASSERT_LT(++pages, 1000);
    }
    for (size_t i = 1; i < seen.size(); ++i) {
      ASSERT_LT(seen[i - 1], seen[i]) << "out of order or duplicated";
    }
    std::vector<std::string> stable_seen;
    for (auto& name : seen) {
      if (name.size() == 6) stable_seen.push_back(name);
    }
    EXPECT_EQ(stable_seen, stable) << "listing " << listing;
  }
  stop = true;
  churn.join();
  EXPECT_GT(churned.load(), 0);
  CheckConsistency();
}

// ---- statfs ----

TEST_P(NamespaceTest, StatfsCountsFiles) {
  EXPECT_EQ(Files(), 1u);
  Mkdir("/", "a");
  Mkdir("/", "b");
  for (int i = 0; i < 10; ++i) Create("/a", "f" + std::to_string(i));
  ASSERT_TRUE(ns_->Symlink(P("/b"), "l", "x", kUser).ok());
  EXPECT_EQ(Files(), 14u);
  ASSERT_TRUE(ns_->Link(P("/a/f0"), P("/b"), "hard").ok());
  EXPECT_EQ(Files(), 14u);
  // Created in /a, removed from /b: counted right across shards.
  ASSERT_TRUE(ns_->Unlink(P("/a"), "f0").ok());
  ASSERT_TRUE(ns_->Unlink(P("/b"), "hard").ok());
  ASSERT_TRUE(ns_->Rename(P("/a"), "f1", P("/b"), "l", 0).ok());
  ASSERT_TRUE(ns_->Rename(P("/a"), "f2", P("/b"), "f2", 0).ok());
  ASSERT_TRUE(ns_->Unlink(P("/b"), "f2").ok());
  EXPECT_EQ(Files(), 11u);
  EXPECT_EQ(E(ns_->Rmdir(P("/"), "a")), Errc::kNotEmpty);
  Mkdir("/", "e");
  ASSERT_TRUE(ns_->Rmdir(P("/"), "e").ok());
  EXPECT_EQ(Files(), 11u);
  auto s = ns_->Statfs();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->total_bytes, 0u);  // no capacity_path
  EXPECT_EQ(s->name_max, 255u);
  EXPECT_GT(s->files_free, 1'000'000u);
  CheckConsistency();
}

TEST_P(NamespaceTest, StatfsCapacity) {
  options_.capacity_path = std::filesystem::temp_directory_path().string();
  Restart();
  auto s = ns_->Statfs();
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GT(s->total_bytes, 0u);
  EXPECT_LE(s->free_bytes, s->total_bytes);
  EXPECT_LE(s->avail_bytes, s->free_bytes);
  options_.capacity_path = "/nonexistent/cairn/path";
  Restart();
  EXPECT_EQ(E(ns_->Statfs()), Errc::kIo);
}

// ---- xattrs ----

TEST_P(NamespaceTest, Xattrs) {
  auto f = Create("/", "f");
  clock_.Advance(10);
  ASSERT_TRUE(ns_->SetXattr(P("/f"), "user.b", "2", 0).ok());
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.a", std::string("\0\1", 2), 0).ok());
  EXPECT_EQ(*ns_->GetXattr(R(f), "user.a"), std::string("\0\1", 2));
  EXPECT_EQ(*ns_->GetXattr(R(f), "user.b"), "2");
  EXPECT_EQ(*ns_->ListXattr(R(f)), (std::vector<std::string>{"user.a", "user.b"}));
  EXPECT_EQ(Attr("/f").ctime_ns(), clock_.NowNanos());
  EXPECT_EQ(Attr("/f").xattr_bytes(), 6u + 2 + 6 + 1);
  // Empty values are values.
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.empty", "", 0).ok());
  EXPECT_EQ(*ns_->GetXattr(R(f), "user.empty"), "");

  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.a", "x", kXattrCreate)), Errc::kExists);
  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.c", "x", kXattrReplace)), Errc::kNoAttr);
  EXPECT_TRUE(ns_->SetXattr(R(f), "user.a", "new", kXattrReplace).ok());
  EXPECT_TRUE(ns_->SetXattr(R(f), "user.c", "x", kXattrCreate).ok());
  EXPECT_EQ(*ns_->GetXattr(R(f), "user.a"), "new");
  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.a", "x", kXattrCreate | kXattrReplace)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.a", "x", 8)), Errc::kInvalid);

  EXPECT_EQ(E(ns_->GetXattr(R(f), "user.zz")), Errc::kNoAttr);
  EXPECT_EQ(E(ns_->RemoveXattr(R(f), "user.zz")), Errc::kNoAttr);
  ASSERT_TRUE(ns_->RemoveXattr(R(f), "user.b").ok());
  EXPECT_EQ(E(ns_->GetXattr(R(f), "user.b")), Errc::kNoAttr);
  EXPECT_EQ(*ns_->ListXattr(R(f)), (std::vector<std::string>{"user.a", "user.c", "user.empty"}));

  EXPECT_EQ(E(ns_->SetXattr(R(f), "bogus.a", "x", 0)), Errc::kNotSupported);
  EXPECT_EQ(E(ns_->SetXattr(R(f), "", "x", 0)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->GetXattr(R(f), "user." + std::string(251, 'n'))), Errc::kRange);
  EXPECT_EQ(E(ns_->GetXattr(P("/nope"), "user.a")), Errc::kNotFound);
  EXPECT_EQ(E(ns_->SetXattr(P("/nope"), "user.a", "x", 0)), Errc::kNotFound);
  EXPECT_EQ(E(ns_->ListXattr(P("/nope"))), Errc::kNotFound);
  EXPECT_EQ(E(ns_->RemoveXattr(P("/nope"), "user.a")), Errc::kNotFound);

  // Directories and symlinks (the link itself) have attributes too.
  ASSERT_TRUE(ns_->SetXattr(P("/"), "trusted.r", "root", 0).ok());
  ASSERT_TRUE(ns_->Symlink(P("/"), "l", "f", kUser).ok());
  ASSERT_TRUE(ns_->SetXattr(P("/l"), "user.on-link", "1", 0).ok());
  EXPECT_EQ(E(ns_->GetXattr(P("/f"), "user.on-link")), Errc::kNoAttr);
  EXPECT_TRUE(ns_->ListXattr(P("/l"))->size() == 1);
  CheckConsistency();
}

TEST_P(NamespaceTest, XattrLimits) {
  auto f = Create("/", "f");
  EXPECT_TRUE(ns_->SetXattr(R(f), "user.max", std::string(kMaxXattrValue, 'v'), 0).ok());
  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.big", std::string(kMaxXattrValue + 1, 'v'), 0)),
            Errc::kTooBig);
  // Fill up to the per-inode total, then one byte more.
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.m1", std::string(kMaxXattrValue, 'v'), 0).ok());
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.m2", std::string(kMaxXattrValue, 'v'), 0).ok());
  uint64_t used = Attr("/f").xattr_bytes();
  EXPECT_EQ(used, 3 * kMaxXattrValue + 8 + 7 + 7);
  const std::string name = "user.last";
  const size_t room = kMaxXattrBytesPerInode - used - name.size();
  EXPECT_EQ(E(ns_->SetXattr(R(f), name, std::string(room + 1, 'v'), 0)), Errc::kNoSpace);
  ASSERT_TRUE(ns_->SetXattr(R(f), name, std::string(room, 'v'), 0).ok());
  EXPECT_EQ(Attr("/f").xattr_bytes(), kMaxXattrBytesPerInode);
  EXPECT_EQ(E(ns_->SetXattr(R(f), "user.x", "", 0)), Errc::kNoSpace);
  // Replacing a value counts the old one out first.
  EXPECT_TRUE(ns_->SetXattr(R(f), name, std::string(room, 'w'), kXattrReplace).ok());
  ASSERT_TRUE(ns_->SetXattr(R(f), "user.max", "small", 0).ok());
  EXPECT_TRUE(ns_->SetXattr(R(f), "user.x", "", 0).ok());
  CheckConsistency();
}

// ---- concurrency ----

TEST_P(NamespaceTest, ConcurrentCreatesInOneDirectory) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 400;
  auto d = Mkdir("/", "d");
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r =
            ns_->Create(R(d), "t" + std::to_string(t) + "-" + std::to_string(i), 0644, true, kUser);
        if (!r.ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Attr("/d").entries(), uint64_t{kThreads * kPerThread});
  auto names = List("/d");
  EXPECT_EQ(names.size(), size_t{kThreads * kPerThread});
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; i += 97) {
      EXPECT_TRUE(Exists("/d/t" + std::to_string(t) + "-" + std::to_string(i)));
    }
  }
  EXPECT_EQ(Files(), uint64_t{kThreads * kPerThread + 2});
  CheckConsistency();
}

TEST_P(NamespaceTest, ConcurrentMixedOperationsKeepInvariants) {
  // Threads create, link, rename and remove in a few shared directories.
  for (const char* name : {"a", "b", "c"}) Mkdir("/", name);
  const char* dirs[] = {"/a", "/b", "/c"};
  std::vector<std::thread> threads;
  std::atomic<int> succeeded{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      unsigned seed = 17 * t + 1;
      auto next = [&] { return seed = seed * 1103515245 + 12345, (seed >> 16) & 0x7fff; };
      for (int i = 0; i < 400; ++i) {
        std::string dir = dirs[next() % 3], other = dirs[next() % 3];
        std::string name = "n" + std::to_string(next() % 12);
        std::string name2 = "n" + std::to_string(next() % 12);
        absl::Status s;
        switch (next() % 7) {
          case 0:
            s = ns_->Create(P(dir), name, 0644, false, kUser).status();
            break;
          case 1:
            s = ns_->Mkdir(P(dir), name, 0755, kUser).status();
            break;
          case 2:
            s = ns_->Unlink(P(dir), name);
            break;
          case 3:
            s = ns_->Rmdir(P(dir), name);
            break;
          case 4:
            s = ns_->Rename(P(dir), name, P(other), name2, 0);
            break;
          case 5:
            s = ns_->Rename(P(dir), name, P(other), name2, kRenameExchange);
            break;
          case 6:
            s = ns_->Link(P(dir + "/" + name), P(other), name2).status();
            break;
        }
        if (s.ok()) succeeded++;
        // Only POSIX outcomes; never a conflict that escaped RunTxn.
        EXPECT_NE(E(s), Errc::kConflict);
        EXPECT_NE(E(s), Errc::kCorrupt);
        EXPECT_NE(E(s), Errc::kInternal);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(succeeded.load(), 300);
  CheckConsistency();
}

TEST_P(NamespaceTest, ConcurrentRenamesNeverMakeACycle) {
  // Two threads keep trying "mv /x /y/x" and "mv /y /x/y" (and back); the
  // ancestor walk reads every ancestor with Get, so they never both win.
  for (int round = 0; round < 100; ++round) {
    auto x = Mkdir("/", "x");
    auto y = Mkdir("/", "y");
    std::thread t1([&] { (void)ns_->Rename(P("/"), "x", R(y), "x", 0); });
    std::thread t2([&] { (void)ns_->Rename(P("/"), "y", R(x), "y", 0); });
    t1.join();
    t2.join();
    // Exactly one moved; put things back and clean up.
    bool x_in_y = ns_->Lookup(R(y), "x").ok();
    bool y_in_x = ns_->Lookup(R(x), "y").ok();
    ASSERT_NE(x_in_y, y_in_x) << "round " << round;
    if (x_in_y) {
      ASSERT_TRUE(ns_->Rmdir(R(y), "x").ok());
      ASSERT_TRUE(ns_->Rmdir(P("/"), "y").ok());
    } else {
      ASSERT_TRUE(ns_->Rmdir(R(x), "y").ok());
      ASSERT_TRUE(ns_->Rmdir(P("/"), "x").ok());
    }
  }
  CheckConsistency();
}

TEST_P(NamespaceTest, RmdirRacesWithCreateInside) {
  // Either the create wins (rmdir: kNotEmpty) or the rmdir does (create:
  // kNotFound); never an entry left in a removed directory.
  for (int round = 0; round < 100; ++round) {
    auto d = Mkdir("/", "d");
    absl::Status created, removed;
    std::thread t1([&] { created = ns_->Create(R(d), "f", 0644, true, kUser).status(); });
    std::thread t2([&] { removed = ns_->Rmdir(P("/"), "d"); });
    t1.join();
    t2.join();
    ASSERT_NE(created.ok(), removed.ok()) << created << " / " << removed;
    if (created.ok()) {
      EXPECT_EQ(E(removed), Errc::kNotEmpty);
      ASSERT_TRUE(ns_->Unlink(R(d), "f").ok());
      ASSERT_TRUE(ns_->Rmdir(P("/"), "d").ok());
    } else {
      EXPECT_EQ(E(created), Errc::kNotFound);
    }
  }
  CheckConsistency();
}

TEST_P(NamespaceTest, FsyncSucceeds) {
  Create("/", "f");
  EXPECT_TRUE(ns_->Fsync().ok());
}

}  // namespace
}  // namespace cairn::meta

// File data and storage policies in the namespace: CommitWrite, GetChunks,
// truncate, the GC queue, SetPolicy/GetPolicy. Runs against every store
// with the shared fixture; every test ends with CheckConsistency().
#include <atomic>
#include <thread>

#include "meta/namespace_fixture.h"

namespace cairn::meta {
namespace {

constexpr uint64_t kCs = kMinChunkSize;  // the slot size of files in /d

class FileDataTest : public NamespaceTest {
 protected:
  void SetUp() override {
    NamespaceTest::SetUp();
    Mkdir("/", "d");
    proto::StoragePolicy small;
    small.set_chunk_size(kCs);
    ASSERT_TRUE(ns_->SetPolicy(P("/d"), small).ok());
  }

  // A distinct, valid 16-byte chunk id.
  static std::string Id(uint64_t n) { return keys::EncodeU64(0xc4a1'0000) + keys::EncodeU64(n); }
  static SlotUpdate U(uint64_t slot, std::string expected, std::string id, uint64_t length) {
    SlotUpdate u;
    u.slot = slot;
    u.expected_id = std::move(expected);
    u.chunk.set_id(std::move(id));
    u.chunk.set_length(length);
    return u;
  }
  absl::StatusOr<proto::InodeRecord> TryCommit(const proto::InodeRecord& file,
                                               std::vector<SlotUpdate> updates, uint64_t min_size,
                                               int64_t mtime_ns = 0) {
    CommitWriteArgs args;
    args.updates = std::move(updates);
    args.min_size = min_size;
    args.mtime_ns = mtime_ns;
    return ns_->CommitWrite(InodeId(file.ino()), args);
  }
  proto::InodeRecord Commit(const proto::InodeRecord& file, std::vector<SlotUpdate> updates,
                            uint64_t min_size) {
    auto r = TryCommit(file, std::move(updates), min_size);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : proto::InodeRecord();
  }
  // The whole chunk list as "id-number/length" strings ("-" for a hole).
  std::vector<std::string> Chunks(const proto::InodeRecord& file) {
    auto fc = ns_->GetChunks(R(file), 0, 0);
    EXPECT_TRUE(fc.ok()) << fc.status();
    std::vector<std::string> out;
    if (!fc.ok()) return out;
    for (const auto& ref : fc->chunks) {
      out.push_back(ref.id().empty() ? "-"
                                     : std::to_string(*keys::DecodeU64(ref.id().substr(8))) + "/" +
                                           std::to_string(ref.length()));
    }
    return out;
  }
  std::vector<GcQueueEntry> Queue() {
    auto q = ns_->ListGcQueue("", 0);
    EXPECT_TRUE(q.ok()) << q.status();
    return q.ok() ? *q : std::vector<GcQueueEntry>();
  }
  // Every queued id, as its number, in queue order.
  std::vector<uint64_t> Queued() {
    std::vector<uint64_t> out;
    for (const auto& e : Queue()) {
      for (const auto& id : e.entry.chunk_ids()) out.push_back(*keys::DecodeU64(id.substr(8)));
    }
    return out;
  }
  void ClearQueue() {
    std::vector<std::string> keys;
    for (const auto& e : Queue()) keys.push_back(e.key);
    ASSERT_TRUE(ns_->RemoveGcEntries(keys).ok());
  }
  uint64_t Size(const std::string& path) { return Attr(path).size(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, FileDataTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

using V = std::vector<std::string>;
using Q = std::vector<uint64_t>;

// ---- Policies ----

TEST_P(FileDataTest, NewFilesFixTheirChunkSize) {
  auto f = Create("/d", "f");
  EXPECT_EQ(f.policy().chunk_size(), kCs);
  EXPECT_EQ(Create("/", "g").policy().chunk_size(), kDefaultChunkSize);
  // Changing the directory's policy does not change existing files.
  proto::StoragePolicy big;
  big.set_chunk_size(kMaxChunkSize);
  big.set_replicas(2);
  ASSERT_TRUE(ns_->SetPolicy(P("/d"), big).ok());
  EXPECT_EQ(Attr("/d/f").policy().chunk_size(), kCs);
  auto fc = ns_->GetChunks(R(f), 0, 0);
  ASSERT_TRUE(fc.ok());
  EXPECT_EQ(fc->chunk_size, kCs);
  EXPECT_EQ(fc->replicas, 0u);
  auto h = Create("/d", "h");
  EXPECT_EQ(h.policy().chunk_size(), kMaxChunkSize);
  EXPECT_EQ(h.policy().replicas(), 2u);
  EXPECT_EQ(Mkdir("/d", "sub").policy().chunk_size(), kMaxChunkSize);
  auto p = ns_->GetPolicy(P("/d/h"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->replicas(), 2u);
  // Directories below the root copy the stored (zero) policy.
  proto::StoragePolicy defaults;
  ASSERT_TRUE(ns_->SetPolicy(P("/d"), defaults).ok());
  EXPECT_EQ(Mkdir("/d", "sub2").policy().chunk_size(), 0u);
  EXPECT_EQ(Create("/d", "k").policy().chunk_size(), kDefaultChunkSize);
  CheckConsistency();
}

TEST_P(FileDataTest, SetPolicyValidation) {
  Create("/d", "f");
  ASSERT_TRUE(ns_->Symlink(P("/"), "link", "/d", kUser).ok());
  proto::StoragePolicy p;
  p.set_replicas(3);
  EXPECT_EQ(E(ns_->SetPolicy(P("/d/f"), p)), Errc::kNotDir);
  EXPECT_EQ(E(ns_->SetPolicy(P("/nope"), p)), Errc::kNotFound);
  ASSERT_TRUE(ns_->SetPolicy(P("/link"), p).ok());  // follows the symlink
  EXPECT_EQ(ns_->GetPolicy(P("/d"))->replicas(), 3u);
  for (uint64_t bad : {uint64_t{1}, kMinChunkSize / 2, kMinChunkSize + 1, kMaxChunkSize * 2,
                       uint64_t{3} << 20, ~uint64_t{0}}) {
    p.set_chunk_size(bad);
    auto r = ns_->SetPolicy(P("/d"), p);
    EXPECT_EQ(E(r), Errc::kInvalid) << bad;
    EXPECT_NE(r.status().message().find("power of two"), absl::string_view::npos);
  }
  for (uint64_t good : {uint64_t{0}, kMinChunkSize, uint64_t{1} << 20, kMaxChunkSize}) {
    p.set_chunk_size(good);
    EXPECT_TRUE(ns_->SetPolicy(P("/d"), p).ok()) << good;
  }
  p.set_replicas(kMaxReplicas + 1);
  EXPECT_EQ(E(ns_->SetPolicy(P("/d"), p)), Errc::kInvalid);
  p.set_replicas(kMaxReplicas);
  EXPECT_TRUE(ns_->SetPolicy(P("/d"), p).ok());
  EXPECT_EQ(ns_->GetPolicy(P("/d"))->chunk_size(), kMaxChunkSize);
  EXPECT_EQ(ns_->GetPolicy(P("/d/f"))->chunk_size(), kCs);
  EXPECT_EQ(E(ns_->GetPolicy(P("/nope"))), Errc::kNotFound);
  CheckConsistency();
}

// ---- CommitWrite and GetChunks ----

TEST_P(FileDataTest, CommitWriteFillsSlotsAndHoles) {
  auto f = Create("/d", "f");
  clock_.Advance(1000);
  const int64_t t1 = clock_.NowNanos();
  auto r = Commit(f, {U(0, "", Id(1), 100)}, 100);
  EXPECT_EQ(r.size(), 100u);
  EXPECT_EQ(r.mtime_ns(), t1);
  EXPECT_EQ(r.ctime_ns(), t1);
  EXPECT_EQ(Chunks(f), (V{"1/100"}));

  // Slot 3 past the end: slots 1 and 2 become holes.
  r = Commit(f, {U(3, "", Id(2), 10)}, 3 * kCs + 10);
  EXPECT_EQ(r.size(), 3 * kCs + 10);
  EXPECT_EQ(Chunks(f), (V{"1/100", "-", "-", "2/10"}));
  // A hole is filled with expected id empty; a smaller min_size keeps the size.
  Commit(f, {U(1, "", Id(3), kCs)}, 2 * kCs);
  EXPECT_EQ(Size("/d/f"), 3 * kCs + 10);
  EXPECT_EQ(Chunks(f), (V{"1/100", "3/65536", "-", "2/10"}));

  // Pages.
  auto page = ns_->GetChunks(R(f), 1, 2);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->first_slot, 1u);
  ASSERT_EQ(page->chunks.size(), 2u);
  EXPECT_EQ(page->chunks[0].id(), Id(3));
  EXPECT_TRUE(page->chunks[1].id().empty());
  EXPECT_EQ(page->attr.size(), 3 * kCs + 10);
  EXPECT_EQ(page->attr.chunks_size(), 0);  // the list is in `chunks` only
  page = ns_->GetChunks(R(f), 4, 0);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->chunks.empty());
  page = ns_->GetChunks(R(f), ~uint64_t{0}, ~uint32_t{0});
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->chunks.empty());

  // An explicit mtime; ctime is always now.
  clock_.Advance(1000);
  auto t = TryCommit(f, {}, 0, 777);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->mtime_ns(), 777);
  EXPECT_EQ(t->ctime_ns(), clock_.NowNanos());
  // Only a size.
  EXPECT_EQ(Commit(f, {}, kMaxFileSize).size(), kMaxFileSize);
  EXPECT_TRUE(Queue().empty());  // nothing was replaced
  CheckConsistency();
}

TEST_P(FileDataTest, ReplacingReleasesOldIdsOnly) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), kCs), U(1, "", Id(2), kCs), U(2, "", Id(3), 5)}, 2 * kCs + 5);
  // Same id again (a repeated commit): still referenced, nothing queued.
  Commit(f, {U(2, Id(3), Id(3), 5)}, 2 * kCs + 9);
  EXPECT_TRUE(Queue().empty());
  // Replace two slots: exactly their old ids are queued, in one entry.
  clock_.Advance(10);
  Commit(f, {U(0, Id(1), Id(11), kCs), U(2, Id(3), Id(13), 9)}, 0);
  auto q = Queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].entry.ino(), f.ino());
  EXPECT_EQ(q[0].entry.queued_ns(), clock_.NowNanos());
  EXPECT_EQ(Queued(), (Q{1, 3}));
  // Swapping two ids between slots releases nothing: both stay referenced.
  Commit(f, {U(0, Id(11), Id(2), kCs), U(1, Id(2), Id(11), kCs)}, 0);
  EXPECT_EQ(Queued(), (Q{1, 3}));
  EXPECT_EQ(Chunks(f), (V{"2/65536", "11/65536", "13/9"}));
  CheckConsistency();
}

TEST_P(FileDataTest, ExpectedIdMismatchIsAConflictAndChangesNothing) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), 10), U(2, "", Id(2), 10)}, 2 * kCs + 10);
  const auto before = Attr("/d/f");
  clock_.Advance(5);
  struct Case {
    std::vector<SlotUpdate> updates;
    std::string message;
  };
  const Case cases[] = {
      {{U(0, Id(9), Id(3), 10)}, "slot 0 of inode " + std::to_string(f.ino()) + " changed"},
      {{U(0, "", Id(3), 10)}, "slot 0"},                          // expects a hole, holds a chunk
      {{U(1, Id(1), Id(3), 10)}, "slot 1"},                       // a hole, expected a chunk
      {{U(5, Id(1), Id(3), 10)}, "slot 5"},                       // past the end: a hole
      {{U(1, "", Id(4), 10), U(2, Id(9), Id(3), 10)}, "slot 2"},  // one bad: none applied
  };
  for (const Case& c : cases) {
    auto r = TryCommit(f, c.updates, 100 * kCs);
    EXPECT_EQ(E(r), Errc::kConflict);
    EXPECT_NE(r.status().message().find(c.message), absl::string_view::npos) << r.status();
  }
  auto after = Attr("/d/f");
  EXPECT_EQ(after.SerializeAsString(), before.SerializeAsString());
  EXPECT_EQ(Chunks(f), (V{"1/10", "-", "2/10"}));
  EXPECT_TRUE(Queue().empty());
  CheckConsistency();
}

// A store that counts transactions begun.
class BeginCounter final : public store::KvStore {
 public:
  explicit BeginCounter(store::KvStore* base) : base_(base) {}
  std::unique_ptr<store::Txn> Begin() override {
    begun++;
    return base_->Begin();
  }
  std::unique_ptr<store::Reader> NewReader() override { return base_->NewReader(); }
  absl::Status Sync() override { return base_->Sync(); }
  std::string_view Name() const override { return "begin-counter"; }
  std::atomic<int> begun{0};

 private:
  store::KvStore* base_;
};

TEST_P(FileDataTest, ExpectedIdMismatchIsNotRetried) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), 10)}, 10);
  BeginCounter counting(store_.get());
  auto ns = Namespace::Open(&counting, options_, &clock_);
  ASSERT_TRUE(ns.ok());
  counting.begun = 0;
  CommitWriteArgs args;
  args.updates = {U(0, Id(2), Id(3), 10)};
  EXPECT_EQ(E((*ns)->CommitWrite(InodeId(f.ino()), args)), Errc::kConflict);
  EXPECT_EQ(counting.begun.load(), 1);
}

TEST_P(FileDataTest, CommitWriteValidation) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), 10)}, 10);
  const std::string before = Attr("/d/f").SerializeAsString();
  const std::string zero(16, '\0');
  std::vector<SlotUpdate> too_many;
  for (uint64_t i = 0; i <= kMaxSlotUpdates; ++i) too_many.push_back(U(i + 1, "", Id(100 + i), 1));
  const std::vector<std::vector<SlotUpdate>> bad = {
      {U(1, "", Id(2), 1), U(1, "", Id(3), 1)},  // a slot twice
      {U(1, "", Id(2).substr(1), 1)},            // 15-byte id
      {U(1, "", Id(2) + "x", 1)},                // 17-byte id
      {U(1, "", "", 1)},                         // no id
      {U(1, "", zero, 1)},                       // the zero id
      {U(1, "short", Id(2), 1)},                 // bad expected id
      {U(1, zero, Id(2), 1)},                    // zero expected id
      {U(1, "", Id(2), 0)},                      // empty chunk
      {U(1, "", Id(2), kCs + 1)},                // longer than a slot
      {U(~uint64_t{0}, "", Id(2), 1)},           // slot * chunk_size overflows
      {U(kMaxFileSize / kCs, "", Id(2), 1)},     // past the largest file
      {U(kMaxSlots, "", Id(2), 1)},              // past the largest list
      {U(0, Id(1), Id(1), 11)},                  // the listed chunk with another length
      too_many,
  };
  for (size_t i = 0; i < bad.size(); ++i) {
    EXPECT_EQ(E(TryCommit(f, bad[i], 0)), Errc::kInvalid) << "case " << i;
  }
  EXPECT_EQ(E(TryCommit(f, {}, kMaxFileSize + 1)), Errc::kInvalid);
  EXPECT_EQ(Attr("/d/f").SerializeAsString(), before);
  // The listed chunk with its own length: a harmless repeat.
  ASSERT_TRUE(TryCommit(f, {U(0, Id(1), Id(1), 10)}, 10).ok());
  EXPECT_EQ(Chunks(f), (V{"1/10"}));
  EXPECT_TRUE(Queued().empty());

  Mkdir("/d", "sub");
  ASSERT_TRUE(ns_->Symlink(P("/d"), "l", "f", kUser).ok());
  const auto ok_update = std::vector<SlotUpdate>{U(0, "", Id(5), 1)};
  EXPECT_EQ(E(TryCommit(Attr("/d/sub"), ok_update, 0)), Errc::kIsDir);
  EXPECT_EQ(E(TryCommit(Attr("/d/l"), ok_update, 0)), Errc::kInvalid);
  proto::InodeRecord gone;
  gone.set_ino(999999);
  EXPECT_EQ(E(TryCommit(gone, ok_update, 0)), Errc::kNotFound);
  gone.set_ino(0);
  EXPECT_EQ(E(TryCommit(gone, ok_update, 0)), Errc::kInvalid);
  EXPECT_EQ(E(ns_->GetChunks(P("/d/sub"), 0, 0)), Errc::kIsDir);
  EXPECT_EQ(E(ns_->GetChunks(P("/nope"), 0, 0)), Errc::kNotFound);
  // GetChunks follows a symlink, as open(2) does.
  auto via_link = ns_->GetChunks(P("/d/l"), 0, 0);
  ASSERT_TRUE(via_link.ok()) << via_link.status();
  EXPECT_EQ(via_link->attr.ino(), f.ino());

  // The largest slot and the most updates that are allowed.
  std::vector<SlotUpdate> most;
  for (uint64_t i = 0; i < kMaxSlotUpdates; ++i) most.push_back(U(i + 1, "", Id(100 + i), 1));
  ASSERT_TRUE(TryCommit(f, most, 0).ok());
  ASSERT_TRUE(TryCommit(f, {U(kMaxSlots - 1, "", Id(50), kCs)}, kMaxSlots * kCs).ok());
  EXPECT_EQ(Size("/d/f"), kMaxSlots * kCs);
  CheckConsistency();
}

TEST_P(FileDataTest, ChunksNeverExtendPastTheSize) {
  auto f = Create("/d", "f");
  // min_size below the chunk's end: the chunk is cut to end at the size.
  Commit(f, {U(0, "", Id(1), kCs)}, 1000);
  EXPECT_EQ(Chunks(f), (V{"1/1000"}));
  // A chunk starting past the size is dropped and queued at once.
  Commit(f, {U(3, "", Id(2), 10)}, 0);
  EXPECT_EQ(Chunks(f), (V{"1/1000"}));
  EXPECT_EQ(Queued(), (Q{2}));
  CheckConsistency();
}

// ---- Truncate ----

TEST_P(FileDataTest, TruncateDownReleasesAndTrims) {
  auto f = Create("/d", "f");
  Commit(f,
         {U(0, "", Id(1), kCs), U(1, "", Id(2), kCs), U(2, "", Id(3), kCs), U(3, "", Id(4), kCs)},
         4 * kCs);
  SetAttrArgs args;
  args.size = kCs + 100;  // inside slot 1
  clock_.Advance(10);
  auto r = ns_->SetAttr(R(f), args);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->size(), kCs + 100);
  EXPECT_EQ(Chunks(f), (V{"1/65536", "2/100"}));
  auto q = Queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].entry.queued_ns(), clock_.NowNanos());
  EXPECT_EQ(Queued(), (Q{3, 4}));

  // Growing changes only the size; the cut chunk reads zeros past 100.
  args.size = 10 * kCs;
  ASSERT_TRUE(ns_->SetAttr(R(f), args).ok());
  EXPECT_EQ(Size("/d/f"), 10 * kCs);
  EXPECT_EQ(Chunks(f), (V{"1/65536", "2/100"}));
  EXPECT_EQ(Queued(), (Q{3, 4}));

  // Exactly at a slot boundary: the slot starting there goes.
  ClearQueue();
  args.size = kCs;
  ASSERT_TRUE(ns_->SetAttr(R(f), args).ok());
  EXPECT_EQ(Chunks(f), (V{"1/65536"}));
  EXPECT_EQ(Queued(), (Q{2}));
  args.size = 0;
  ASSERT_TRUE(ns_->SetAttr(R(f), args).ok());
  EXPECT_TRUE(Chunks(f).empty());
  EXPECT_EQ(Queued(), (Q{2, 1}));
  // Nothing left to release: no new entry.
  ASSERT_TRUE(ns_->SetAttr(R(f), args).ok());
  EXPECT_EQ(Queue().size(), 2u);
  args.size = kMaxFileSize + 1;
  EXPECT_EQ(E(ns_->SetAttr(R(f), args)), Errc::kInvalid);
  CheckConsistency();
}

TEST_P(FileDataTest, TruncateDropsTrailingHoles) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), kCs), U(5, "", Id(2), 7)}, 5 * kCs + 7);
  EXPECT_EQ(Chunks(f), (V{"1/65536", "-", "-", "-", "-", "2/7"}));
  SetAttrArgs args;
  args.size = 3 * kCs + 1;
  ASSERT_TRUE(ns_->SetAttr(R(f), args).ok());
  EXPECT_EQ(Chunks(f), (V{"1/65536"}));
  EXPECT_EQ(Queued(), (Q{2}));
  // A hole can be written again after the truncate.
  Commit(f, {U(2, "", Id(3), 1)}, 0);
  EXPECT_EQ(Chunks(f), (V{"1/65536", "-", "3/1"}));
  CheckConsistency();
}

// ---- Deleting files ----

TEST_P(FileDataTest, UnlinkQueuesEveryChunkOfTheLastLink) {
  auto f = Create("/d", "f");
  Commit(f, {U(0, "", Id(1), kCs), U(2, "", Id(2), 3)}, 2 * kCs + 3);
  ASSERT_TRUE(ns_->Link(P("/d/f"), P("/"), "g").ok());
  ASSERT_TRUE(ns_->Unlink(P("/d"), "f").ok());
  EXPECT_TRUE(Queue().empty());  // still linked as /g
  EXPECT_EQ(Chunks(Attr("/g")).size(), 3u);
  ASSERT_TRUE(ns_->Unlink(P("/"), "g").ok());
  auto q = Queue();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].entry.ino(), f.ino());
  EXPECT_EQ(Queued(), (Q{1, 2}));
  // An empty file queues nothing.
  Create("/d", "empty");
  ASSERT_TRUE(ns_->Unlink(P("/d"), "empty").ok());
  EXPECT_EQ(Queue().size(), 1u);
  CheckConsistency();
}

TEST_P(FileDataTest, RenameOverAFileQueuesItsChunks) {
  auto a = Create("/d", "a");
  auto b = Create("/d", "b");
  auto c = Create("/d", "c");
  Commit(a, {U(0, "", Id(1), 1)}, 1);
  Commit(b, {U(0, "", Id(2), 1)}, 1);
  Commit(c, {U(0, "", Id(3), 1)}, 1);
  ASSERT_TRUE(ns_->Rename(P("/d"), "a", P("/d"), "b", 0).ok());
  EXPECT_EQ(Queued(), (Q{2}));
  EXPECT_EQ(Queue()[0].entry.ino(), b.ino());
  // Replacing a name whose inode has another link releases nothing.
  ASSERT_TRUE(ns_->Link(P("/d/c"), P("/"), "c2").ok());
  ASSERT_TRUE(ns_->Rename(P("/d"), "b", P("/d"), "c", 0).ok());
  EXPECT_EQ(Queued(), (Q{2}));
  // Exchange deletes nothing.
  ASSERT_TRUE(ns_->Rename(P("/d"), "c", P("/"), "c2", kRenameExchange).ok());
  EXPECT_EQ(Queued(), (Q{2}));
  CheckConsistency();
}

// ---- The GC queue ----

TEST_P(FileDataTest, GcQueueListsInOrderPagesAndRemoves) {
  std::vector<uint64_t> expected;
  for (uint64_t i = 1; i <= 5; ++i) {
    auto f = Create("/d", "f" + std::to_string(i));
    Commit(f, {U(0, "", Id(i), 1)}, 1);
  }
  // Queue in reverse inode order at increasing times: time decides the order.
  for (uint64_t i = 5; i >= 1; --i) {
    clock_.Advance(1);
    ASSERT_TRUE(ns_->Unlink(P("/d"), "f" + std::to_string(i)).ok());
    expected.push_back(i);
  }
  EXPECT_EQ(Queued(), expected);
  auto page = ns_->ListGcQueue("", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  auto rest = ns_->ListGcQueue(page->back().key, 0);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_LT(page->back().entry.queued_ns(), rest->front().entry.queued_ns());
  // Remove the first and the last; removing again is harmless.
  ASSERT_TRUE(ns_->RemoveGcEntries({page->front().key, rest->back().key}).ok());
  ASSERT_TRUE(ns_->RemoveGcEntries({page->front().key}).ok());
  EXPECT_EQ(Queued(), (Q{4, 3, 2}));
  ASSERT_TRUE(ns_->RemoveGcEntries({}).ok());
  // Only queue keys.
  EXPECT_EQ(E(ns_->RemoveGcEntries({keys::Inode(kRootInode)})), Errc::kInvalid);
  EXPECT_EQ(E(ns_->RemoveGcEntries({"Qshort"})), Errc::kInvalid);
  EXPECT_EQ(E(ns_->ListGcQueue("Zzz", 1)), Errc::kInvalid);
  EXPECT_TRUE(Exists("/"));
  EXPECT_EQ(Queued(), (Q{4, 3, 2}));
  // The queue survives a restart.
  Restart();
  EXPECT_EQ(Queued(), (Q{4, 3, 2}));
  CheckConsistency();
}

TEST_P(FileDataTest, ConcurrentWritersGetDistinctQueueEntries) {
  // The clock stands still, so queue keys differ only by their nonce.
  constexpr int kThreads = 4, kRounds = 25;
  std::vector<proto::InodeRecord> files;
  for (int t = 0; t < kThreads; ++t) files.push_back(Create("/d", "f" + std::to_string(t)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string prev;
      for (int r = 0; r < kRounds; ++r) {
        std::string id = Id(1000 * (t + 1) + r);
        CommitWriteArgs args;
        args.updates = {U(0, prev, id, 1)};
        args.min_size = 1;
        if (!ns_->CommitWrite(InodeId(files[t].ino()), args).ok()) failures++;
        prev = id;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Queue().size(), static_cast<size_t>(kThreads * (kRounds - 1)));
  EXPECT_EQ(Queued().size(), static_cast<size_t>(kThreads * (kRounds - 1)));
  CheckConsistency();
}

}  // namespace
}  // namespace cairn::meta

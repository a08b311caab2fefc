// Repeated requests: a mutation sent again with the same RequestId (its
// reply was lost) is applied once and answered with the first outcome.
// Runs against every store with the shared fixture; every test that
// changes the namespace ends with CheckConsistency().
#include <thread>

#include "meta/namespace_fixture.h"
#include "meta/ops/ops.h"

namespace cairn::meta {
namespace {

constexpr uint64_t kClient = 0x5eed'0000'0000'0001;

RequestId Req(uint64_t seq, uint64_t client = kClient) { return RequestId{client, seq}; }

class RequestLogTest : public NamespaceTest {
 protected:
  // A distinct, valid 16-byte chunk id.
  static std::string Id(uint64_t n) { return keys::EncodeU64(0xc4a1'0000) + keys::EncodeU64(n); }
  static CommitWriteArgs Slot0(std::string expected, std::string id, uint64_t length) {
    CommitWriteArgs args;
    SlotUpdate u;
    u.slot = 0;
    u.expected_id = std::move(expected);
    u.chunk.set_id(std::move(id));
    u.chunk.set_length(length);
    args.updates.push_back(std::move(u));
    args.min_size = length;
    return args;
  }
  size_t Records() { return ScanAll('R').size(); }
  size_t QueueEntries() { return ScanAll('Q').size(); }
};

INSTANTIATE_TEST_SUITE_P(Stores, RequestLogTest, ::testing::Values("memory", "rocksdb"),
                         [](const auto& info) { return info.param; });

TEST_P(RequestLogTest, ExclusiveCreateRepeatedIsAppliedOnce) {
  auto first = ns_->Create(P("/"), "f", 0644, /*exclusive=*/true, kUser, Req(1));
  ASSERT_TRUE(first.ok()) << first.status();
  clock_.Advance(1000);
  auto again = ns_->Create(P("/"), "f", 0644, /*exclusive=*/true, kUser, Req(1));
  ASSERT_TRUE(again.ok()) << again.status();  // not kExists: the first outcome
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Files(), 2u);
  EXPECT_EQ(Attr("/").entries(), 1u);
  // Another request for the same name is a new create, and O_EXCL fails.
  EXPECT_EQ(E(ns_->Create(P("/"), "f", 0644, true, kUser, Req(2))), Errc::kExists);
  // The record survives a restart (RocksDB: a reopened store).
  Restart();
  again = ns_->Create(P("/"), "f", 0644, true, kUser, Req(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ino(), first->ino());
  EXPECT_EQ(Records(), 1u);
  CheckConsistency();
}

TEST_P(RequestLogTest, MkdirRepeatedIsAppliedOnce) {
  auto first = ns_->Mkdir(P("/"), "d", 0755, kUser, Req(1));
  ASSERT_TRUE(first.ok()) << first.status();
  auto again = ns_->Mkdir(P("/"), "d", 0755, kUser, Req(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Attr("/").nlink(), 3u);
  EXPECT_EQ(E(ns_->Mkdir(P("/"), "d", 0755, kUser, Req(2))), Errc::kExists);
  CheckConsistency();
}

TEST_P(RequestLogTest, RenameRepeatedIsAppliedOnce) {
  Mkdir("/", "a");
  Mkdir("/", "b");
  Create("/a", "x");
  ASSERT_TRUE(ns_->Rename(P("/a"), "x", P("/b"), "y", 0, Req(1)).ok());
  // Without the record this would be kNotFound: /a/x is gone.
  EXPECT_TRUE(ns_->Rename(P("/a"), "x", P("/b"), "y", 0, Req(1)).ok());
  EXPECT_FALSE(Exists("/a/x"));
  EXPECT_TRUE(Exists("/b/y"));
  // A repeat does not depend on paths its first run changed: rename a
  // directory, then repeat it after its source parent is gone.
  Mkdir("/a", "sub");
  ASSERT_TRUE(ns_->Rename(P("/a"), "sub", P("/"), "top", 0, Req(2)).ok());
  ASSERT_TRUE(ns_->Rmdir(P("/"), "a", Req(3)).ok());
  EXPECT_TRUE(ns_->Rename(P("/a"), "sub", P("/"), "top", 0, Req(2)).ok());
  EXPECT_TRUE(ns_->Rmdir(P("/"), "a", Req(3)).ok());
  EXPECT_TRUE(Exists("/top"));
  CheckConsistency();
}

TEST_P(RequestLogTest, UnlinkRepeatedIsAppliedOnce) {
  Create("/", "f");
  ASSERT_TRUE(ns_->Unlink(P("/"), "f", Req(1)).ok());
  // Someone creates the name again; the repeat must not remove it.
  Create("/", "f");
  EXPECT_TRUE(ns_->Unlink(P("/"), "f", Req(1)).ok());
  EXPECT_TRUE(Exists("/f"));
  EXPECT_EQ(Files(), 2u);
  CheckConsistency();
}

TEST_P(RequestLogTest, CommitWriteRepeatedIsAppliedOnce) {
  auto f = Create("/", "f");
  const InodeId ino(f.ino());
  auto first = ns_->CommitWrite(ino, Slot0("", Id(1), 10), Req(1));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->chunks_size(), 0);  // as recorded: without the chunk list
  clock_.Advance(1000);
  auto again = ns_->CommitWrite(ino, Slot0("", Id(1), 10), Req(1));
  ASSERT_TRUE(again.ok()) << again.status();  // not "slot 0 changed"
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  // Without an id (or after its record expired) a repeat is recognized by
  // its chunk already in place: success, nothing written.
  const auto before = Attr("/f");
  auto bare = ns_->CommitWrite(ino, Slot0("", Id(1), 10));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(Attr("/f").SerializeAsString(), before.SerializeAsString());
  // A second commit replaces the chunk; repeats of the first still
  // succeed with its id and change nothing, and conflict without one.
  ASSERT_TRUE(ns_->CommitWrite(ino, Slot0(Id(1), Id(2), 20), Req(2)).ok());
  EXPECT_EQ(QueueEntries(), 1u);
  again = ns_->CommitWrite(ino, Slot0("", Id(1), 10), Req(1));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(E(ns_->CommitWrite(ino, Slot0("", Id(1), 10))), Errc::kConflict);
  EXPECT_EQ(Attr("/f").size(), 20u);
  EXPECT_EQ(QueueEntries(), 1u);  // Id(1) released once
  CheckConsistency();
}

TEST_P(RequestLogTest, EveryMutationRecordsItsOutcome) {
  Create("/", "f");
  ASSERT_TRUE(ns_->SetXattr(P("/f"), "user.a", "1", kXattrCreate, Req(1)).ok());
  EXPECT_TRUE(ns_->SetXattr(P("/f"), "user.a", "1", kXattrCreate, Req(1)).ok());
  ASSERT_TRUE(ns_->RemoveXattr(P("/f"), "user.a", Req(2)).ok());
  EXPECT_TRUE(ns_->RemoveXattr(P("/f"), "user.a", Req(2)).ok());
  auto link = ns_->Link(P("/f"), P("/"), "g", Req(3));
  ASSERT_TRUE(link.ok()) << link.status();
  auto link2 = ns_->Link(P("/f"), P("/"), "g", Req(3));
  ASSERT_TRUE(link2.ok()) << link2.status();
  EXPECT_EQ(Attr("/f").nlink(), 2u);
  ASSERT_TRUE(ns_->Symlink(P("/"), "s", "f", kUser, Req(4)).ok());
  EXPECT_TRUE(ns_->Symlink(P("/"), "s", "f", kUser, Req(4)).ok());
  SetAttrArgs truncate;
  truncate.size = 0;
  ASSERT_TRUE(ns_->SetAttr(P("/f"), truncate, Req(5)).ok());
  EXPECT_TRUE(ns_->SetAttr(P("/f"), truncate, Req(5)).ok());
  Mkdir("/", "d");
  proto::StoragePolicy policy;
  policy.set_replicas(2);
  ASSERT_TRUE(ns_->SetPolicy(P("/d"), policy, Req(6)).ok());
  EXPECT_TRUE(ns_->SetPolicy(P("/d"), policy, Req(6)).ok());
  EXPECT_EQ(Records(), 6u);
  CheckConsistency();
}

TEST_P(RequestLogTest, AFailureIsNotRecorded) {
  // A failed operation changes nothing, so its repeat runs afresh.
  EXPECT_EQ(E(ns_->Unlink(P("/"), "f", Req(1))), Errc::kNotFound);
  EXPECT_EQ(Records(), 0u);
  Create("/", "f");
  EXPECT_TRUE(ns_->Unlink(P("/"), "f", Req(1)).ok());
  EXPECT_FALSE(Exists("/f"));
  CheckConsistency();
}

TEST_P(RequestLogTest, AnIdReusedForAnotherOperationIsRefused) {
  ASSERT_TRUE(ns_->Mkdir(P("/"), "d", 0755, kUser, Req(1)).ok());
  EXPECT_EQ(E(ns_->Create(P("/"), "f", 0644, false, kUser, Req(1))), Errc::kInvalid);
  EXPECT_FALSE(Exists("/f"));
  // The same sequence number of another client is another request.
  EXPECT_TRUE(ns_->Create(P("/"), "f", 0644, false, kUser, Req(1, kClient + 1)).ok());
  CheckConsistency();
}

TEST_P(RequestLogTest, ConcurrentCopiesRunOnce) {
  Mkdir("/", "d");
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<proto::InodeRecord>> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back(
        [&, i] { results[i] = ns_->Create(P("/d"), "f", 0644, true, kUser, Req(9)); });
  }
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->ino(), results[0]->ino());
  }
  EXPECT_EQ(Attr("/d").entries(), 1u);
  CheckConsistency();
}

TEST_P(RequestLogTest, OldRecordsExpire) {
  options_.request_ttl = absl::Seconds(100);
  options_.request_sweep_interval = absl::ZeroDuration();
  Restart();
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(ns_->Mkdir(P("/"), "a" + std::to_string(seq), 0755, kUser, Req(seq)).ok());
  }
  ASSERT_TRUE(ns_->Mkdir(P("/"), "b", 0755, kUser, Req(1, kClient + 1)).ok());
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(60)));
  ASSERT_TRUE(ns_->Mkdir(P("/"), "c", 0755, kUser, Req(4)).ok());
  auto none = ns_->ExpireRequests();
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_EQ(*none, 0u);
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(41)));
  auto expired = ns_->ExpireRequests();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 4u);  // all but the younger "c"
  auto left = ScanAll('R');
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].key, keys::Request(kClient, 4));
  // An expired request is a new one: this mkdir runs again.
  EXPECT_EQ(E(ns_->Mkdir(P("/"), "a1", 0755, kUser, Req(1))), Errc::kExists);
  CheckConsistency();
}

TEST_P(RequestLogTest, ExpiryPagesThroughManyClients) {
  options_.request_ttl = absl::Seconds(1);
  options_.request_sweep_interval = absl::ZeroDuration();
  Restart();
  for (uint64_t c = 1; c <= 30; ++c) {
    for (uint64_t seq = 1; seq <= 40; ++seq) {
      ASSERT_TRUE(ns_->SetXattr(P("/"), "user.x", "v", 0, Req(seq, c)).ok());
    }
  }
  EXPECT_EQ(Records(), 1200u);
  clock_.Advance(absl::ToInt64Nanoseconds(absl::Seconds(2)));
  auto expired = ns_->ExpireRequests();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 1200u);
  EXPECT_EQ(Records(), 0u);
  CheckConsistency();
}

TEST(RequestRecordTest, EncodeDecode) {
  ops::RequestRecord r;
  r.op = RequestOp::kRename;
  r.recorded_ns = 123456789;
  r.result.set_ino(42);
  auto d = ops::DecodeRequestRecord(ops::EncodeRequestRecord(r));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->op, RequestOp::kRename);
  EXPECT_EQ(d->recorded_ns, 123456789);
  EXPECT_EQ(d->result.ino(), 42u);
  EXPECT_EQ(ErrcOf(ops::DecodeRequestRecord("x").status()), Errc::kInternal);
  std::string bad = ops::EncodeRequestRecord(r);
  bad[0] = 99;
  EXPECT_EQ(ErrcOf(ops::DecodeRequestRecord(bad).status()), Errc::kInternal);
}

}  // namespace
}  // namespace cairn::meta

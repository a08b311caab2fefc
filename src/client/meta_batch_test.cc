// MetaBatcher against a scripted sender: who sends what, which answer
// reaches which caller, and how failures spread.
#include "client/meta_batch.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "service/grpc_status.h"

namespace cairn::client {
namespace {

proto::MetaOp LookupOf(const std::string& name) {
  proto::MetaOp op;
  op.mutable_lookup()->mutable_parent()->set_path("/");
  op.mutable_lookup()->set_name(name);
  return op;
}

// Answers each lookup with an attr whose ino is the name's number, and
// names starting with "x" with kNotFound (as meta would encode it).
absl::Status Answer(const proto::BatchRequest& req, proto::BatchReply* reply) {
  for (const proto::MetaOp& op : req.ops()) {
    proto::MetaOpReply* r = reply->add_replies();
    const std::string& name = op.lookup().name();
    if (name[0] == 'x') {
      absl::Status st = Error(Errc::kNotFound, "/" + name + ": no such entry");
      r->set_code(static_cast<int32_t>(st.code()));
      r->set_message(std::string(st.message()));
      r->set_errc(service::ErrcTrailerValue(st));
    } else {
      r->mutable_attr()->mutable_attr()->set_ino(std::stoull(name));
    }
  }
  return absl::OkStatus();
}

TEST(MetaBatcherTest, LoneCallerSendsEachCallAtOnce) {
  std::vector<int> sizes;
  MetaBatcher b(2, 64, [&](const proto::BatchRequest& req, proto::BatchReply* reply) {
    sizes.push_back(req.ops_size());
    return Answer(req, reply);
  });
  for (int i = 1; i <= 3; ++i) {
    proto::MetaOpReply r;
    ASSERT_TRUE(b.Run(LookupOf(std::to_string(i)), &r).ok());
    EXPECT_EQ(r.attr().attr().ino(), static_cast<uint64_t>(i));
  }
  EXPECT_EQ(sizes, (std::vector<int>{1, 1, 1}));
  EXPECT_EQ(b.batches(), 3u);
  EXPECT_EQ(b.ops(), 3u);
}

// While the one allowed batch is out, callers queue; when it returns they
// go out together (in groups of max_ops), each with its own answer.
TEST(MetaBatcherTest, CallersWaitingTogetherShareBatches) {
  absl::Notification release;
  std::atomic<int> sends{0};
  std::vector<int> sizes;
  std::mutex sizes_mu;
  MetaBatcher b(1, 4, [&](const proto::BatchRequest& req, proto::BatchReply* reply) {
    if (sends.fetch_add(1) == 0) release.WaitForNotification();
    {
      std::lock_guard<std::mutex> l(sizes_mu);
      sizes.push_back(req.ops_size());
    }
    return Answer(req, reply);
  });
  constexpr int kCallers = 11;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  threads.emplace_back([&] {
    proto::MetaOpReply r;
    if (!b.Run(LookupOf("100"), &r).ok() || r.attr().attr().ino() != 100) ++wrong;
  });
  while (sends.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  for (int i = 1; i < kCallers; ++i) {
    threads.emplace_back([&, i] {
      proto::MetaOpReply r;
      const bool missing = i % 3 == 0;
      absl::Status st = b.Run(LookupOf((missing ? "x" : "") + std::to_string(i)), &r);
      if (missing) {
        if (ErrcOf(st) != Errc::kNotFound ||
            st.message().find("x" + std::to_string(i)) == std::string_view::npos)
          ++wrong;
      } else if (!st.ok() || r.attr().attr().ino() != static_cast<uint64_t>(i)) {
        ++wrong;
      }
    });
  }
  // Every other caller queues behind the held batch.
  while (b.queued() < kCallers - 1) absl::SleepFor(absl::Milliseconds(1));
  release.Notify();
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(b.ops(), static_cast<uint64_t>(kCallers));
  // 1 held, then 10 queued in groups of at most 4: 4, 4, 2.
  EXPECT_EQ(sizes, (std::vector<int>{1, 4, 4, 2}));
}

TEST(MetaBatcherTest, AFailedBatchFailsEveryCallInIt) {
  absl::Notification release;
  std::atomic<int> sends{0};
  MetaBatcher b(1, 64, [&](const proto::BatchRequest& req, proto::BatchReply* reply) {
    if (sends.fetch_add(1) == 0) {
      release.WaitForNotification();
      return Answer(req, reply);
    }
    return Error(Errc::kUnavailable, "no answer from meta");
  });
  std::thread first([&] {
    proto::MetaOpReply r;
    EXPECT_TRUE(b.Run(LookupOf("1"), &r).ok());
  });
  while (sends.load() == 0) absl::SleepFor(absl::Milliseconds(1));
  std::vector<std::thread> rest;
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 5; ++i) {
    rest.emplace_back([&] {
      proto::MetaOpReply r;
      if (ErrcOf(b.Run(LookupOf("2"), &r)) == Errc::kUnavailable) ++unavailable;
    });
  }
  while (b.queued() < 5) absl::SleepFor(absl::Milliseconds(1));
  release.Notify();
  first.join();
  for (auto& t : rest) t.join();
  EXPECT_EQ(unavailable.load(), 5);
}

TEST(MetaBatcherTest, AReplyCountMismatchIsAnInternalError) {
  MetaBatcher b(2, 64, [](const proto::BatchRequest&, proto::BatchReply* reply) {
    reply->add_replies();
    reply->add_replies();
    return absl::OkStatus();
  });
  proto::MetaOpReply r;
  EXPECT_EQ(ErrcOf(b.Run(LookupOf("1"), &r)), Errc::kInternal);
}

TEST(MetaBatcherTest, PackingCoversTheNamespaceCallsOnly) {
  using Stub = proto::Meta::Stub;
  proto::MetaOp op;
  proto::RemoveRequest rm;
  rm.set_name("a");
  ASSERT_TRUE(PackOp(&Stub::Unlink, &rm, &op));
  EXPECT_EQ(op.unlink().name(), "a");
  rm.set_name("b");
  ASSERT_TRUE(PackOp(&Stub::Rmdir, &rm, &op));
  EXPECT_EQ(op.op_case(), proto::MetaOp::kRmdir);
  EXPECT_EQ(op.rmdir().name(), "b");
  static_assert(kBatchable<proto::CreateRequest>);
  static_assert(!kBatchable<proto::ReaddirRequest>);
  static_assert(!kBatchable<proto::CommitWriteRequest>);
  static_assert(!kBatchable<proto::FsyncRequest>);

  proto::MetaOpReply r;
  r.mutable_readlink()->set_target("t");
  proto::ReadlinkReply link;
  UnpackReply(&r, &link);
  EXPECT_EQ(link.target(), "t");
}

}  // namespace
}  // namespace cairn::client

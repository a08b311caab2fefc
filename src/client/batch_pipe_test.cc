// BatchPipe against a fake meta on a loopback gRPC server: which reply
// reaches which caller, that calls of many threads share batches, and how
// a failed batch reaches `retry`.
#include "client/batch_pipe.h"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "service/grpc_status.h"

namespace cairn::client {
namespace {

proto::MetaOp LookupOf(uint64_t n) {
  proto::MetaOp op;
  op.mutable_lookup()->mutable_parent()->set_path("/");
  op.mutable_lookup()->set_name(std::to_string(n));
  return op;
}

// Answers each lookup with an attr whose ino is the name's number, odd
// numbers above 1,000,000 with kNotFound (as meta would encode it).
void Answer(const proto::BatchRequest& req, proto::BatchReply* reply) {
  for (const proto::MetaOp& op : req.ops()) {
    proto::MetaOpReply* r = reply->add_replies();
    const uint64_t n = std::stoull(op.lookup().name());
    if (n > 1000000 && n % 2 == 1) {
      absl::Status st = Error(Errc::kNotFound, "/" + op.lookup().name() + ": no such entry");
      r->set_code(static_cast<int32_t>(st.code()));
      r->set_message(std::string(st.message()));
      r->set_errc(service::ErrcTrailerValue(st));
    } else {
      r->mutable_attr()->mutable_attr()->set_ino(n);
    }
  }
}

enum class Mode {
  kAnswer,         // every batch answered
  kEndFirst,       // the first stream ends (OK, no answer) at its first batch
  kSilent,         // batches are read and never answered
  kSilentFirst,    // the first stream's batches are never answered
  kOneReplyShort,  // every answer lacks its last reply
};

// A Meta service with only BatchStream, answering as `mode` says; counts
// the streams opened and the batches read.
class FakeMeta final : public proto::Meta::CallbackService {
 public:
  explicit FakeMeta(Mode mode) : mode_(mode) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port_),
                                   grpc::InsecureChannelCredentials());
    stub_ = proto::Meta::NewStub(channel_);
  }
  ~FakeMeta() override { server_->Shutdown(std::chrono::system_clock::now()); }

  proto::Meta::Stub* stub() { return stub_.get(); }
  int streams() const { return streams_.load(); }
  int batches() const { return batches_.load(); }

  grpc::ServerBidiReactor<proto::BatchRequest, proto::BatchReply>* BatchStream(
      grpc::CallbackServerContext* /*ctx*/) override {
    const bool first = streams_.fetch_add(1) == 0;
    return new Stream(this, first);
  }

 private:
  class Stream final : public grpc::ServerBidiReactor<proto::BatchRequest, proto::BatchReply> {
   public:
    Stream(FakeMeta* meta, bool first) : meta_(meta), first_(first) { StartRead(&req_); }
    void OnReadDone(bool ok) override {
      if (!ok) return End(grpc::Status::OK);
      meta_->batches_.fetch_add(1);
      switch (meta_->mode_) {
        case Mode::kSilent:
          return;  // a batch read is left unanswered
        case Mode::kSilentFirst:
          if (first_) return;
          break;
        case Mode::kEndFirst:
          if (first_) return End(grpc::Status::OK);
          break;
        default:
          break;
      }
      reply_.Clear();
      Answer(req_, &reply_);
      if (meta_->mode_ == Mode::kOneReplyShort) reply_.mutable_replies()->RemoveLast();
      StartWrite(&reply_);
    }
    void OnWriteDone(bool ok) override {
      if (!ok) return End(grpc::Status::CANCELLED);
      req_.Clear();
      StartRead(&req_);
    }
    void OnCancel() override { End(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }

   private:
    void End(const grpc::Status& status) {
      if (!ended_.exchange(true)) Finish(status);
    }
    FakeMeta* const meta_;
    const bool first_;
    proto::BatchRequest req_;
    proto::BatchReply reply_;
    std::atomic<bool> ended_{false};
  };

  const Mode mode_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::Meta::Stub> stub_;
  std::atomic<int> streams_{0};
  std::atomic<int> batches_{0};
};

// The failures `retry` saw; it answers them itself (as a second attempt
// that got through would).
struct Retries {
  absl::Mutex mu;
  std::vector<BatchPipe::Failure> seen;
  std::vector<int> sizes;
  std::function<void()> during;  // runs inside each retry when set

  BatchPipe::Retry Fn() {
    return [this](const BatchPipe::Failure& f, const proto::BatchRequest& req,
                  proto::BatchReply* reply) {
      {
        absl::MutexLock l(&mu);
        seen.push_back(f);
        sizes.push_back(req.ops_size());
      }
      if (during) during();
      Answer(req, reply);
      return absl::OkStatus();
    };
  }
};

// A pipe to `meta`; `alone` (lone callers' path) counts its batches in
// *alone_calls when given, and answers them itself.
std::unique_ptr<BatchPipe> PipeTo(FakeMeta* meta, size_t in_flight, absl::Duration timeout,
                                  Retries* retries, std::atomic<int>* reached = nullptr,
                                  std::atomic<int>* alone_calls = nullptr) {
  BatchPipe::SendBatch alone;
  if (alone_calls != nullptr) {
    alone = [alone_calls](const proto::BatchRequest& req, proto::BatchReply* reply) {
      alone_calls->fetch_add(1);
      absl::SleepFor(absl::Milliseconds(1));  // a round trip: others may arrive meanwhile
      Answer(req, reply);
      return absl::OkStatus();
    };
  }
  return std::make_unique<BatchPipe>(
      std::vector<proto::Meta::Stub*>{meta->stub()}, in_flight, /*max_ops=*/64, timeout,
      [timeout] {
        return BatchPipe::Attempt{absl::Now() + timeout, false};
      },
      alone, retries->Fn(),
      [reached] {
        if (reached != nullptr) reached->fetch_add(1);
      });
}

TEST(BatchPipeTest, EachCallerGetsItsOwnReplyAndCallsShareBatches) {
  FakeMeta meta(Mode::kAnswer);
  Retries retries;
  std::atomic<int> reached{0};
  auto pipe = PipeTo(&meta, 2, absl::Seconds(30), &retries, &reached);
  constexpr int kThreads = 8;
  constexpr int kCalls = 300;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        // Half the calls of each thread fail with kNotFound in the batch.
        const uint64_t n = 1000000 + uint64_t(t) * 10000 + uint64_t(i) * 2 + (i % 2);
        proto::MetaOpReply reply;
        absl::Status st = pipe->Run(LookupOf(n), &reply);
        const bool ok = n % 2 == 0
                            ? st.ok() && reply.attr().attr().ino() == n
                            : ErrcOf(st) == Errc::kNotFound &&
                                  st.message() == "/" + std::to_string(n) + ": no such entry";
        if (!ok) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(pipe->ops(), uint64_t{kThreads * kCalls});
  // Eight callers and two batches out at a time: batches carry several.
  EXPECT_LT(pipe->batches(), pipe->ops());
  EXPECT_EQ(meta.batches(), static_cast<int>(pipe->batches()));
  EXPECT_LE(meta.streams(), 2);  // kept open between batches
  EXPECT_EQ(reached.load(), static_cast<int>(pipe->batches()));
  EXPECT_TRUE(retries.seen.empty());
}

// With `alone`, a caller with no other batch out sends on its own thread;
// callers that overlap go through the pipe's streams.
TEST(BatchPipeTest, ALoneCallerUsesAloneAndOverlappingOnesThePipe) {
  FakeMeta meta(Mode::kAnswer);
  Retries retries;
  std::atomic<int> alone_calls{0};
  auto pipe = PipeTo(&meta, 2, absl::Seconds(30), &retries, nullptr, &alone_calls);
  for (uint64_t n = 1; n <= 5; ++n) {
    proto::MetaOpReply reply;
    ASSERT_TRUE(pipe->Run(LookupOf(n), &reply).ok());
    EXPECT_EQ(reply.attr().attr().ino(), n);
  }
  EXPECT_EQ(alone_calls.load(), 5);
  EXPECT_EQ(pipe->alone_batches(), 5u);
  EXPECT_EQ(pipe->batches(), 0u);
  EXPECT_EQ(meta.streams(), 0);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 200; ++i) {
        const uint64_t n = uint64_t(t) * 1000 + i;
        proto::MetaOpReply reply;
        if (!pipe->Run(LookupOf(n), &reply).ok() || reply.attr().attr().ino() != n) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_GT(pipe->batches(), 0u);
  EXPECT_EQ(pipe->ops() + pipe->alone_batches(), 5u + 8 * 200);
}

// A batch that gets no answer is cancelled at its deadline even while
// the other slot's batches are answered all the time.
TEST(BatchPipeTest, ADeadlineHoldsWhileAnotherSlotIsBusy) {
  FakeMeta meta(Mode::kSilentFirst);
  Retries retries;
  auto pipe = PipeTo(&meta, 2, absl::Milliseconds(500), &retries);
  std::atomic<bool> done{false};
  absl::Duration took;
  std::thread lost([&] {
    const absl::Time start = absl::Now();
    proto::MetaOpReply reply;
    EXPECT_TRUE(pipe->Run(LookupOf(1), &reply).ok());  // answered by retry
    took = absl::Now() - start;
    done.store(true);
  });
  while (meta.batches() < 1) absl::SleepFor(absl::Milliseconds(1));
  const absl::Time give_up = absl::Now() + absl::Seconds(20);
  uint64_t n = 2;
  while (!done.load() && absl::Now() < give_up) {
    proto::MetaOpReply reply;
    ASSERT_TRUE(pipe->Run(LookupOf(n), &reply).ok());
    EXPECT_EQ(reply.attr().attr().ino(), n++);
  }
  lost.join();
  EXPECT_LT(took, absl::Seconds(5));
  ASSERT_EQ(retries.seen.size(), 1u);
  EXPECT_EQ(retries.seen[0].status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GT(n, 3u);  // the other slot was answered meanwhile
}

TEST(BatchPipeTest, ALoneCallerSendsAtOnce) {
  FakeMeta meta(Mode::kAnswer);
  Retries retries;
  auto pipe = PipeTo(&meta, 2, absl::Seconds(30), &retries);
  for (uint64_t n = 1; n <= 5; ++n) {
    proto::MetaOpReply reply;
    ASSERT_TRUE(pipe->Run(LookupOf(n), &reply).ok());
    EXPECT_EQ(reply.attr().attr().ino(), n);
  }
  EXPECT_EQ(pipe->batches(), 5u);
  EXPECT_EQ(meta.streams(), 1);
}

// A stream meta ends without answering: the batch goes to `retry` with
// UNAVAILABLE, and the next batch opens a new stream.
TEST(BatchPipeTest, AFailedBatchGoesToRetryOnceWithItsOperations) {
  FakeMeta meta(Mode::kEndFirst);
  Retries retries;
  auto pipe = PipeTo(&meta, 1, absl::Seconds(30), &retries);
  proto::MetaOpReply reply;
  ASSERT_TRUE(pipe->Run(LookupOf(7), &reply).ok());
  EXPECT_EQ(reply.attr().attr().ino(), 7u);  // answered by retry
  ASSERT_EQ(retries.seen.size(), 1u);
  EXPECT_EQ(retries.seen[0].status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_FALSE(retries.seen[0].never_sent);
  EXPECT_EQ(retries.sizes[0], 1);
  ASSERT_TRUE(pipe->Run(LookupOf(8), &reply).ok());
  EXPECT_EQ(reply.attr().attr().ino(), 8u);
  EXPECT_EQ(retries.seen.size(), 1u);  // the second stream answered
  EXPECT_EQ(meta.streams(), 2);
}

// Callers queued behind a failed batch are not lost: each gets its
// reply, from `retry` or from the next stream.
TEST(BatchPipeTest, CallersOfAFailedBatchAndQueuedOnesAllGetReplies) {
  FakeMeta meta(Mode::kEndFirst);
  Retries retries;
  auto pipe = PipeTo(&meta, 1, absl::Seconds(30), &retries);
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 20; ++i) {
        const uint64_t n = uint64_t(t) * 100 + i;
        proto::MetaOpReply reply;
        if (!pipe->Run(LookupOf(n), &reply).ok() || reply.attr().attr().ino() != n) {
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(retries.seen.size(), 1u);
}

// A failed batch keeps its slot while its first caller retries it: with
// one batch in flight, nothing else goes to meta meanwhile, however many
// callers queue.
TEST(BatchPipeTest, ARetryKeepsItsSlot) {
  FakeMeta meta(Mode::kEndFirst);
  Retries retries;
  std::atomic<int> sent_during{0};
  retries.during = [&] {
    const int before = meta.batches();
    absl::SleepFor(absl::Milliseconds(100));
    if (meta.batches() != before) sent_during.fetch_add(1);
  };
  auto pipe = PipeTo(&meta, 1, absl::Seconds(30), &retries);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 10; ++i) {
        proto::MetaOpReply reply;
        EXPECT_TRUE(pipe->Run(LookupOf(uint64_t(t) * 100 + i), &reply).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(retries.seen.size(), 1u);
  EXPECT_EQ(sent_during.load(), 0);
}

// No answer by the deadline: the stream is cancelled and `retry` sees
// DEADLINE_EXCEEDED once the timeout has passed.
TEST(BatchPipeTest, AnUnansweredBatchIsCancelledAtItsDeadline) {
  FakeMeta meta(Mode::kSilent);
  Retries retries;
  auto pipe = PipeTo(&meta, 2, absl::Milliseconds(300), &retries);
  const absl::Time start = absl::Now();
  proto::MetaOpReply reply;
  ASSERT_TRUE(pipe->Run(LookupOf(3), &reply).ok());
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(290));
  ASSERT_EQ(retries.seen.size(), 1u);
  EXPECT_EQ(retries.seen[0].status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_GE(retries.seen[0].start, start);
}

// A reply with the wrong number of answers fails every call of the batch
// with kInternal, and the stream carries on.
TEST(BatchPipeTest, AReplyWithTooFewAnswersIsInternal) {
  FakeMeta meta(Mode::kOneReplyShort);
  Retries retries;
  auto pipe = PipeTo(&meta, 1, absl::Seconds(30), &retries);
  for (int i = 0; i < 2; ++i) {
    proto::MetaOpReply reply;
    EXPECT_EQ(ErrcOf(pipe->Run(LookupOf(5), &reply)), Errc::kInternal);
  }
  EXPECT_EQ(meta.streams(), 1);
  EXPECT_TRUE(retries.seen.empty());
}

// A pipe that never sent anything, and one with an open idle stream, stop
// without waiting for a batch or a deadline.
TEST(BatchPipeTest, StopsWithAndWithoutOpenStreams) {
  FakeMeta meta(Mode::kAnswer);
  Retries retries;
  PipeTo(&meta, 2, absl::Seconds(30), &retries).reset();
  auto pipe = PipeTo(&meta, 2, absl::Seconds(30), &retries);
  proto::MetaOpReply reply;
  ASSERT_TRUE(pipe->Run(LookupOf(1), &reply).ok());
  pipe.reset();
  EXPECT_EQ(meta.streams(), 1);
}

}  // namespace
}  // namespace cairn::client

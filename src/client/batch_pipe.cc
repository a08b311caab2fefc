#include "client/batch_pipe.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "client/batch_stream.h"
#include "client/meta_batch.h"

namespace cairn::client {
namespace {

// The kinds of a stream's operations, in the low bits of their tags (the
// stream's address is the rest).
enum Kind : uintptr_t { kWrite = 1, kRead = 2, kFinish = 3 };
constexpr uintptr_t kKindBits = 3;

// How long a failed call may take to finish before it is cancelled
// outright (a reply that did not parse leaves the call open).
constexpr absl::Duration kFinishWait = absl::Seconds(1);

}  // namespace

struct BatchPipe::Waiter {
  proto::MetaOp op;
  proto::MetaOpReply* reply = nullptr;
  absl::Status status;
  bool done = false;  // reply and status are filled in
  // The failed batch this caller retries (its first caller); set with the
  // batch's failure.
  struct Failed;
  std::unique_ptr<Failed> failed;
};

// One Meta.BatchStream call on the pipe's completion queue.
struct alignas(8) BatchPipe::Stream {
  Slot* slot = nullptr;
  size_t channel = 0;
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<proto::BatchRequest, proto::BatchReply>> rw;
  grpc::Status status;  // set by Finish
  int outstanding = 0;  // operations started, not back yet (under mu_)
  bool used = false;    // has carried a batch (under mu_)

  void* Tag(Kind kind) { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(this) | kind); }
};

struct BatchPipe::Waiter::Failed {
  // The batch's slot, held (busy) until the retry is done: batches out,
  // retries included, stay at most `in_flight`.
  Slot* slot = nullptr;
  Failure failure;
  std::unique_ptr<Stream> stream;  // finished: nothing of it outstanding
  proto::BatchRequest req;
  std::vector<Waiter*> batch;
};

// A batch in flight at most; its stream stays open between batches. Its
// batch, request and reply are the sender's while it sends (busy, taken
// under mu_), then the pipe's thread's; the rest is under mu_.
struct BatchPipe::Slot {
  std::unique_ptr<Stream> stream;  // null: opened at the next send
  bool busy = false;
  std::vector<Waiter*> batch;
  proto::BatchRequest req;
  proto::BatchReply reply;
  absl::Time start;
  absl::Time deadline;
  bool write_back = false;
  bool write_ok = false;
  bool read_back = false;
  bool read_ok = false;
  bool timed_out = false;  // cancelled by the pipe: past its deadline
  bool finishing = false;  // Finish asked for, the call is over
  absl::Time finish_by;    // then cancelled, if Finish is not back
  bool finish_cancelled = false;
};

BatchPipe::BatchPipe(std::vector<proto::Meta::Stub*> stubs, size_t in_flight, size_t max_ops,
                     absl::Duration timeout, Start start, SendBatch alone, Retry retry,
                     Reached reached)
    : stubs_(std::move(stubs)),
      max_ops_(std::clamp<size_t>(max_ops, 1, 256)),
      tick_(std::clamp(timeout / 4, absl::Milliseconds(5), absl::Seconds(1))),
      start_(std::move(start)),
      alone_(std::move(alone)),
      retry_(std::move(retry)),
      reached_(std::move(reached)) {
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < std::max<size_t>(in_flight, 1); ++i) {
    slots_.push_back(std::make_unique<Slot>());
    free_.push_back(slots_.back().get());
  }
  thread_ = std::thread([this] { Poll(); });
}

BatchPipe::~BatchPipe() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
    for (auto& slot : slots_) {
      Stream* s = slot->stream.get();
      if (s == nullptr) continue;
      s->ctx.TryCancel();
      if (!slot->busy) {  // idle: end the call (none is busy: no Run is under way)
        slot->busy = true;
        EndCall(slot.get());
      }
    }
    // Wakes the thread at once (it may have no stream to hear from); set
    // under mu_, before the thread can see stopping_ and shut cq_ down.
    wake_.Set(&cq_, std::chrono::system_clock::now(), nullptr);
  }
  thread_.join();
}

absl::Status BatchPipe::Run(proto::MetaOp op, proto::MetaOpReply* reply) {
  Waiter self;
  self.op = std::move(op);
  self.reply = reply;
  Slot* slot = nullptr;
  bool alone = false;
  {
    absl::MutexLock l(&mu_);
    queue_.push_back(&self);
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
      Take(slot);
      // No other batch out: nobody to share the wait with.
      alone = alone_ != nullptr && free_.size() + 1 == slots_.size();
    }
  }
  if (slot != nullptr) {
    if (alone) {
      SendAlone(slot);
    } else {
      Send(slot);
    }
  }
  {
    absl::MutexLock l(&mu_);
    mu_.Await(absl::Condition(
        +[](Waiter* w) { return w->done || w->failed != nullptr; }, &self));
    if (self.done) return self.status;
  }
  RunRetry(&self);
  return self.status;
}

void BatchPipe::Take(Slot* slot) {
  const size_t n = std::min(queue_.size(), max_ops_);
  slot->busy = true;
  slot->deadline = absl::InfiniteFuture();  // not sent yet
  slot->batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
}

void BatchPipe::EndCall(Slot* slot) {
  Stream* s = slot->stream.get();
  slot->finishing = true;
  slot->finish_by = absl::Now() + kFinishWait;
  slot->finish_cancelled = false;
  s->rw->Finish(&s->status, s->Tag(kFinish));
  ++s->outstanding;
  ++active_ops_;
}

bool BatchPipe::Release(Slot* slot) {
  if (!queue_.empty() && !stopping_) {
    Take(slot);
    return true;
  }
  slot->busy = false;
  free_.push_back(slot);
  return false;
}

void BatchPipe::SendAlone(Slot* slot) {
  slot->req.Clear();
  for (Waiter* w : slot->batch) *slot->req.add_ops() = std::move(w->op);
  slot->reply.Clear();
  const absl::Status sent = alone_(slot->req, &slot->reply);
  std::vector<Waiter*> batch = std::move(slot->batch);
  slot->batch.clear();
  HandBack(slot, batch, sent, &slot->reply, /*alone=*/true);
}

void BatchPipe::HandBack(Slot* slot, const std::vector<Waiter*>& batch, absl::Status sent,
                         proto::BatchReply* reply, bool alone) {
  if (sent.ok()) sent = CheckReplyCount(*reply, batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    batch[i]->status = OpOutcome(sent, reply, static_cast<int>(i), batch[i]->reply);
  }
  bool next = false;
  {
    absl::MutexLock l(&mu_);
    if (alone) ++alone_batches_;
    for (Waiter* w : batch) w->done = true;
    next = Release(slot);
  }
  if (next) Send(slot);
}

void BatchPipe::Send(Slot* slot) {
  const Attempt attempt = start_();
  slot->req.Clear();
  slot->req.mutable_ops()->Reserve(static_cast<int>(slot->batch.size()));
  for (Waiter* w : slot->batch) *slot->req.add_ops() = std::move(w->op);
  slot->reply.Clear();
  Stream* s = slot->stream.get();
  bool opened = false;
  {
    absl::MutexLock l(&mu_);
    if (s == nullptr) {
      slot->stream = std::make_unique<Stream>();
      s = slot->stream.get();
      s->slot = slot;
      s->channel = next_channel_++ % stubs_.size();
      s->ctx.set_wait_for_ready(attempt.wait_for_ready);
      // The call's headers go out with its first batch (StartCall's tag is
      // not used then: it never comes back).
      s->ctx.set_initial_metadata_corked(true);
      opened = true;
    }
    slot->start = absl::Now();
    slot->deadline = attempt.deadline;
    slot->write_back = slot->read_back = false;
    slot->timed_out = false;
    s->outstanding += 2;
    active_ops_ += 2;
  }
  if (opened) {
    s->rw = stubs_[s->channel]->PrepareAsyncBatchStream(&s->ctx, &cq_);
    s->rw->StartCall(nullptr);
  }
  s->rw->Write(slot->req, s->Tag(kWrite));
  s->rw->Read(&slot->reply, s->Tag(kRead));
}

void BatchPipe::Poll() {
  bool shut = false;
  for (;;) {
    absl::Time look;
    {
      absl::MutexLock l(&mu_);
      if (!shut && stopping_ && std::all_of(slots_.begin(), slots_.end(), [](const auto& slot) {
            return slot->stream == nullptr;
          })) {
        cq_.Shutdown();
        shut = true;
      }
      // With nothing of the pipe's out, the thread does not wait on cq_:
      // a thread waiting on any completion queue polls every connection
      // of the process, and would take (and hand over, waking the caller)
      // the answers a lone caller waits for on a queue of its own.
      mu_.Await(absl::Condition(
          +[](BatchPipe* p)
               ABSL_NO_THREAD_SAFETY_ANALYSIS { return p->active_ops_ > 0 || p->stopping_; },
          this));
      look = CancelLate(absl::Now());
    }
    void* tag = nullptr;
    bool ok = false;
    const auto got = cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(look));
    if (got == grpc::CompletionQueue::SHUTDOWN) return;
    if (got == grpc::CompletionQueue::GOT_EVENT && tag != nullptr) {  // null: the wake alarm
      const auto bits = reinterpret_cast<uintptr_t>(tag);
      Complete(reinterpret_cast<Stream*>(bits & ~kKindBits), static_cast<int>(bits & kKindBits),
               ok);
    }
  }
}

void BatchPipe::Complete(Stream* s, int kind, bool ok) {
  Slot* slot = s->slot;
  mu_.Lock();
  --s->outstanding;
  --active_ops_;
  switch (kind) {
    case kWrite:
      slot->write_back = true;
      slot->write_ok = ok;
      break;
    case kRead:
      slot->read_back = true;
      slot->read_ok = ok;
      break;
    default:  // kFinish
      break;
  }
  if (!slot->finishing && slot->write_back && slot->read_back) {
    if (slot->write_ok && slot->read_ok) {
      Deliver(slot);  // releases mu_
      return;
    }
    EndCall(slot);
  }
  if (slot->finishing && s->outstanding == 0) {
    Fail(slot);  // releases mu_
    return;
  }
  mu_.Unlock();
}

void BatchPipe::Deliver(Slot* slot) {
  Stream* s = slot->stream.get();
  s->used = true;
  const size_t n = slot->batch.size();
  const absl::Status whole = CheckReplyCount(slot->reply, n);
  reached_();
  for (size_t i = 0; i < n; ++i) {
    Waiter* w = slot->batch[i];
    w->status = OpOutcome(whole, &slot->reply, static_cast<int>(i), w->reply);
    // A waiter may return (and its Waiter go away) as soon as it is
    // marked: nothing below touches a marked one again.
    w->done = true;
  }
  ++batches_;
  ops_ += n;
  slot->batch.clear();
  if (slot->timed_out) {
    // Answered after all, but the call is cancelled: end it and drop the
    // stream (Fail, with no batch); the slot stays busy until then.
    EndCall(slot);
    mu_.Unlock();
    return;
  }
  const bool next = Release(slot);
  mu_.Unlock();
  if (next) Send(slot);
}

void BatchPipe::Fail(Slot* slot) {
  std::unique_ptr<Stream> stream = std::move(slot->stream);
  slot->finishing = false;
  if (!slot->batch.empty()) {
    auto failed = std::make_unique<Waiter::Failed>();
    Failure& f = failed->failure;
    f.channel = stream->channel;
    f.start = slot->start;
    f.status = UnansweredBatchStatus(stream->status, slot->timed_out);
    f.never_sent = stream->used && !slot->write_ok;
    f.context = &stream->ctx;
    failed->stream = std::move(stream);
    failed->req = std::move(slot->req);
    failed->batch = std::move(slot->batch);
    slot->batch.clear();
    failed->slot = slot;
    Waiter* first = failed->batch.front();
    first->failed = std::move(failed);
    mu_.Unlock();
    return;
  }
  const bool next = Release(slot);
  mu_.Unlock();
  if (next) Send(slot);
}

absl::Time BatchPipe::CancelLate(absl::Time now) {
  absl::Time look = now + tick_;
  for (auto& slot : slots_) {
    Stream* s = slot->stream.get();
    if (!slot->busy || s == nullptr) continue;
    if (slot->finishing) {
      if (slot->finish_cancelled) continue;
      if (now >= slot->finish_by) {
        slot->finish_cancelled = true;
        s->ctx.TryCancel();
      } else {
        look = std::min(look, slot->finish_by);
      }
    } else if (!slot->timed_out) {
      if (now >= slot->deadline) {
        slot->timed_out = true;
        s->ctx.TryCancel();
      } else {
        look = std::min(look, slot->deadline);
      }
    }
  }
  return look;
}

void BatchPipe::RunRetry(Waiter* self) {
  Waiter::Failed& failed = *self->failed;
  proto::BatchReply reply;
  const absl::Status sent = retry_(failed.failure, failed.req, &reply);
  const std::vector<Waiter*> batch = std::move(failed.batch);
  Slot* slot = failed.slot;
  self->failed.reset();  // the failed call's stream goes
  HandBack(slot, batch, sent, &reply, /*alone=*/false);
}

uint64_t BatchPipe::batches() const {
  absl::MutexLock l(&mu_);
  return batches_;
}

uint64_t BatchPipe::ops() const {
  absl::MutexLock l(&mu_);
  return ops_;
}

uint64_t BatchPipe::alone_batches() const {
  absl::MutexLock l(&mu_);
  return alone_batches_;
}

}  // namespace cairn::client

// RunTxn: the one retry wrapper around optimistic transactions.
//
// `fn(Txn&)` builds a transaction and returns a status or value; RunTxn
// commits it and, on a conflict, runs `fn` again on a fresh transaction
// after a short randomized back-off. `fn` must therefore be a pure function
// of what it reads through the Txn (no side effects outside it), which
// makes every retry idempotent.
#pragma once

#include <functional>
#include <type_traits>

#include "absl/status/statusor.h"
#include "common/errors.h"
#include "store/kv_store.h"

namespace cairn::store {

struct RetryOptions {
  int max_attempts = 100;  // conflicts tolerated before giving up with kConflict
  CommitOptions commit;
};

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Sleeps before attempt `attempt` (1-based) of a conflicted transaction.
void BackoffForRetry(int attempt);

template <typename Fn>
auto RunTxn(KvStore& store, const RetryOptions& options, Fn&& fn)
    -> std::invoke_result_t<Fn, Txn&> {
  using Result = std::invoke_result_t<Fn, Txn&>;
  absl::Status last;
  for (int attempt = 1; attempt <= options.max_attempts; ++attempt) {
    if (attempt > 1) BackoffForRetry(attempt);
    std::unique_ptr<Txn> txn = store.Begin();
    Result result = fn(*txn);
    if (!result.ok()) {
      if (ErrcOf(StatusOf(result)) == Errc::kConflict) {
        last = StatusOf(result);
        continue;
      }
      return result;
    }
    absl::Status committed = txn->Commit(options.commit);
    if (committed.ok()) return result;
    if (ErrcOf(committed) != Errc::kConflict) return committed;
    last = committed;
  }
  return Error(Errc::kConflict, "transaction kept conflicting: " + std::string(last.message()));
}

}  // namespace cairn::store

#include "service/meta_service.h"

#include <string>

#include "absl/time/time.h"
#include "common/errors.h"

namespace cairn::service {

std::string_view MetaService::OpName(Op op) {
  static constexpr std::string_view kNames[kOpCount] = {
      "Lookup",    "GetAttr",     "SetAttr",   "Mkdir",     "Create",      "Rmdir",
      "Unlink",    "Rename",      "Link",      "Symlink",   "Readlink",    "Readdir",
      "Statfs",    "GetXattr",    "SetXattr",  "ListXattr", "RemoveXattr", "Fsync",
      "GetChunks", "CommitWrite", "SetPolicy", "GetPolicy", "Batch"};
  return kNames[op];
}

MetaService::MetaService(meta::Namespace* ns, MetricsRegistry* metrics, MetaServiceOptions options)
    : ns_(ns),
      options_(options),
      errors_(metrics->CounterFamily("cairn_meta_errors_total",
                                     "Metadata requests that failed, by operation and error code.",
                                     {"op", "errc"})) {
  auto* requests = metrics->CounterFamily("cairn_meta_requests_total",
                                          "Metadata requests served, by operation.", {"op"});
  auto* latency =
      metrics->HistogramFamily("cairn_meta_request_duration_seconds",
                               "Time spent serving metadata requests, by operation.", {"op"});
  for (int i = 0; i < kOpCount; ++i) {
    std::string name(OpName(static_cast<Op>(i)));
    ops_[i].requests = requests->With({name});
    ops_[i].latency = latency->With({name});
  }
}

bool MetaService::WaitsOnDisk(Op op) const {
  switch (op) {
    case kFsync:
      return true;
    case kSetAttr:
    case kMkdir:
    case kCreate:
    case kRmdir:
    case kUnlink:
    case kRename:
    case kLink:
    case kSymlink:
    case kSetXattr:
    case kRemoveXattr:
    case kCommitWrite:
    case kSetPolicy:
    case kBatch:  // may carry changes
      return options_.changes_wait_for_sync;
    default:
      return false;
  }
}

void MetaService::Record(Op op, const absl::Status& status,
                         std::chrono::steady_clock::duration elapsed) {
  ops_[op].requests->Increment();
  ops_[op].latency->Observe(absl::FromChrono(elapsed));
  if (!status.ok()) {
    errors_->With({std::string(OpName(op)), std::string(ErrcName(ErrcOf(status)))})->Increment();
  }
}

}  // namespace cairn::service

// Statfs: inodes in use and capacity.
//
// Reads: a Scan of the file counter shards (kFileCounterShards keys; a
// statistic, so not conflict-checked) and statvfs(2) of `capacity_path`.
// Read-only, never committed: nothing to retry.
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/names.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {
// Reported inode capacity: ids are 64-bit and never run out in practice;
// tools want a finite total, so files + files_free is this.
constexpr uint64_t kReportedInodes = uint64_t{1} << 48;
}  // namespace

absl::StatusOr<StatfsInfo> Statfs(store::Reader& txn, const std::string& capacity_path) {
  StatfsInfo info;
  ASSIGN_OR_RETURN(info.files, CountFiles(txn));
  info.files_free = info.files < kReportedInodes ? kReportedInodes - info.files : 0;
  info.name_max = kMaxNameLength;
  if (!capacity_path.empty()) {
    struct statvfs st;
    if (::statvfs(capacity_path.c_str(), &st) != 0) {
      return Error(Errc::kIo, "statvfs " + capacity_path + ": " + std::strerror(errno));
    }
    const uint64_t unit = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
    info.total_bytes = uint64_t{st.f_blocks} * unit;
    info.free_bytes = uint64_t{st.f_bfree} * unit;
    info.avail_bytes = uint64_t{st.f_bavail} * unit;
  }
  return info;
}

}  // namespace cairn::meta::ops

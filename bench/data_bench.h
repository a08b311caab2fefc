// The file data benchmark behind `cairn bench data`: through the client
// library against a running cluster, T threads each write one file of S
// bytes sequentially, then read it back; then N small files (64 KiB each)
// are written and read back, spread over the T threads. Reports MiB/s for
// the big files and files/s for the small ones.
//
// RunLocalDataBench does the same on a local directory for comparison:
// each file is written with write(2) and fsync(2) at its end (what Cairn's
// chunk servers do for every chunk before acknowledging it), then dropped
// from the page cache with posix_fadvise(POSIX_FADV_DONTNEED) — which
// discards clean pages for any caller, no privileges needed — so the read
// phase reads from the disk as the remote one reads from chunk servers
// whose caches are warm or cold as they happen to be.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "cairn/client.h"

namespace cairn::bench {

struct DataBenchOptions {
  uint64_t size = 256 << 20;  // bytes per big file
  int threads = 1;            // big files written (and read) in parallel; small-file threads
  uint64_t small_files = 1000;
  uint64_t small_size = 64 << 10;
  size_t io_size = 4 << 20;  // bytes per Write/Read call on big files
  // Working directory (remote: an absolute Cairn path; local: a local
  // directory). Created; everything below it is removed at the end.
  std::string dir = "/bench-data";
};

struct DataBenchResult {
  double write_mib_s = 0;
  double read_mib_s = 0;
  double small_write_files_s = 0;
  double small_read_files_s = 0;
  double write_seconds = 0;
  double read_seconds = 0;
  double small_write_seconds = 0;
  double small_read_seconds = 0;
};

// Fails with the first error (the working directory is still removed).
absl::StatusOr<DataBenchResult> RunDataBench(Client& client, const DataBenchOptions& options);
absl::StatusOr<DataBenchResult> RunLocalDataBench(const DataBenchOptions& options);

}  // namespace cairn::bench

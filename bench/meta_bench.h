// The metadata benchmark behind `cairn bench meta`: through the client
// library against a running meta server, creates N files in one directory
// (split over T threads), stats them all, renames each within the
// directory, unlinks them, and reports operations per second per phase.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/client.h"

namespace cairn::bench {

struct MetaBenchOptions {
  uint64_t files = 10000;
  int threads = 8;
  // Working directory; must not exist or be empty. Created, and removed
  // with everything in it at the end (also after a failure).
  std::string dir = "/bench";
};

struct PhaseResult {
  std::string name;  // "create", "stat", "rename", "unlink"
  uint64_t ops = 0;
  double seconds = 0;
  double ops_per_second = 0;
};

struct MetaBenchResult {
  std::vector<PhaseResult> phases;
};

// `client` is shared by every thread. Fails with the first operation error.
absl::StatusOr<MetaBenchResult> RunMetaBench(Client& client, const MetaBenchOptions& options);

}  // namespace cairn::bench

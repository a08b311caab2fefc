// Fsck: checks that every chunk of every file below a path is stored,
// whole, on every healthy member of its placement group's chain, and
// optionally repairs missing and damaged copies (`cairn admin fsck`,
// docs/cli.md).
//
// For each chunk of each regular file (symlinks are not followed), the
// expected holders are the first `replicas` members of its PG chain (the
// file's replica count, as writes place them) minus members still
// recovering. Each holder is asked for the whole chunk (READ_CHUNK, every
// block CRC-verified end to end) or, with `quick`, only whether it holds
// it (HAS_CHUNK: finds missing copies, not damaged ones).
//
// With `repair`, a missing or damaged copy is replaced by a good one read
// from another holder: a WRITE_CHUNK with an empty downstream chain to
// that one node. The node's store replaces a copy it finds damaged or
// missing (quarantining the damaged file) and treats an identical copy as
// an idempotent retry; a copy that verifies yet differs (kExists) is
// deleted first and written again.
//
// The files are examined one map snapshot at a time: the cluster map is
// read once at the start. Chunks are checked `parallelism` at a time;
// every chunk of the walk is listed before the checks start, so memory
// grows with the number of chunks (about 100 bytes each).
//
// Thread-safety: Fsck is a blocking call; run several in parallel at will.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "cairn/client.h"
#include "common/ids.h"

namespace cairn {

struct FsckOptions {
  // Absolute path of a directory (walked recursively) or a file. Default "/".
  std::string path = "/";
  // Replace missing and damaged copies from a good one. Default off.
  bool repair = false;
  // HAS_CHUNK instead of reading every copy: fast, but blind to damage.
  bool quick = false;
  // Chunks checked at once (1..64). Default 4.
  int parallelism = 4;
  // Called after each chunk is checked (from the checking threads, one at
  // a time), for progress displays. May be empty.
  std::function<void(uint64_t chunks_done, uint64_t chunks_total)> progress;
};

enum class CopyProblem {
  kMissing,      // the holder does not have the chunk
  kBad,          // its copy fails its checksums
  kUnreachable,  // the holder could not be asked (down, not UP, errors)
};

// "missing", "bad", "unreachable".
std::string_view CopyProblemName(CopyProblem problem);

// One copy that is not as it should be.
struct FsckCopyIssue {
  std::string path;      // a file holding the chunk
  uint64_t offset = 0;   // where the chunk starts in that file
  std::string chunk_id;  // 32 hex digits
  NodeId node;
  std::string address;  // the node's data address ("" when unknown)
  CopyProblem problem = CopyProblem::kMissing;
  std::string detail;     // the error seen
  bool repaired = false;  // replaced by a good copy (repair)
  std::string repair_error;
};

// A chunk without a single good copy on its holders: data loss.
struct FsckLostChunk {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::string chunk_id;
};

struct FsckReport {
  uint64_t files = 0;           // regular files examined
  uint64_t chunks = 0;          // chunk references examined (holes not counted)
  uint64_t copies_checked = 0;  // (chunk, holder) pairs asked
  uint64_t bytes_read = 0;      // verified copy bytes read
  uint64_t missing_copies = 0;
  uint64_t bad_copies = 0;
  uint64_t unreachable_copies = 0;
  // Chunks with fewer good copies than the file's replica count, before
  // repair (a chain shorter than that counts too).
  uint64_t under_replicated = 0;
  // Of those, still short after repair (equal to under_replicated without
  // repair).
  uint64_t still_under_replicated = 0;
  uint64_t lost_chunks = 0;  // no good copy at all
  uint64_t repaired_copies = 0;
  uint64_t repair_failures = 0;
  std::vector<FsckCopyIssue> issues;
  std::vector<FsckLostChunk> lost;
  // Paths that could not be examined (vanished meanwhile, errors), with why.
  std::vector<std::string> errors;

  // True when every chunk has a good copy on every expected holder (after
  // repair) and every path could be examined.
  bool whole() const {
    return lost_chunks == 0 && still_under_replicated == 0 && errors.empty() &&
           missing_copies + bad_copies + unreachable_copies == repaired_copies;
  }
};

// Runs the check with a client of its own for `client_options`.
// Errors: kNotFound when options.path does not exist, kInvalid for bad
// options or a relative path, kUnavailable when meta cannot be reached.
// Problems with chunks are findings in the report, not errors.
absl::StatusOr<FsckReport> Fsck(const ClientOptions& client_options, const FsckOptions& options);

}  // namespace cairn

// File: an open regular file of a Cairn file system (Client::Open).
//
// Content model (ARCHITECTURE.md, "Data model"): a file is a row of slots of
// `chunk_size` bytes, each holding at most one immutable chunk. Writes never
// change a stored chunk: every slot a write touches gets a whole new chunk
// (copy-on-write: the untouched bytes of a partially written slot are read
// from the slot's old chunk), and the new chunks become the file's content
// in one metadata commit (CommitWrite) that checks no one else replaced
// those slots meanwhile.
//
// Writes are buffered per slot. A slot whose buffer is full (or that the
// writer moves away from) is uploaded in the background, several chunks in
// flight (ClientOptions::max_chunks_in_flight); each upload returns only
// once every replica of the chunk's chain holds it durably. Fsync() and
// Close() upload what is left and commit; a commit also happens on its own
// when ClientOptions::commit_every_chunks chunks are waiting, and at the
// latest ClientOptions::max_uncommitted_age after an upload started (on a
// background thread of the Client, also while the handle sits idle).
//
// Consistency is close-to-open: what a handle wrote is visible to others
// after its Close() or Fsync(); a handle sees its own writes at once; a
// handle sees others' writes committed before it was opened.
//
// Reads fetch chunks straight from the chunk servers (any replica), large
// ranges from several replicas in parallel, with read-ahead for sequential
// access; holes and bytes past a chunk's length read as zeros up to the
// file size.
//
// Errors: the typed codes of common/errors.h. A write that could not reach
// every replica before ClientOptions::data_deadline fails with kUnavailable
// or kTimeout; after a failed upload or commit (a background one included:
// kStaleUpload, for one, when meta refuses it) the handle is broken: every
// later Write, Fsync and Close returns that error (the file keeps its last
// committed content).
//
// Ownership and thread-safety: a File borrows its Client, which must
// outlive it. Its methods may be called from several threads; they are
// serialized (one operation of a handle at a time). Use one handle per
// thread for parallel I/O on one file.
#pragma once

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/types.h"

namespace cairn {

// Flags of Client::Open; combine with |.
enum OpenFlags : uint32_t {
  kOpenRead = 1u << 0,       // reading allowed
  kOpenWrite = 1u << 1,      // writing allowed
  kOpenCreate = 1u << 2,     // create the file when missing (O_CREAT)
  kOpenExclusive = 1u << 3,  // with kOpenCreate: fail with kExists if it exists (O_EXCL)
  kOpenTruncate = 1u << 4,   // with kOpenWrite: cut to size 0 (O_TRUNC)
  kOpenAppend = 1u << 5,     // with kOpenWrite: every Write goes to the end (O_APPEND)
};

class File {
 public:
  // Closes the handle if Close() was not called; errors are then lost, so
  // call Close() to learn whether the data was committed.
  virtual ~File() = default;

  virtual InodeId ino() const = 0;
  // The size as this handle sees it (its own uncommitted writes included).
  virtual uint64_t size() const = 0;
  // The position Read and Write use.
  virtual uint64_t position() const = 0;
  virtual void Seek(uint64_t position) = 0;

  // Reads up to `n` bytes at the position and advances it; fewer at the
  // end of the file, 0 at or past it. kBadFd without kOpenRead.
  virtual absl::StatusOr<size_t> Read(void* buf, size_t n) = 0;
  // Reads up to `n` bytes at `offset` (the position does not move).
  virtual absl::StatusOr<size_t> Pread(void* buf, size_t n, uint64_t offset) = 0;

  // Writes all `n` bytes at the position (the end with kOpenAppend) and
  // advances it. kBadFd without kOpenWrite.
  virtual absl::Status Write(const void* data, size_t n) = 0;
  // Writes all `n` bytes at `offset` (the position does not move; with
  // kOpenAppend at the end, as Linux does).
  virtual absl::Status Pwrite(const void* data, size_t n, uint64_t offset) = 0;

  // Commits pending writes, then sets the size: bytes past it are gone, a
  // larger size reads as zeros. Needs kOpenWrite.
  virtual absl::Status Truncate(uint64_t size) = 0;

  // Uploads and commits every write so far and makes the metadata durable:
  // the content survives a power loss of any node.
  virtual absl::Status Fsync() = 0;

  // Uploads and commits every write so far, then closes the handle; later
  // calls fail with kBadFd. Idempotent: a second Close returns OK.
  virtual absl::Status Close() = 0;

  // The file's attributes with this handle's view of the size.
  virtual absl::StatusOr<Attr> Stat() = 0;
};

}  // namespace cairn

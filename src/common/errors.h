// Cairn's typed errors.
//
// Every failure is an absl::Status whose canonical code is the nearest
// gRPC/absl code, carrying a precise Cairn error code (Errc) as a payload.
// The edges translate once: ToErrno() for FUSE and the CLI, the gRPC
// layer ships Errc in trailing metadata (src/service, src/client), and the
// S3 gateway will map Errc to S3 error codes.
#pragma once

#include <string_view>

#include "absl/status/status.h"

namespace cairn {

// Precise error codes. The numeric values are part of the wire format
// (sent between servers and clients): only ever add new values.
enum class Errc : int {
  kOk = 0,
  kNotFound = 1,       // ENOENT
  kExists = 2,         // EEXIST
  kNotDir = 3,         // ENOTDIR
  kIsDir = 4,          // EISDIR
  kNotEmpty = 5,       // ENOTEMPTY
  kInvalid = 6,        // EINVAL
  kNameTooLong = 7,    // ENAMETOOLONG
  kLoop = 8,           // ELOOP (too many symlinks / path too deep)
  kNoSpace = 9,        // ENOSPC
  kNoAttr = 10,        // ENODATA: no such extended attribute
  kRange = 11,         // ERANGE: value too large
  kTooBig = 12,        // E2BIG: xattr value over the size limit
  kPermission = 13,    // EPERM
  kAccess = 14,        // EACCES
  kBusy = 15,          // EBUSY (e.g. removing the root)
  kTooManyLinks = 16,  // EMLINK
  kIo = 17,            // EIO: storage failure
  kConflict = 18,      // EAGAIN: transaction conflict, retried internally
  kUnavailable = 19,   // EIO/ENOTCONN: a server could not be reached
  kStaleEpoch = 20,    // ESTALE: cluster map out of date; refresh and retry
  kInternal = 21,      // EIO: a bug or corrupt record
  kNotSupported = 22,  // EOPNOTSUPP
  kTimeout = 23,       // ETIMEDOUT
  kBadFd = 24,         // EBADF
  kCorrupt = 25,       // EIO: checksum mismatch
  kCancelled = 26,     // EINTR
  kStaleUpload = 27,   // EIO: a commit of chunks uploaded too long ago (GC may have taken them)
};

// Builds a status with the given precise code and message.
absl::Status Error(Errc code, std::string_view message);

// The precise code of `status`: the payload when present, otherwise
// derived from the canonical code. kOk for an OK status.
Errc ErrcOf(const absl::Status& status);

// The Linux errno for `status` (0 when OK). One table, used by FUSE and CLI.
int ToErrno(const absl::Status& status);

// Short name of a code, e.g. "NotFound".
std::string_view ErrcName(Errc code);

// Parses a code from its integer value; kInternal for unknown values.
Errc ErrcFromInt(int value);

// Convenience constructors.
inline absl::Status NotFound(std::string_view m) { return Error(Errc::kNotFound, m); }
inline absl::Status Exists(std::string_view m) { return Error(Errc::kExists, m); }
inline absl::Status NotDir(std::string_view m) { return Error(Errc::kNotDir, m); }
inline absl::Status IsDir(std::string_view m) { return Error(Errc::kIsDir, m); }
inline absl::Status NotEmpty(std::string_view m) { return Error(Errc::kNotEmpty, m); }
inline absl::Status Invalid(std::string_view m) { return Error(Errc::kInvalid, m); }

}  // namespace cairn

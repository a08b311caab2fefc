#include "common/errors.h"

#include <cerrno>
#include <string>

#include "absl/strings/cord.h"

namespace cairn {
namespace {

constexpr absl::string_view kPayloadUrl = "cairn.errc";

struct ErrcInfo {
  Errc code;
  absl::StatusCode canonical;
  int err;
  std::string_view name;
};

// The one translation table: precise code -> canonical code, errno, name.
constexpr ErrcInfo kTable[] = {
    {Errc::kOk, absl::StatusCode::kOk, 0, "Ok"},
    {Errc::kNotFound, absl::StatusCode::kNotFound, ENOENT, "NotFound"},
    {Errc::kExists, absl::StatusCode::kAlreadyExists, EEXIST, "Exists"},
    {Errc::kNotDir, absl::StatusCode::kFailedPrecondition, ENOTDIR, "NotDir"},
    {Errc::kIsDir, absl::StatusCode::kFailedPrecondition, EISDIR, "IsDir"},
    {Errc::kNotEmpty, absl::StatusCode::kFailedPrecondition, ENOTEMPTY, "NotEmpty"},
    {Errc::kInvalid, absl::StatusCode::kInvalidArgument, EINVAL, "Invalid"},
    {Errc::kNameTooLong, absl::StatusCode::kInvalidArgument, ENAMETOOLONG, "NameTooLong"},
    {Errc::kLoop, absl::StatusCode::kInvalidArgument, ELOOP, "Loop"},
    {Errc::kNoSpace, absl::StatusCode::kResourceExhausted, ENOSPC, "NoSpace"},
    {Errc::kNoAttr, absl::StatusCode::kNotFound, ENODATA, "NoAttr"},
    {Errc::kRange, absl::StatusCode::kOutOfRange, ERANGE, "Range"},
    {Errc::kTooBig, absl::StatusCode::kInvalidArgument, E2BIG, "TooBig"},
    {Errc::kPermission, absl::StatusCode::kPermissionDenied, EPERM, "Permission"},
    {Errc::kAccess, absl::StatusCode::kPermissionDenied, EACCES, "Access"},
    {Errc::kBusy, absl::StatusCode::kFailedPrecondition, EBUSY, "Busy"},
    {Errc::kTooManyLinks, absl::StatusCode::kResourceExhausted, EMLINK, "TooManyLinks"},
    {Errc::kIo, absl::StatusCode::kDataLoss, EIO, "Io"},
    {Errc::kConflict, absl::StatusCode::kAborted, EAGAIN, "Conflict"},
    {Errc::kUnavailable, absl::StatusCode::kUnavailable, ENOTCONN, "Unavailable"},
    {Errc::kStaleEpoch, absl::StatusCode::kFailedPrecondition, ESTALE, "StaleEpoch"},
    {Errc::kInternal, absl::StatusCode::kInternal, EIO, "Internal"},
    {Errc::kNotSupported, absl::StatusCode::kUnimplemented, EOPNOTSUPP, "NotSupported"},
    {Errc::kTimeout, absl::StatusCode::kDeadlineExceeded, ETIMEDOUT, "Timeout"},
    {Errc::kBadFd, absl::StatusCode::kInvalidArgument, EBADF, "BadFd"},
    {Errc::kCorrupt, absl::StatusCode::kDataLoss, EIO, "Corrupt"},
    {Errc::kCancelled, absl::StatusCode::kCancelled, EINTR, "Cancelled"},
    {Errc::kStaleUpload, absl::StatusCode::kFailedPrecondition, EIO, "StaleUpload"},
};

const ErrcInfo& Info(Errc code) {
  for (const auto& info : kTable) {
    if (info.code == code) return info;
  }
  return kTable[static_cast<int>(Errc::kInternal)];
}

// Used only for statuses that carry no payload (from libraries).
Errc FromCanonical(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return Errc::kOk;
    case absl::StatusCode::kNotFound:
      return Errc::kNotFound;
    case absl::StatusCode::kAlreadyExists:
      return Errc::kExists;
    case absl::StatusCode::kInvalidArgument:
      return Errc::kInvalid;
    case absl::StatusCode::kOutOfRange:
      return Errc::kRange;
    case absl::StatusCode::kResourceExhausted:
      return Errc::kNoSpace;
    case absl::StatusCode::kPermissionDenied:
      return Errc::kPermission;
    case absl::StatusCode::kUnauthenticated:
      return Errc::kAccess;
    case absl::StatusCode::kAborted:
      return Errc::kConflict;
    case absl::StatusCode::kUnavailable:
      return Errc::kUnavailable;
    case absl::StatusCode::kDeadlineExceeded:
      return Errc::kTimeout;
    case absl::StatusCode::kUnimplemented:
      return Errc::kNotSupported;
    case absl::StatusCode::kCancelled:
      return Errc::kCancelled;
    case absl::StatusCode::kDataLoss:
      return Errc::kIo;
    default:
      return Errc::kInternal;
  }
}

}  // namespace

absl::Status Error(Errc code, std::string_view message) {
  const ErrcInfo& info = Info(code);
  if (info.canonical == absl::StatusCode::kOk) return absl::OkStatus();
  absl::Status status(info.canonical, absl::string_view(message.data(), message.size()));
  status.SetPayload(kPayloadUrl, absl::Cord(std::to_string(static_cast<int>(code))));
  return status;
}

Errc ErrcOf(const absl::Status& status) {
  if (status.ok()) return Errc::kOk;
  auto payload = status.GetPayload(kPayloadUrl);
  if (payload.has_value()) {
    int value = 0;
    for (char c : std::string(*payload)) {
      if (c < '0' || c > '9') return FromCanonical(status.code());
      value = value * 10 + (c - '0');
      if (value > 10000) return Errc::kInternal;
    }
    return ErrcFromInt(value);
  }
  return FromCanonical(status.code());
}

int ToErrno(const absl::Status& status) { return Info(ErrcOf(status)).err; }

std::string_view ErrcName(Errc code) { return Info(code).name; }

Errc ErrcFromInt(int value) {
  for (const auto& info : kTable) {
    if (static_cast<int>(info.code) == value) return info.code;
  }
  return Errc::kInternal;
}

}  // namespace cairn

// Request checks and conversions between the Meta protos and the Namespace
// types. Every field of every request passes through here before the
// Namespace sees it: a missing or malformed field is a typed error
// (kInvalid, or kNameTooLong / kRange / kTooBig for oversized strings, as
// Linux reports them) and the request changes nothing.
//
// The Namespace validates names and paths fully (meta/names.h); these
// checks bound sizes and catch what the proto allows but the API does not
// (an unset Ref, inode 0, mode bits above 07777, unknown flags).
#pragma once

#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "meta.pb.h"
#include "meta/namespace.h"
#include "records.pb.h"

namespace cairn::service {

// `field` names the field in error messages. kInvalid when the Ref is
// unset, names inode 0, or holds an empty or relative path; kNameTooLong
// for a path over PATH_MAX.
absl::StatusOr<meta::Ref> RefFromProto(const proto::Ref& ref, bool present, std::string_view field);

// A directory-entry name: kInvalid when empty, kNameTooLong over NAME_MAX.
absl::Status CheckName(std::string_view name, std::string_view field);
// Permission bits: kInvalid above 07777.
absl::Status CheckMode(uint32_t mode);
// A symlink target: kInvalid when empty, kNameTooLong over 4095 bytes.
absl::Status CheckSymlinkTarget(std::string_view target);
// Extended attributes: name kInvalid when empty, kRange over 255 bytes;
// value kTooBig over 64 KiB.
absl::Status CheckXattrName(std::string_view name);
absl::Status CheckXattrValue(std::string_view value);
// Flags: kInvalid for unknown bits or both bits set (the two are exclusive).
absl::Status CheckRenameFlags(uint32_t flags);
absl::Status CheckXattrFlags(uint32_t flags);

void ToProto(const proto::InodeRecord& record, proto::Attr* attr);

}  // namespace cairn::service

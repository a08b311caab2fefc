// Validation of names and paths: every name and path from outside passes
// through here before it reaches a key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace cairn::meta {

inline constexpr size_t kMaxNameLength = 255;   // bytes, as NAME_MAX
inline constexpr size_t kMaxPathLength = 4096;  // bytes, as PATH_MAX
inline constexpr size_t kMaxPathDepth = 1024;   // components in one path
inline constexpr int kMaxSymlinkFollows = 40;   // as Linux's ELOOP limit
inline constexpr size_t kMaxSymlinkTarget = 4095;

// A directory entry name: 1..255 bytes, no '/', no NUL, not "." or "..".
// Errors: kInvalid (empty, '/', NUL, "." / ".."), kNameTooLong.
absl::Status ValidateName(std::string_view name);

// Splits an absolute path into its components. Repeated and trailing
// slashes are ignored ("/a//b/" is {"a","b"}); "/" is {}. Errors: kInvalid
// for a relative path, a NUL byte, or a "." or ".." component (clients
// normalize paths before sending them); kNameTooLong for a component over
// 255 bytes or a path over 4096 bytes; kLoop for more than kMaxPathDepth
// components.
absl::StatusOr<std::vector<std::string_view>> SplitPath(std::string_view path);

// Lexically normalizes `path` against the absolute directory `cwd`:
// resolves "." and "..", removes repeated slashes. The result is absolute.
// No symlink is followed. Used by clients (CLI, shell) before sending.
// `cwd` is used (and must be absolute) only when `path` is relative; ".."
// at the root stays at the root. Errors: kInvalid for an empty path, a NUL
// byte or a relative cwd; kNameTooLong for a component over 255 bytes or a
// result over 4096 bytes; kLoop for more than kMaxPathDepth components. A
// result always passes SplitPath.
absl::StatusOr<std::string> NormalizePath(std::string_view cwd, std::string_view path);

// A symlink target: 1..4095 bytes, no NUL. Errors: kInvalid (empty, NUL),
// kNameTooLong.
absl::Status ValidateSymlinkTarget(std::string_view target);

// Extended attribute name: 1..255 bytes, no NUL, with a namespace prefix
// ("user.", "trusted.", "security.", "system.") followed by at least one
// byte. Value at most 64 KiB. Errors, as Linux's setxattr: kInvalid (empty,
// NUL, a bare prefix), kRange (over 255 bytes), kNotSupported (no known
// namespace prefix).
inline constexpr size_t kMaxXattrValue = 64 * 1024;
inline constexpr size_t kMaxXattrBytesPerInode = 256 * 1024;  // all names + values
absl::Status ValidateXattrName(std::string_view name);

}  // namespace cairn::meta

#include "meta/names.h"

#include <array>

#include "common/errors.h"

namespace cairn::meta {
namespace {

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Appends the components of `path` to `parts`, resolving "." and ".."
// lexically ("/.." stays at the root). Checks each component's length.
absl::Status Normalize(std::string_view path, std::vector<std::string_view>& parts) {
  size_t pos = 0;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    if (part.size() > kMaxNameLength) {
      return Error(Errc::kNameTooLong, "path component longer than 255 bytes");
    }
    parts.push_back(part);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(std::string_view name) {
  if (name.empty()) return Error(Errc::kInvalid, "empty name");
  if (name == "." || name == "..") return Error(Errc::kInvalid, "name is \".\" or \"..\"");
  if (name.size() > kMaxNameLength) return Error(Errc::kNameTooLong, "name longer than 255 bytes");
  if (name.find('/') != std::string_view::npos) return Error(Errc::kInvalid, "'/' in name");
  if (HasNul(name)) return Error(Errc::kInvalid, "NUL byte in name");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string_view>> SplitPath(std::string_view path) {
  if (path.empty() || path[0] != '/') return Error(Errc::kInvalid, "path is not absolute");
  if (path.size() > kMaxPathLength) return Error(Errc::kNameTooLong, "path longer than 4096 bytes");
  if (HasNul(path)) return Error(Errc::kInvalid, "NUL byte in path");
  std::vector<std::string_view> parts;
  size_t pos = 1;
  while (pos < path.size()) {
    size_t end = path.find('/', pos);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty()) continue;
    if (part == "." || part == "..") {
      return Error(Errc::kInvalid, "\".\" or \"..\" in path (normalize it first)");
    }
    if (part.size() > kMaxNameLength) {
      return Error(Errc::kNameTooLong, "path component longer than 255 bytes");
    }
    if (parts.size() == kMaxPathDepth) return Error(Errc::kLoop, "path deeper than 1024");
    parts.push_back(part);
  }
  return parts;
}

absl::StatusOr<std::string> NormalizePath(std::string_view cwd, std::string_view path) {
  if (path.empty()) return Error(Errc::kInvalid, "empty path");
  if (HasNul(path) || HasNul(cwd)) return Error(Errc::kInvalid, "NUL byte in path");
  std::vector<std::string_view> parts;
  if (path[0] != '/') {
    if (cwd.empty() || cwd[0] != '/')
      return Error(Errc::kInvalid, "working directory is not absolute");
    absl::Status s = Normalize(cwd, parts);
    if (!s.ok()) return s;
  }
  absl::Status s = Normalize(path, parts);
  if (!s.ok()) return s;
  if (parts.size() > kMaxPathDepth) return Error(Errc::kLoop, "path deeper than 1024");
  if (parts.empty()) return std::string("/");
  size_t size = 0;
  for (std::string_view part : parts) size += 1 + part.size();
  if (size > kMaxPathLength) return Error(Errc::kNameTooLong, "path longer than 4096 bytes");
  std::string out(size, '/');
  size_t pos = 0;
  for (std::string_view part : parts) {
    part.copy(out.data() + pos + 1, part.size());
    pos += 1 + part.size();
  }
  return out;
}

absl::Status ValidateSymlinkTarget(std::string_view target) {
  if (target.empty()) return Error(Errc::kInvalid, "empty symlink target");
  if (target.size() > kMaxSymlinkTarget) {
    return Error(Errc::kNameTooLong, "symlink target longer than 4095 bytes");
  }
  if (HasNul(target)) return Error(Errc::kInvalid, "NUL byte in symlink target");
  return absl::OkStatus();
}

absl::Status ValidateXattrName(std::string_view name) {
  static constexpr std::array<std::string_view, 4> kNamespaces = {"user.", "trusted.", "security.",
                                                                  "system."};
  if (name.empty()) return Error(Errc::kInvalid, "empty xattr name");
  if (name.size() > kMaxNameLength) return Error(Errc::kRange, "xattr name longer than 255 bytes");
  if (HasNul(name)) return Error(Errc::kInvalid, "NUL byte in xattr name");
  for (std::string_view ns : kNamespaces) {
    if (name.size() > ns.size() && name.substr(0, ns.size()) == ns) return absl::OkStatus();
    if (name == ns) return Error(Errc::kInvalid, "xattr name is only a namespace prefix");
  }
  return Error(Errc::kNotSupported, "xattr name without a known namespace prefix");
}

}  // namespace cairn::meta

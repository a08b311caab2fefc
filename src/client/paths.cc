#include "client/paths.h"

#include "common/errors.h"

namespace cairn::client {

inline constexpr size_t kMaxPathLength = 4096;  // as PATH_MAX and the server's limit

absl::Status CheckPath(std::string_view path) {
  if (path.empty()) return Invalid("empty path");
  if (path.front() != '/') return Invalid("path is not absolute: " + std::string(path));
  if (path.size() > kMaxPathLength) return Error(Errc::kNameTooLong, "path too long");
  return absl::OkStatus();
}

absl::StatusOr<ParentAndName> SplitParent(std::string_view path) {
  absl::Status ok = CheckPath(path);
  if (!ok.ok()) return ok;
  size_t end = path.size();
  while (end > 1 && path[end - 1] == '/') --end;
  path = path.substr(0, end);
  if (path == "/") return ParentAndName{"/", ""};
  size_t slash = path.rfind('/');
  std::string_view parent = path.substr(0, slash);
  while (parent.size() > 1 && parent.back() == '/') parent.remove_suffix(1);
  ParentAndName out;
  out.parent = parent.empty() ? "/" : std::string(parent);
  out.name = std::string(path.substr(slash + 1));
  return out;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
}

}  // namespace cairn::client

// Path helpers of the client library: splitting an absolute path into the
// parent directory the server resolves and the entry name.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace cairn::client {

struct ParentAndName {
  std::string parent;  // absolute; "/" for entries of the root
  std::string name;    // empty only for the root itself
};

// "/a/b" -> {"/a", "b"}; "/a" -> {"/", "a"}; "/a/b/" -> {"/a", "b"};
// "/" (or "//") -> {"/", ""}. kInvalid for an empty or relative path,
// kNameTooLong for a path over PATH_MAX (4096 bytes).
absl::StatusOr<ParentAndName> SplitParent(std::string_view path);

// Checks an absolute path as SplitParent does.
absl::Status CheckPath(std::string_view path);

// "/" + "a" -> "/a"; "/d" + "a" -> "/d/a".
std::string JoinPath(std::string_view dir, std::string_view name);

}  // namespace cairn::client

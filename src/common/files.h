// Small file helpers shared by the servers.
//
// Thread-safety: plain functions.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cairn {

// Replaces `path` with `text` atomically: a temporary file in the same
// directory ("PATH.tmp.PID"), then rename, so a reader sees the old file or
// the whole new one, never a part. Not synced: for ready files and other
// state a crash may lose. Errors are kIo with the failing step and errno.
absl::Status ReplaceFile(const std::string& path, std::string_view text);

}  // namespace cairn

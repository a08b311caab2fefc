// Client::Open and the other file-data calls of the Client (policies, the
// cluster map, a file's chunks), as functions over the shared DataContext.
#pragma once

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "cairn/client.h"
#include "client/data_context.h"

namespace cairn::client {

// open_file.cc
absl::StatusOr<std::unique_ptr<File>> OpenFile(DataContext& ctx, std::string_view path,
                                               uint32_t flags, uint32_t mode);

// data_info.cc
absl::StatusOr<PolicyInfo> SetPolicy(DataContext& ctx, std::string_view path,
                                     const StoragePolicy& policy);
absl::StatusOr<PolicyInfo> GetPolicy(DataContext& ctx, std::string_view path);
absl::StatusOr<ClusterInfo> GetClusterStatus(DataContext& ctx);
absl::StatusOr<FileChunksInfo> GetFileChunks(DataContext& ctx, std::string_view path);

}  // namespace cairn::client

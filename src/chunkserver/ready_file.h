// Ready files: once a server is serving, `--ready-file FILE` gets a small
// JSON object with its bound addresses, so scripts and tests that start it
// with port 0 learn where it listens.
//
// Thread-safety: plain functions.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace cairn::chunkserver {

class ChunkServer;

// Writes `json` (one line) to `path` atomically: a temporary file in the
// same directory, then rename, so a reader never sees a partial file.
absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json);

// {"data":..,"grpc":..,"http":..,"node_id":N} of one chunk server.
nlohmann::json ServerJson(const ChunkServer& server);

// ServerJson plus "pid", written with WriteJsonFile.
absl::Status WriteReadyFile(const std::string& path, const ChunkServer& server);

}  // namespace cairn::chunkserver

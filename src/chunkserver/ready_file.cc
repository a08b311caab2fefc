#include "chunkserver/ready_file.h"

#include <unistd.h>

#include "chunkserver/chunk_server.h"
#include "common/files.h"

namespace cairn::chunkserver {

absl::Status WriteJsonFile(const std::string& path, const nlohmann::json& json) {
  return ReplaceFile(path, json.dump() + "\n");
}

nlohmann::json ServerJson(const ChunkServer& server) {
  return {{"data", server.data_address()},
          {"grpc", server.grpc_address()},
          {"http", server.http_address()},
          {"node_id", server.node_id().value()}};
}

absl::Status WriteReadyFile(const std::string& path, const ChunkServer& server) {
  nlohmann::json j = ServerJson(server);
  j["pid"] = ::getpid();
  return WriteJsonFile(path, j);
}

}  // namespace cairn::chunkserver

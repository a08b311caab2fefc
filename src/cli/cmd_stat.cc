// cairn stat [--json] [--chunks] PATH...
//
// --chunks adds, for regular files, every slot's chunk: offset, id,
// length, placement group and the nodes of its chain now.
#include <cstdio>
#include <optional>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct StatArgs {
  ClientFlags client;
  bool json = false;
  bool chunks = false;
  std::vector<std::string> paths;
};

void PrintChunks(const FileChunksInfo& info) {
  std::printf("Chunks: %zu slots of %llu bytes, %u replicas, map epoch %llu\n", info.slots.size(),
              static_cast<unsigned long long>(info.chunk_size), info.replicas,
              static_cast<unsigned long long>(info.epoch));
  if (info.slots.empty()) return;
  std::printf("  %-6s %-14s %-10s %-5s %-32s %s\n", "SLOT", "OFFSET", "LENGTH", "PG", "CHUNK",
              "NODES (head first)");
  for (const SlotChunk& c : info.slots) {
    std::string nodes;
    for (const ChunkReplica& r : c.chain) {
      if (!nodes.empty()) nodes += " ";
      nodes += r.node.ToString() + "@" + (r.data_address.empty() ? "?" : r.data_address);
    }
    if (c.id.empty()) {
      std::printf("  %-6llu %-14llu %-10s %-5s %-32s\n", static_cast<unsigned long long>(c.slot),
                  static_cast<unsigned long long>(c.offset), "-", "-", "(hole)");
      continue;
    }
    std::printf("  %-6llu %-14llu %-10llu %-5u %-32s %s\n", static_cast<unsigned long long>(c.slot),
                static_cast<unsigned long long>(c.offset),
                static_cast<unsigned long long>(c.length), c.pg.value(), c.id.c_str(),
                nodes.c_str());
  }
}

nlohmann::json ChunksJson(const FileChunksInfo& info) {
  nlohmann::json chunks = nlohmann::json::array();
  for (const SlotChunk& c : info.slots) {
    nlohmann::json nodes = nlohmann::json::array();
    for (const ChunkReplica& r : c.chain) {
      nodes.push_back({{"id", r.node.value()}, {"address", r.data_address}});
    }
    chunks.push_back({{"slot", c.slot},
                      {"offset", c.offset},
                      {"id", c.id},
                      {"length", c.length},
                      {"pg", c.pg.value()},
                      {"nodes", nodes}});
  }
  return chunks;
}

void PrintText(const std::string& path, const Attr& a) {
  std::string file = path;
  if (a.type == FileType::kSymlink) file += " -> " + a.symlink_target;
  std::printf("  File: %s\n", file.c_str());
  std::printf("  Size: %-12llu Type: %s\n", static_cast<unsigned long long>(a.size),
              std::string(FileTypeName(a.type)).c_str());
  std::printf(" Inode: %-12llu Links: %u\n", static_cast<unsigned long long>(a.ino.value()),
              a.nlink);
  std::printf("Access: (%04o/%s)  Uid: %u  Gid: %u\n", a.mode, ModeString(a.type, a.mode).c_str(),
              a.uid, a.gid);
  std::printf("Access: %s\n", LongTime(a.atime_ns).c_str());
  std::printf("Modify: %s\n", LongTime(a.mtime_ns).c_str());
  std::printf("Change: %s\n", LongTime(a.ctime_ns).c_str());
  std::printf(" Birth: %s\n", LongTime(a.crtime_ns).c_str());
}

int RunStat(const StatArgs& args) {
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  int rc = kExitOk;
  nlohmann::json all = nlohmann::json::array();
  for (const std::string& arg : args.paths) {
    auto path = AbsolutePath(arg);
    if (!path.ok()) {
      rc = Report(arg, path.status());
      continue;
    }
    auto attr = client->Stat(*path);
    if (!attr.ok()) {
      rc = Report(*path, attr.status(), &args.client);
      continue;
    }
    std::optional<FileChunksInfo> chunks;
    if (args.chunks && attr->type == FileType::kRegular) {
      auto got = client->FileChunks(*path);
      if (!got.ok()) {
        rc = Report(*path, got.status(), &args.client);
        continue;
      }
      chunks = std::move(*got);
    }
    if (args.json) {
      nlohmann::json j = AttrJson(*path, *attr);
      if (chunks) {
        j["chunk_size"] = chunks->chunk_size;
        j["replicas"] = chunks->replicas;
        j["epoch"] = chunks->epoch;
        j["chunks"] = ChunksJson(*chunks);
      }
      all.push_back(std::move(j));
    } else {
      PrintText(*path, *attr);
      if (chunks) PrintChunks(*chunks);
    }
  }
  if (args.json) {
    // One path: a single object; several: an array of them.
    if (args.paths.size() == 1) {
      if (!all.empty())
        std::printf("%s\n",
                    all[0].dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n",
                  all.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    }
  }
  return rc;
}

}  // namespace

void AddStat(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<StatArgs>();
  CLI::App* cmd = app.add_subcommand("stat", "Show attributes (symlinks are not followed)");
  cmd->add_flag("--json", args->json, "Print JSON: one object for one path, an array for several");
  cmd->add_flag("--chunks", args->chunks,
                "Also list a file's chunks: slot, offset, id, length, PG and nodes (JSON: "
                "chunk_size, replicas, epoch, chunks: [{slot, offset, id, length, pg, nodes}])");
  cmd->add_option("PATH", args->paths, "Paths to show")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunStat(*args); });
}

}  // namespace cairn::cli

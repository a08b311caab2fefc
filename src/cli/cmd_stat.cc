// cairn stat [--json] PATH...
#include <cstdio>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct StatArgs {
  ClientFlags client;
  bool json = false;
  std::vector<std::string> paths;
};

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
    if (args.json) {
      all.push_back(AttrJson(*path, *attr));
    } else {
      PrintText(*path, *attr);
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
  cmd->add_option("PATH", args->paths, "Paths to show")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunStat(*args); });
}

}  // namespace cairn::cli

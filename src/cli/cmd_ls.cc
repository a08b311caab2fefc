// cairn ls [-l] [--json] [PATH]
#include <algorithm>
#include <cstdio>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct LsArgs {
  ClientFlags client;
  bool long_format = false;
  bool json = false;
  std::string path = ".";
};

struct Row {
  std::string name;
  Attr attr;
};

void PrintLong(const std::vector<Row>& rows) {
  size_t w_nlink = 1, w_uid = 1, w_gid = 1, w_size = 1;
  for (const Row& r : rows) {
    w_nlink = std::max(w_nlink, std::to_string(r.attr.nlink).size());
    w_uid = std::max(w_uid, std::to_string(r.attr.uid).size());
    w_gid = std::max(w_gid, std::to_string(r.attr.gid).size());
    w_size = std::max(w_size, std::to_string(r.attr.size).size());
  }
  for (const Row& r : rows) {
    std::string name = r.name;
    if (r.attr.type == FileType::kSymlink) name += " -> " + r.attr.symlink_target;
    std::printf("%s %*u %*u %*u %*llu %s %s\n", ModeString(r.attr.type, r.attr.mode).c_str(),
                static_cast<int>(w_nlink), r.attr.nlink, static_cast<int>(w_uid), r.attr.uid,
                static_cast<int>(w_gid), r.attr.gid, static_cast<int>(w_size),
                static_cast<unsigned long long>(r.attr.size), ShortTime(r.attr.mtime_ns).c_str(),
                name.c_str());
  }
}

int RunLs(const LsArgs& args) {
  auto path = AbsolutePath(args.path);
  if (!path.ok()) return Report(args.path, path.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;

  auto self = client->Stat(*path);
  if (!self.ok()) return Report(*path, self.status(), &args.client);

  std::vector<Row> rows;
  if (self->type != FileType::kDirectory) {
    // A file or symlink lists as itself.
    rows.push_back({args.path, *self});
  } else {
    const bool attrs = args.long_format || args.json;
    auto entries = client->ReadDir(*path, attrs);
    if (!entries.ok()) return Report(*path, entries.status(), &args.client);
    rows.reserve(entries->size());
    for (DirEntry& e : *entries) {
      Row row{std::move(e.name), {}};
      if (e.attr.has_value()) {
        row.attr = *e.attr;
      } else {
        row.attr.ino = e.ino;
        row.attr.type = e.type;
      }
      rows.push_back(std::move(row));
    }
  }

  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Row& r : rows) out.push_back(AttrJson(r.name, r.attr));
    std::printf("%s\n", out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
  } else if (args.long_format) {
    PrintLong(rows);
  } else {
    for (const Row& r : rows) std::printf("%s\n", r.name.c_str());
  }
  return kExitOk;
}

}  // namespace

void AddLs(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<LsArgs>();
  CLI::App* cmd = app.add_subcommand("ls", "List a directory (or show one file)");
  cmd->add_flag("-l,--long", args->long_format,
                "Long format: type and mode, links, uid, gid, size, mtime, name");
  cmd->add_flag("--json", args->json,
                "Print a JSON array of {name, ino, type, mode, nlink, uid, gid, size, "
                "mtime_ns, ctime_ns, atime_ns, target?}");
  cmd->add_option("PATH", args->path, "Directory or file to list")->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunLs(*args); });
}

}  // namespace cairn::cli

// cairn xattr get|set|list|rm: extended attributes.
#include <cstdio>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct XattrArgs {
  ClientFlags client;
  std::string path;
  std::string name;
  std::string value;
  bool create = false;
  bool replace = false;
};

// Runs `op` with a connected client and the normalized path.
template <typename Op>
int WithClient(const XattrArgs& args, Op&& op) {
  auto path = AbsolutePath(args.path);
  if (!path.ok()) return Report(args.path, path.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  absl::Status s = op(*client, *path);
  if (!s.ok()) return Report(*path, s, &args.client);
  return kExitOk;
}

CLI::App* Sub(CLI::App* parent, const char* name, const char* help, XattrArgs* args) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("PATH", args->path, "File, directory or symlink")->required();
  AddClientFlags(cmd, &args->client);
  return cmd;
}

}  // namespace

void AddXattr(CLI::App& app, Registry& registry) {
  CLI::App* xattr = app.add_subcommand("xattr", "Get, set, list or remove extended attributes");
  xattr->require_subcommand(1);

  auto get = std::make_shared<XattrArgs>();
  CLI::App* cmd = Sub(xattr, "get", "Print the value of one attribute", get.get());
  cmd->add_option("NAME", get->name, "Attribute name, e.g. user.color")->required();
  registry.Add(cmd, [get] {
    return WithClient(*get, [&](Client& c, const std::string& path) -> absl::Status {
      auto value = c.GetXattr(path, get->name);
      if (!value.ok()) return value.status();
      std::fwrite(value->data(), 1, value->size(), stdout);
      std::fputc('\n', stdout);
      return absl::OkStatus();
    });
  });

  auto set = std::make_shared<XattrArgs>();
  cmd = Sub(xattr, "set", "Set an attribute", set.get());
  cmd->add_option("NAME", set->name, "Attribute name, e.g. user.color")->required();
  cmd->add_option("VALUE", set->value, "New value")->required();
  auto* create = cmd->add_flag("--create", set->create, "Fail if the attribute exists");
  cmd->add_flag("--replace", set->replace, "Fail if the attribute does not exist")
      ->excludes(create);
  registry.Add(cmd, [set] {
    uint32_t flags = (set->create ? kXattrCreate : 0) | (set->replace ? kXattrReplace : 0);
    return WithClient(*set, [&](Client& c, const std::string& path) {
      return c.SetXattr(path, set->name, set->value, flags);
    });
  });

  auto list = std::make_shared<XattrArgs>();
  cmd = Sub(xattr, "list", "List attribute names", list.get());
  registry.Add(cmd, [list] {
    return WithClient(*list, [&](Client& c, const std::string& path) -> absl::Status {
      auto names = c.ListXattr(path);
      if (!names.ok()) return names.status();
      for (const std::string& n : *names) std::printf("%s\n", n.c_str());
      return absl::OkStatus();
    });
  });

  auto rm = std::make_shared<XattrArgs>();
  cmd = Sub(xattr, "rm", "Remove an attribute", rm.get());
  cmd->add_option("NAME", rm->name, "Attribute name")->required();
  registry.Add(cmd, [rm] {
    return WithClient(
        *rm, [&](Client& c, const std::string& path) { return c.RemoveXattr(path, rm->name); });
  });
}

}  // namespace cairn::cli

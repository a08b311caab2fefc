// cairn readlink PATH...
#include <cstdio>

#include "cli/common.h"

namespace cairn::cli {
namespace {

struct ReadlinkArgs {
  ClientFlags client;
  std::vector<std::string> paths;
};

int RunReadlink(const ReadlinkArgs& args) {
  return ForEachPath(args.client, args.paths, [](Client& client, const std::string& path) {
    auto target = client.Readlink(path);
    if (target.ok()) std::printf("%s\n", target->c_str());
    return target.status();
  });
}

}  // namespace

void AddReadlink(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<ReadlinkArgs>();
  CLI::App* cmd = app.add_subcommand("readlink", "Print the targets of symbolic links");
  cmd->add_option("PATH", args->paths, "Symbolic links to read")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunReadlink(*args); });
}

}  // namespace cairn::cli

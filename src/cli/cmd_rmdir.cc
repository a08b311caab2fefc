// cairn rmdir PATH...
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct RmdirArgs {
  ClientFlags client;
  std::vector<std::string> paths;
};

int RunRmdir(const RmdirArgs& args) {
  return ForEachPath(args.client, args.paths,
                     [](Client& client, const std::string& path) { return client.Rmdir(path); });
}

}  // namespace

void AddRmdir(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<RmdirArgs>();
  CLI::App* cmd = app.add_subcommand("rmdir", "Remove empty directories");
  cmd->add_option("PATH", args->paths, "Directories to remove")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunRmdir(*args); });
}

}  // namespace cairn::cli

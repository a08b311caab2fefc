// cairn touch PATH...
#include "cli/common.h"

namespace cairn::cli {
namespace {

struct TouchArgs {
  ClientFlags client;
  std::vector<std::string> paths;
};

int RunTouch(const TouchArgs& args) {
  return ForEachPath(args.client, args.paths, [](Client& client, const std::string& path) {
    return client.Touch(path).status();
  });
}

}  // namespace

void AddTouch(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<TouchArgs>();
  CLI::App* cmd = app.add_subcommand(
      "touch", "Set access and modification times to now, creating empty files as needed");
  cmd->add_option("PATH", args->paths, "Files to touch")->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunTouch(*args); });
}

}  // namespace cairn::cli

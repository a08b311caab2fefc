// cairn ln [-s] TARGET LINK: hard or symbolic link; when LINK is an
// existing directory the link is made inside it (as coreutils ln does).
#include "cli/common.h"
#include "client/paths.h"

namespace cairn::cli {
namespace {

struct LnArgs {
  ClientFlags client;
  bool symbolic = false;
  std::string target;
  std::string link;
};

int RunLn(const LnArgs& args) {
  auto link = AbsolutePath(args.link);
  if (!link.ok()) return Report(args.link, link.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;

  std::string where = *link;
  auto existing = client->Stat(*link);
  if (existing.ok() && existing->type == FileType::kDirectory) {
    where = client::JoinPath(*link, BaseName(args.target));
  }
  if (args.symbolic) {
    // The target is stored as given: a symlink may point anywhere,
    // relative or absolute, existing or not.
    auto made = client->Symlink(args.target, where);
    if (!made.ok()) return Report(where, made.status(), &args.client);
    return kExitOk;
  }
  auto target = AbsolutePath(args.target);
  if (!target.ok()) return Report(args.target, target.status());
  auto made = client->Link(*target, where);
  if (!made.ok()) {
    std::string what = ErrcOf(made.status()) == Errc::kExists ? where : *target;
    return Report(what, made.status(), &args.client);
  }
  return kExitOk;
}

}  // namespace

void AddLn(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<LnArgs>();
  CLI::App* cmd = app.add_subcommand("ln", "Make a hard link (or with -s a symbolic link)");
  cmd->add_flag("-s,--symbolic", args->symbolic, "Make a symbolic link to TARGET");
  cmd->add_option("TARGET", args->target, "What the link points to")->required();
  cmd->add_option("LINK", args->link, "The new link, or an existing directory to put it in")
      ->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunLn(*args); });
}

}  // namespace cairn::cli

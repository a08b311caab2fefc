// cairn mv SRC DST: rename; when DST is an existing directory, SRC moves
// into it (as coreutils mv does).
#include "cli/common.h"
#include "client/paths.h"

namespace cairn::cli {
namespace {

struct MvArgs {
  ClientFlags client;
  bool no_clobber = false;
  std::string src;
  std::string dst;
};

int RunMv(const MvArgs& args) {
  auto src = AbsolutePath(args.src);
  if (!src.ok()) return Report(args.src, src.status());
  auto dst = AbsolutePath(args.dst);
  if (!dst.ok()) return Report(args.dst, dst.status());
  if (*src == "/") return ReportMessage("cannot move '/'");
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;

  std::string target = *dst;
  auto existing = client->Stat(*dst);
  if (existing.ok() && existing->type == FileType::kDirectory) {
    target = client::JoinPath(*dst, BaseName(*src));
  } else if (!existing.ok() && ErrcOf(existing.status()) != Errc::kNotFound) {
    return Report(*dst, existing.status(), &args.client);
  }
  if (target == *src) return kExitOk;  // moving onto itself: nothing to do
  absl::Status s = client->Rename(*src, target, args.no_clobber ? kRenameNoReplace : 0);
  if (!s.ok()) {
    // Say which side the error is about where it is unambiguous.
    std::string what = ErrcOf(s) == Errc::kNotFound ? *src : *src + " -> " + target;
    return Report(what, s, &args.client);
  }
  return kExitOk;
}

}  // namespace

void AddMv(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<MvArgs>();
  CLI::App* cmd =
      app.add_subcommand("mv", "Rename SRC to DST, or move it into DST when DST is a directory");
  cmd->add_flag("-n,--no-clobber", args->no_clobber, "Fail instead of replacing an existing DST");
  cmd->add_option("SRC", args->src, "Path to move")->required();
  cmd->add_option("DST", args->dst, "New path, or an existing directory to move SRC into")
      ->required();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunMv(*args); });
}

}  // namespace cairn::cli

// cairn get [-r] [-j N] REMOTE... LOCAL
//
// Like cp from Cairn to the local file system: LOCAL is the new name of the
// one REMOTE, or an existing directory to copy every REMOTE into; "-"
// writes the one REMOTE file to standard output. Directories need -r;
// their files are copied -j at a time and symlinks are recreated.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "cli/transfer.h"

namespace cairn::cli {
namespace {

struct GetArgs {
  ClientFlags client;
  std::vector<std::string> args;  // REMOTE... LOCAL
  bool recursive = false;
  int jobs = 4;
};

struct Plan {
  std::vector<std::function<int()>> tasks;
  uint64_t bytes = 0;
  int rc = kExitOk;
};

void PlanFile(Client& client, const GetArgs& args, const std::string& from, const std::string& to,
              const Attr& attr, Progress* progress, Plan& plan) {
  plan.bytes += attr.size;
  plan.tasks.push_back([&client, &args, from, to, mode = attr.mode, progress] {
    return DownloadFile(client, args.client, from, to, mode, progress);
  });
}

// Adds the remote tree below `remote` as local directory `local`.
void PlanTree(Client& client, const GetArgs& args, const std::string& remote,
              const std::string& local, uint32_t mode, Progress* progress, Plan& plan) {
  if (::mkdir(local.c_str(), mode & 07777) != 0 && errno != EEXIST) {
    plan.rc = ReportLocal(local, errno);
    return;
  }
  auto entries = client.ReadDir(remote, /*with_attrs=*/true);
  if (!entries.ok()) {
    plan.rc = Report(remote, entries.status(), &args.client);
    return;
  }
  for (const DirEntry& e : *entries) {
    if (!e.attr.has_value()) continue;  // removed meanwhile
    const std::string from = Join(remote, e.name);
    const std::string to = Join(local, e.name);
    switch (e.type) {
      case FileType::kDirectory:
        PlanTree(client, args, from, to, e.attr->mode, progress, plan);
        break;
      case FileType::kRegular:
        PlanFile(client, args, from, to, *e.attr, progress, plan);
        break;
      case FileType::kSymlink:
        if (::symlink(e.attr->symlink_target.c_str(), to.c_str()) != 0) {
          plan.rc = ReportLocal(to, errno);
        }
        break;
      default:
        break;
    }
  }
}

int RunGet(const GetArgs& args) {
  std::vector<std::string> sources(args.args.begin(), args.args.end() - 1);
  const std::string& dest = args.args.back();
  struct stat st;
  const bool into_dir = dest != "-" && ::stat(dest.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  if (sources.size() > 1 && !into_dir) {
    return ReportMessage("target '" + dest + "' is not a directory");
  }
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  Progress progress(0, Progress::IsTerminal() && dest != "-");
  Plan plan;
  for (const std::string& arg : sources) {
    auto src = AbsolutePath(arg);
    if (!src.ok()) {
      plan.rc = Report(arg, src.status());
      continue;
    }
    absl::StatusOr<Attr> attr = client->Stat(*src);
    if (!attr.ok()) {
      plan.rc = Report(*src, attr.status(), &args.client);
      continue;
    }
    const std::string to = into_dir ? Join(dest, BaseName(*src)) : dest;
    if (attr->type == FileType::kDirectory) {
      if (!args.recursive) {
        plan.rc = ReportMessage("-r not specified; omitting directory '" + *src + "'");
        continue;
      }
      if (dest == "-") {
        plan.rc = ReportMessage(*src + ": " + std::strerror(EISDIR));
        continue;
      }
      PlanTree(*client, args, *src, to, attr->mode, &progress, plan);
      continue;
    }
    // A symlink is followed by Open, as cp does for its arguments.
    if (attr->type == FileType::kSymlink) {
      attr->mode = 0644;
      attr->size = 0;
    }
    PlanFile(*client, args, *src, to, *attr, &progress, plan);
  }
  progress.AddTotal(plan.bytes);
  int rc = RunJobs(dest == "-" ? 1 : args.jobs, std::move(plan.tasks));
  progress.Finish();
  return rc != kExitOk ? rc : plan.rc;
}

}  // namespace

void AddGet(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<GetArgs>();
  CLI::App* cmd = app.add_subcommand(
      "get", "Copy files out of Cairn (LOCAL: a new name, a directory, or '-' for stdout)");
  cmd->add_option("REMOTE... LOCAL", args->args, "Remote paths, then the local destination")
      ->expected(2, -1)
      ->required();
  cmd->add_flag("-r,--recursive", args->recursive, "Copy directories and everything below");
  cmd->add_option("-j,--jobs", args->jobs, "Files copied in parallel")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunGet(*args); });
}

}  // namespace cairn::cli

// cairn put [-r] [-j N] LOCAL... REMOTE
//
// Like cp from the local file system into Cairn: REMOTE is the new name of
// the one LOCAL, or an existing directory to put every LOCAL into. "-" as
// LOCAL reads standard input. Directories need -r; their files are copied
// -j at a time, symlinks are recreated, other file types are skipped.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>

#include "cli/transfer.h"

namespace cairn::cli {
namespace {

struct PutArgs {
  ClientFlags client;
  std::vector<std::string> args;  // LOCAL... REMOTE
  bool recursive = false;
  int jobs = 4;
};

// The name a local path gives its copy: "a/b/" -> "b"; "." -> the
// directory's own name.
std::string LocalBaseName(const std::string& path) {
  std::string base = BaseName(path);
  if (base.empty() || base == "." || base == "..") {
    std::error_code ec;
    std::filesystem::path canonical = std::filesystem::weakly_canonical(path, ec);
    if (!ec && !canonical.filename().empty()) base = canonical.filename().string();
  }
  return base;
}

struct Plan {
  std::vector<std::function<int()>> tasks;
  uint64_t bytes = 0;
  int rc = kExitOk;
};

// Adds the tree below local directory `local` as remote `remote`.
void PlanTree(Client& client, const PutArgs& args, const std::string& local,
              const std::string& remote, Progress* progress, Plan& plan) {
  absl::Status made = client.MkdirAll(remote, 0755);
  if (!made.ok()) {
    plan.rc = Report(remote, made, &args.client);
    return;
  }
  std::error_code ec;
  std::filesystem::recursive_directory_iterator it(local, ec), end;
  if (ec) {
    plan.rc = ReportLocal(local, ec.value());
    return;
  }
  for (; it != end; it.increment(ec)) {
    if (ec) {
      plan.rc = ReportLocal(local, ec.value());
      break;
    }
    const std::string from = it->path().string();
    const std::string rel = it->path().lexically_relative(local).string();
    const std::string to = Join(remote, rel);
    struct stat st;
    if (::lstat(from.c_str(), &st) != 0) {
      plan.rc = ReportLocal(from, errno);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      absl::StatusOr<Attr> dir = client.Mkdir(to, st.st_mode & 07777);
      if (!dir.ok() && ErrcOf(dir.status()) != Errc::kExists) {
        plan.rc = Report(to, dir.status(), &args.client);
        it.disable_recursion_pending();
      }
    } else if (S_ISREG(st.st_mode)) {
      plan.bytes += static_cast<uint64_t>(st.st_size);
      plan.tasks.push_back([&client, &args, from, to, mode = st.st_mode, progress] {
        return UploadFile(client, args.client, from, to, mode, progress);
      });
    } else if (S_ISLNK(st.st_mode)) {
      std::error_code lec;
      std::filesystem::path target = std::filesystem::read_symlink(it->path(), lec);
      if (lec) {
        plan.rc = ReportLocal(from, lec.value());
        continue;
      }
      absl::StatusOr<Attr> link = client.Symlink(target.string(), to);
      if (!link.ok()) plan.rc = Report(to, link.status(), &args.client);
    } else {
      plan.rc = ReportMessage("skipping special file '" + from + "'");
    }
  }
}

int RunPut(const PutArgs& args) {
  std::vector<std::string> sources(args.args.begin(), args.args.end() - 1);
  auto dest = AbsolutePath(args.args.back());
  if (!dest.ok()) return Report(args.args.back(), dest.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  absl::StatusOr<Attr> dest_attr = client->Stat(*dest);
  if (!dest_attr.ok() && ErrcOf(dest_attr.status()) != Errc::kNotFound) {
    return Report(*dest, dest_attr.status(), &args.client);
  }
  const bool into_dir = dest_attr.ok() && dest_attr->type == FileType::kDirectory;
  if (sources.size() > 1 && !into_dir) {
    return ReportMessage("target '" + *dest + "' is not a directory");
  }
  Progress progress;
  Plan plan;
  for (const std::string& src : sources) {
    if (src == "-") {
      if (into_dir) {
        plan.rc = ReportMessage("-: cannot put standard input into a directory; name the file");
        continue;
      }
      plan.tasks.push_back(
          [&, to = *dest] { return UploadFile(*client, args.client, "-", to, 0644, &progress); });
      continue;
    }
    struct stat st;
    if (::stat(src.c_str(), &st) != 0) {
      plan.rc = ReportLocal(src, errno);
      continue;
    }
    const std::string to = into_dir ? Join(*dest, LocalBaseName(src)) : *dest;
    if (S_ISDIR(st.st_mode)) {
      if (!args.recursive) {
        plan.rc = ReportMessage("-r not specified; omitting directory '" + src + "'");
        continue;
      }
      PlanTree(*client, args, src, to, &progress, plan);
    } else if (S_ISREG(st.st_mode)) {
      plan.bytes += static_cast<uint64_t>(st.st_size);
      plan.tasks.push_back([&, src, to, mode = st.st_mode] {
        return UploadFile(*client, args.client, src, to, mode, &progress);
      });
    } else {
      plan.rc = ReportMessage("skipping special file '" + src + "'");
    }
  }
  progress.AddTotal(plan.bytes);
  int rc = RunJobs(args.jobs, std::move(plan.tasks));
  progress.Finish();
  return rc != kExitOk ? rc : plan.rc;
}

}  // namespace

void AddPut(CLI::App& app, Registry& registry) {
  auto args = std::make_shared<PutArgs>();
  CLI::App* cmd = app.add_subcommand(
      "put", "Copy local files into Cairn (REMOTE: a new name, or a directory to put into)");
  cmd->add_option("LOCAL... REMOTE", args->args, "Local files ('-': stdin), then the destination")
      ->expected(2, -1)
      ->required();
  cmd->add_flag("-r,--recursive", args->recursive, "Copy directories and everything below");
  cmd->add_option("-j,--jobs", args->jobs, "Files copied in parallel")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunPut(*args); });
}

}  // namespace cairn::cli

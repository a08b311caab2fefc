// cairn admin fsck [PATH] [--repair] [--quick] [--json] [--parallel N]:
// checks that every chunk of every file below PATH (default /) is whole on
// every healthy member of its chain (include/cairn/fsck.h), repairing
// missing and damaged copies with --repair.
//
// Exit status: 0 only when everything is whole (after the repairs with
// --repair), 1 when something is not (or the check failed), 2 for bad
// usage.
#include <cstdio>
#include <string>

#include "absl/time/time.h"
#include "cairn/fsck.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace cairn::cli {
namespace {

struct FsckArgs {
  ClientFlags client;
  std::string path = "/";
  bool repair = false;
  bool quick = false;
  bool json = false;
  int parallel = 4;
};

nlohmann::json ReportJson(const std::string& path, const FsckReport& r) {
  nlohmann::json issues = nlohmann::json::array();
  for (const FsckCopyIssue& i : r.issues) {
    nlohmann::json j = {
        {"path", i.path},       {"offset", i.offset},
        {"chunk", i.chunk_id},  {"node", i.node.value()},
        {"address", i.address}, {"problem", std::string(CopyProblemName(i.problem))},
        {"detail", i.detail},   {"repaired", i.repaired}};
    if (!i.repair_error.empty()) j["repair_error"] = i.repair_error;
    issues.push_back(std::move(j));
  }
  nlohmann::json lost = nlohmann::json::array();
  for (const FsckLostChunk& l : r.lost) {
    lost.push_back(
        {{"path", l.path}, {"offset", l.offset}, {"length", l.length}, {"chunk", l.chunk_id}});
  }
  return {{"path", path},
          {"whole", r.whole()},
          {"files", r.files},
          {"chunks", r.chunks},
          {"copies_checked", r.copies_checked},
          {"bytes_read", r.bytes_read},
          {"missing_copies", r.missing_copies},
          {"bad_copies", r.bad_copies},
          {"unreachable_copies", r.unreachable_copies},
          {"under_replicated", r.under_replicated},
          {"still_under_replicated", r.still_under_replicated},
          {"lost_chunks", r.lost_chunks},
          {"repaired_copies", r.repaired_copies},
          {"repair_failures", r.repair_failures},
          {"issues", issues},
          {"lost", lost},
          {"errors", r.errors}};
}

void PrintText(const std::string& path, const FsckReport& r, bool repair) {
  for (const FsckCopyIssue& i : r.issues) {
    std::string outcome;
    if (i.repaired) {
      outcome = " [repaired]";
    } else if (!i.repair_error.empty()) {
      outcome = " [repair failed: " + i.repair_error + "]";
    }
    std::printf("%s copy: %s offset %llu chunk %s on node %llu (%s): %s%s\n",
                std::string(CopyProblemName(i.problem)).c_str(), i.path.c_str(),
                static_cast<unsigned long long>(i.offset), i.chunk_id.c_str(),
                static_cast<unsigned long long>(i.node.value()),
                i.address.empty() ? "?" : i.address.c_str(), i.detail.c_str(), outcome.c_str());
  }
  for (const FsckLostChunk& l : r.lost) {
    std::printf("LOST: %s offset %llu length %llu chunk %s: no good copy on any holder\n",
                l.path.c_str(), static_cast<unsigned long long>(l.offset),
                static_cast<unsigned long long>(l.length), l.chunk_id.c_str());
  }
  for (const std::string& e : r.errors) std::printf("error: %s\n", e.c_str());
  std::printf(
      "fsck %s: %llu files, %llu chunks, %llu copies checked (%s read)\n"
      "missing copies %llu, bad copies %llu, unreachable copies %llu, under-replicated chunks "
      "%llu, lost chunks %llu\n",
      path.c_str(), static_cast<unsigned long long>(r.files),
      static_cast<unsigned long long>(r.chunks), static_cast<unsigned long long>(r.copies_checked),
      Progress::Bytes(static_cast<double>(r.bytes_read)).c_str(),
      static_cast<unsigned long long>(r.missing_copies),
      static_cast<unsigned long long>(r.bad_copies),
      static_cast<unsigned long long>(r.unreachable_copies),
      static_cast<unsigned long long>(r.under_replicated),
      static_cast<unsigned long long>(r.lost_chunks));
  if (repair) {
    std::printf("repaired copies %llu, repair failures %llu, still under-replicated %llu\n",
                static_cast<unsigned long long>(r.repaired_copies),
                static_cast<unsigned long long>(r.repair_failures),
                static_cast<unsigned long long>(r.still_under_replicated));
  }
  std::printf("%s\n", r.whole() ? "status: whole" : "status: NOT whole");
}

int RunFsck(const FsckArgs& args) {
  if (args.parallel < 1 || args.parallel > 64) {
    std::fprintf(stderr, "cairn: admin fsck: --parallel must be 1..64\n");
    return kExitUsage;
  }
  auto path = AbsolutePath(args.path);
  if (!path.ok()) return Report("admin fsck: " + args.path, path.status());
  ClientOptions options = ClientOptionsOf(args.client);
  FsckOptions fsck;
  fsck.path = *path;
  fsck.repair = args.repair;
  fsck.quick = args.quick;
  fsck.parallelism = args.parallel;
  absl::StatusOr<FsckReport> report = Fsck(options, fsck);
  if (!report.ok()) return Report("admin fsck: " + *path, report.status(), &args.client);
  if (args.json) {
    std::printf("%s\n", ReportJson(*path, *report)
                            .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                            .c_str());
  } else {
    PrintText(*path, *report, args.repair);
  }
  return report->whole() ? kExitOk : kExitFailure;
}

}  // namespace

void AddAdminFsck(CLI::App* admin, Registry& registry) {
  auto args = std::make_shared<FsckArgs>();
  CLI::App* cmd = admin->add_subcommand(
      "fsck", "Check that every chunk below PATH is whole on every replica (and repair)");
  cmd->add_option("path", args->path, "File or directory to check (default /)");
  cmd->add_flag("--repair", args->repair, "Replace missing and damaged copies from a good one");
  cmd->add_flag("--quick", args->quick,
                "Only ask whether each replica holds the chunk (finds missing copies, not "
                "damaged ones)");
  cmd->add_flag("--json", args->json, "Print the report as JSON");
  cmd->add_option("--parallel", args->parallel, "Chunks checked at once (1..64)")
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  registry.Add(cmd, [args] { return RunFsck(*args); });
}

}  // namespace cairn::cli

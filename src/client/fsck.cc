// Fsck (include/cairn/fsck.h): walk, check every copy, repair.
#include "cairn/fsck.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "chunk/chunk_id.h"
#include "client/paths.h"
#include "client/rpc.h"
#include "cluster.grpc.pb.h"
#include "cluster/placement.h"
#include "common/errors.h"
#include "common/status_macros.h"
#include "dataplane/data_client.h"

namespace cairn {
namespace {

// One chunk reference of one file.
struct ChunkTask {
  std::string path;
  uint64_t offset = 0;
  uint64_t length = 0;
  ChunkId id;
  uint32_t replicas = 0;
};

struct Holder {
  NodeId node;
  std::string address;  // "" when the node is unknown or not UP
  std::string why_unusable;
};

// What one chunk's check found; merged into the report under a lock.
struct ChunkResult {
  uint64_t copies_checked = 0;
  uint64_t bytes_read = 0;
  uint64_t good = 0;
  bool short_chain = false;
  std::vector<FsckCopyIssue> issues;
};

class Checker {
 public:
  Checker(const FsckOptions& options, const proto::ClusterMap& map)
      : options_(options), map_(map) {}

  // The holders a chunk should have: the first `replicas` chain members
  // that are not recovering.
  std::vector<Holder> HoldersOf(const ChunkTask& t, bool* short_chain) const {
    const uint32_t pg = cluster::PgOf(t.id, map_.pg_count()).value();
    std::vector<Holder> out;
    if (static_cast<int>(pg) >= map_.pgs_size()) {
      *short_chain = true;
      return out;
    }
    const proto::PgChain& chain = map_.pgs(static_cast<int>(pg));
    for (int i = 0; i < chain.nodes_size() && i < static_cast<int>(t.replicas); ++i) {
      const uint64_t node = chain.nodes(i);
      if (std::find(chain.recovering().begin(), chain.recovering().end(), node) !=
          chain.recovering().end()) {
        continue;
      }
      Holder h{NodeId(node), "", ""};
      const proto::NodeInfo* info = nullptr;
      for (const proto::NodeInfo& n : map_.nodes()) {
        if (n.id() == node) info = &n;
      }
      if (info == nullptr) {
        h.why_unusable = "node not in the cluster map";
      } else if (info->data_address().empty()) {
        h.why_unusable = "node without a data address";
      } else {
        h.address = info->data_address();
        if (info->state() != proto::NODE_UP) h.why_unusable = "node is not up";
      }
      out.push_back(std::move(h));
    }
    *short_chain = out.size() < t.replicas;
    return out;
  }

  ChunkResult Check(const ChunkTask& t) {
    ChunkResult r;
    std::vector<Holder> holders = HoldersOf(t, &r.short_chain);
    std::optional<AlignedBuffer> good_copy;
    std::optional<std::string> good_address;
    auto issue = [&](const Holder& h, CopyProblem p, std::string detail) {
      r.issues.push_back(FsckCopyIssue{t.path, t.offset, t.id.ToString(), h.node, h.address, p,
                                       std::move(detail), false, ""});
    };
    for (const Holder& h : holders) {
      ++r.copies_checked;
      if (!h.why_unusable.empty()) {
        issue(h, CopyProblem::kUnreachable, h.why_unusable);
        continue;
      }
      absl::Status s;
      if (options_.quick) {
        s = data_.ChunkLength(h.address, t.id).status();
      } else {
        absl::StatusOr<AlignedBuffer> copy = data_.ReadChunk(h.address, t.id, 0, chunk::kToEnd);
        s = copy.status();
        if (copy.ok() && copy->size() < t.length) {  // cannot be the listed chunk
          s = Error(Errc::kCorrupt, "copy of " + std::to_string(copy->size()) +
                                        " bytes, shorter than the listed " +
                                        std::to_string(t.length));
        }
        if (s.ok()) {
          r.bytes_read += copy->size();
          if (!good_copy) good_copy = std::move(*copy);
        }
      }
      if (s.ok()) {
        ++r.good;
        if (!good_address) good_address = h.address;
        continue;
      }
      const Errc e = ErrcOf(s);
      issue(h,
            e == Errc::kNotFound  ? CopyProblem::kMissing
            : e == Errc::kCorrupt ? CopyProblem::kBad
                                  : CopyProblem::kUnreachable,
            std::string(s.message()));
    }
    if (!options_.repair || r.good == 0) return r;
    for (FsckCopyIssue& i : r.issues) {
      if (i.problem == CopyProblem::kUnreachable) continue;
      if (!good_copy) {  // quick mode: read one now
        absl::StatusOr<AlignedBuffer> copy = data_.ReadChunk(*good_address, t.id, 0, chunk::kToEnd);
        if (!copy.ok()) {
          i.repair_error = "reading a good copy: " + std::string(copy.status().message());
          continue;
        }
        r.bytes_read += copy->size();
        good_copy = std::move(*copy);
      }
      absl::Status w = WriteCopy(i.address, t.id, good_copy->span());
      i.repaired = w.ok();
      if (!w.ok()) i.repair_error = std::string(w.message());
    }
    return r;
  }

 private:
  // One node, empty downstream chain: the node's store replaces a missing
  // or damaged copy and accepts an identical one. A copy there that
  // verifies yet differs (kExists) is reported, never deleted: which of
  // two verifying copies is right is not fsck's to guess.
  absl::Status WriteCopy(const std::string& address, ChunkId id, std::span<const uint8_t> data) {
    const std::string chain[] = {address};
    return data_.WriteChunk(chain, id, data);
  }

  const FsckOptions& options_;
  const proto::ClusterMap& map_;
  dataplane::DataClient data_;
};

// Lists every chunk reference below `path` into `tasks`.
absl::Status Walk(Client& client, const std::string& path, FsckReport* report,
                  std::vector<ChunkTask>* tasks) {
  ASSIGN_OR_RETURN(Attr attr, client.Stat(path));
  std::vector<std::string> dirs;
  auto add_file = [&](const std::string& file) {
    absl::StatusOr<FileChunksInfo> info = client.FileChunks(file);
    if (!info.ok()) {
      report->errors.push_back(file + ": " + std::string(info.status().message()));
      return;
    }
    ++report->files;
    for (const SlotChunk& slot : info->slots) {
      if (slot.id.empty()) continue;  // a hole
      std::optional<ChunkId> id = ChunkId::Parse(slot.id);
      if (!id) {
        report->errors.push_back(file + ": bad chunk id " + slot.id);
        continue;
      }
      tasks->push_back(ChunkTask{file, slot.offset, slot.length, *id, info->replicas});
    }
  };
  if (attr.type == FileType::kRegular) {
    add_file(path);
    return absl::OkStatus();
  }
  if (attr.type != FileType::kDirectory) return absl::OkStatus();
  dirs.push_back(path);
  while (!dirs.empty()) {
    std::string dir = std::move(dirs.back());
    dirs.pop_back();
    absl::StatusOr<std::vector<DirEntry>> entries = client.ReadDir(dir, /*with_attrs=*/false);
    if (!entries.ok()) {
      if (dir == path) return entries.status();
      report->errors.push_back(dir + ": " + std::string(entries.status().message()));
      continue;
    }
    for (const DirEntry& e : *entries) {
      std::string child = client::JoinPath(dir, e.name);
      if (e.type == FileType::kDirectory) {
        dirs.push_back(std::move(child));
      } else if (e.type == FileType::kRegular) {
        add_file(child);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view CopyProblemName(CopyProblem problem) {
  switch (problem) {
    case CopyProblem::kMissing:
      return "missing";
    case CopyProblem::kBad:
      return "bad";
    case CopyProblem::kUnreachable:
      return "unreachable";
  }
  return "unknown";
}

absl::StatusOr<FsckReport> Fsck(const ClientOptions& client_options, const FsckOptions& options) {
  if (options.parallelism < 1 || options.parallelism > 64) {
    return Invalid("fsck: parallelism must be 1..64");
  }
  RETURN_IF_ERROR(client::CheckPath(options.path));
  ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(client_options));

  // The raw map: chains with their recovering members.
  client::Rpc rpc(
      {grpc::CreateChannel(client_options.meta_address, grpc::InsecureChannelCredentials())},
      client_options.timeout);
  proto::GetClusterMapRequest map_req;
  proto::ClusterMap map;
  RETURN_IF_ERROR(rpc.Cluster(&client::Rpc::ClusterStub::GetClusterMap, map_req, &map));
  if (map.pg_count() == 0) return Error(Errc::kUnavailable, "fsck: the cluster map is empty");

  FsckReport report;
  std::vector<ChunkTask> tasks;
  RETURN_IF_ERROR(Walk(*client, options.path, &report, &tasks));
  report.chunks = tasks.size();

  Checker checker(options, map);
  std::atomic<size_t> next{0};
  std::mutex mu;  // report, done
  uint64_t done = 0;
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < tasks.size(); i = next.fetch_add(1)) {
      const ChunkTask& t = tasks[i];
      ChunkResult r = checker.Check(t);
      std::lock_guard<std::mutex> l(mu);
      report.copies_checked += r.copies_checked;
      report.bytes_read += r.bytes_read;
      uint64_t repaired = 0;
      for (FsckCopyIssue& issue : r.issues) {
        switch (issue.problem) {
          case CopyProblem::kMissing:
            ++report.missing_copies;
            break;
          case CopyProblem::kBad:
            ++report.bad_copies;
            break;
          case CopyProblem::kUnreachable:
            ++report.unreachable_copies;
            break;
        }
        if (issue.repaired) ++repaired;
        if (options.repair && issue.problem != CopyProblem::kUnreachable && r.good > 0 &&
            !issue.repaired) {
          ++report.repair_failures;
        }
        report.issues.push_back(std::move(issue));
      }
      report.repaired_copies += repaired;
      if (r.good == 0) {
        ++report.lost_chunks;
        report.lost.push_back(FsckLostChunk{t.path, t.offset, t.length, t.id.ToString()});
      }
      if (r.good < t.replicas || r.short_chain) ++report.under_replicated;
      if (r.good + repaired < t.replicas || r.short_chain) ++report.still_under_replicated;
      ++done;
      if (options.progress) options.progress(done, tasks.size());
    }
  };
  const int threads = std::min<int>(options.parallelism, static_cast<int>(tasks.size()));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(work);
  work();
  for (std::thread& t : pool) t.join();

  auto by_place = [](const auto& a, const auto& b) {
    return std::tie(a.path, a.offset) < std::tie(b.path, b.offset);
  };
  std::sort(report.lost.begin(), report.lost.end(), by_place);
  std::stable_sort(report.issues.begin(), report.issues.end(), by_place);
  return report;
}

}  // namespace cairn

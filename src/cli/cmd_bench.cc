// cairn bench meta: metadata operation rates through the client library.
// cairn bench data: file data throughput (big files) and rates (small
// files) through the client library, optionally next to a local directory.
#include <cstdio>
#include <optional>

#include "bench/data_bench.h"
#include "bench/meta_bench.h"
#include "cli/common.h"
#include "cli/progress.h"

namespace cairn::cli {
namespace {

struct BenchMetaArgs {
  ClientFlags client;
  uint64_t files = 10000;
  int threads = 8;
  bool json = false;
  std::string dir = "/bench";
};

int RunBenchMeta(const BenchMetaArgs& args) {
  auto dir = AbsolutePath(args.dir);
  if (!dir.ok()) return Report(args.dir, dir.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  bench::MetaBenchOptions options;
  options.files = args.files;
  options.threads = args.threads;
  options.dir = *dir;
  auto result = bench::RunMetaBench(*client, options);
  if (!result.ok()) return Report("bench meta", result.status(), &args.client);

  if (args.json) {
    nlohmann::json j;
    nlohmann::json seconds = nlohmann::json::object();
    for (const auto& p : result->phases) {
      j[p.name] = p.ops_per_second;
      seconds[p.name] = p.seconds;
    }
    j["files"] = args.files;
    j["threads"] = args.threads;
    j["connections"] = args.client.connections;
    j["batch_in_flight"] = args.client.meta_batch_in_flight;
    j["dir"] = *dir;
    j["seconds"] = seconds;
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("cairn bench meta: %llu files, %d threads, one directory (%s), meta %s\n",
              static_cast<unsigned long long>(args.files), args.threads, dir->c_str(),
              args.client.meta.c_str());
  for (const auto& p : result->phases) {
    std::printf("%-8s %10llu ops %9.3f s %12.0f ops/s\n", p.name.c_str(),
                static_cast<unsigned long long>(p.ops), p.seconds, p.ops_per_second);
  }
  return kExitOk;
}

struct BenchDataArgs {
  ClientFlags client;
  std::string size = "256M";
  int threads = 1;
  uint64_t small_files = 1000;
  bool json = false;
  std::string dir = "/bench-data";
  std::string local;
  std::string chunk_size;  // empty: the directory's policy
};

nlohmann::json DataJson(const bench::DataBenchResult& r) {
  return {{"write_mib_s", r.write_mib_s},
          {"read_mib_s", r.read_mib_s},
          {"small_write_files_s", r.small_write_files_s},
          {"small_read_files_s", r.small_read_files_s},
          {"seconds",
           {{"write", r.write_seconds},
            {"read", r.read_seconds},
            {"small_write", r.small_write_seconds},
            {"small_read", r.small_read_seconds}}}};
}

void PrintData(const char* where, const bench::DataBenchResult& r) {
  std::printf(
      "%-6s write %9.1f MiB/s   read %9.1f MiB/s   small write %8.0f files/s   "
      "small read %8.0f files/s\n",
      where, r.write_mib_s, r.read_mib_s, r.small_write_files_s, r.small_read_files_s);
}

int RunBenchData(const BenchDataArgs& args) {
  auto size = ParseSize(args.size);
  if (!size.ok() || *size == 0) return ReportMessage("bad --size '" + args.size + "'");
  auto dir = AbsolutePath(args.dir);
  if (!dir.ok()) return Report(args.dir, dir.status());
  auto client = ConnectOrReport(args.client);
  if (!client) return kExitFailure;
  bench::DataBenchOptions options;
  options.size = *size;
  options.threads = args.threads;
  options.small_files = args.small_files;
  options.dir = *dir;
  if (!args.chunk_size.empty()) {
    auto chunk = ParseSize(args.chunk_size);
    if (!chunk.ok()) return ReportMessage("bad --chunk-size '" + args.chunk_size + "'");
    absl::Status made = client->MkdirAll(*dir, 0755);
    if (!made.ok()) return Report(*dir, made, &args.client);
    StoragePolicy policy;
    policy.chunk_size = *chunk;
    auto set = client->SetPolicy(*dir, policy);
    if (!set.ok()) return Report(*dir, set.status(), &args.client);
  }
  auto result = bench::RunDataBench(*client, options);
  if (!result.ok()) return Report("bench data", result.status(), &args.client);
  std::optional<bench::DataBenchResult> local;
  if (!args.local.empty()) {
    options.dir = args.local + "/cairn-bench-data";
    auto l = bench::RunLocalDataBench(options);
    if (!l.ok()) return ReportMessage("bench data --local: " + std::string(l.status().message()));
    local = *l;
  }
  if (args.json) {
    nlohmann::json j = DataJson(*result);
    j["size"] = *size;
    j["threads"] = args.threads;
    j["small_files"] = args.small_files;
    j["small_size"] = options.small_size;
    if (local) j["local"] = DataJson(*local);
    std::printf("%s\n", j.dump().c_str());
    return kExitOk;
  }
  std::printf("cairn bench data: %d x %s big files, %llu small files of 64 KiB, meta %s\n",
              args.threads, Progress::Bytes(static_cast<double>(*size)).c_str(),
              static_cast<unsigned long long>(args.small_files), args.client.meta.c_str());
  PrintData("cairn", *result);
  if (local) PrintData("local", *local);
  return kExitOk;
}

}  // namespace

void AddBench(CLI::App& app, Registry& registry) {
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks against a running cluster");
  bench->require_subcommand(1);
  auto args = std::make_shared<BenchMetaArgs>();
  CLI::App* cmd = bench->add_subcommand(
      "meta", "Create, stat, rename and unlink N files in one directory; print ops/s per phase");
  cmd->add_option("--files", args->files, "Number of files")
      ->check(CLI::Range(uint64_t{1}, uint64_t{100'000'000}))
      ->required();
  cmd->add_option("--threads", args->threads, "Client threads sharing one connection")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  cmd->add_flag("--json", args->json,
                "Print one JSON object: {create, stat, rename, unlink} in ops/s plus files, "
                "threads, dir and seconds per phase");
  cmd->add_option("--dir", args->dir,
                  "Working directory (must not exist or be empty; removed afterwards)")
      ->capture_default_str();
  AddClientFlags(cmd, &args->client);
  cmd->add_option("--connections", args->client.connections,
                  "TCP connections the client spreads its calls over")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--batch-in-flight", args->client.meta_batch_in_flight,
                  "Metadata batches out at once (0: every call on its own; docs/metadata.md, "
                  "\"Batches\")")
      ->check(CLI::Range(0, 64))
      ->capture_default_str();
  registry.Add(cmd, [args] { return RunBenchMeta(*args); });

  auto data = std::make_shared<BenchDataArgs>();
  cmd = bench->add_subcommand(
      "data",
      "Write then read T big files of --size each, then --small-files files of 64 KiB; print "
      "MiB/s and files/s");
  cmd->add_option("--size", data->size, "Bytes per big file, e.g. 1G or 256M")
      ->capture_default_str();
  cmd->add_option("--threads", data->threads, "Big files at once (and small-file threads)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("--small-files", data->small_files, "Number of 64 KiB files (0: none)")
      ->check(CLI::Range(uint64_t{0}, uint64_t{10'000'000}))
      ->capture_default_str();
  cmd->add_flag("--json", data->json,
                "Print one JSON object: write_mib_s, read_mib_s, small_write_files_s, "
                "small_read_files_s (and local: {...} with --local)");
  cmd->add_option("--dir", data->dir, "Working directory in Cairn (removed afterwards)")
      ->capture_default_str();
  cmd->add_option("--chunk-size", data->chunk_size,
                  "Set this chunk size as the working directory's policy first");
  cmd->add_option("--local", data->local,
                  "Run the same on this local directory too (fsync per file, page cache dropped "
                  "with posix_fadvise before reading) and report it under \"local\"");
  AddClientFlags(cmd, &data->client);
  cmd->add_option("--chunks-in-flight", data->client.chunks_in_flight,
                  "Chunks each file uploads at once")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  registry.Add(cmd, [data] { return RunBenchData(*data); });
}

}  // namespace cairn::cli

// The `cairn` binary as separate processes: `cairn meta` + `cairn chunk`,
// and `cairn server`; chunks written and read through DataClient; every
// process stopped with SIGTERM and expected to exit 0 in bounded time.
// CAIRN_BIN names the binary (set by CMake).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "chunk/test_util.h"
#include "dataplane/data_client.h"
#include "gtest/gtest.h"

namespace cairn::chunkserver {
namespace {

using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;

// A child process; SIGKILLed if still running when destroyed.
class Child {
 public:
  Child(const std::vector<std::string>& args, const std::string& log) {
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* f = std::freopen(log.c_str(), "a", stderr);
      (void)f;
      f = std::freopen(log.c_str(), "a", stdout);
      std::vector<char*> argv;
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // SIGTERM, then the exit code (-1 when it did not exit within `timeout`).
  int Terminate(std::chrono::seconds timeout = std::chrono::seconds(20)) {
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }
  bool Running() { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }

 private:
  pid_t pid_ = -1;
};

// Waits for a ready file and parses it; null json on timeout.
nlohmann::json WaitReady(const std::string& path, Child& child,
                         std::chrono::seconds timeout = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline && child.Running()) {
    std::ifstream in(path);
    if (in) return nlohmann::json::parse(in);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return nullptr;
}

std::string Log(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = std::getenv("CAIRN_BIN");
    if (bin == nullptr || !std::filesystem::exists(bin)) GTEST_SKIP() << "CAIRN_BIN not set";
    bin_ = bin;
  }
  std::string bin_;
  ScratchDir scratch_;
};

TEST_F(ProcessTest, ChunkServerAgainstMeta) {
  const std::string log = scratch_.Sub("log");
  Child meta({bin_, "meta", "--store", "memory", "--listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
              "--ready-file", scratch_.Sub("meta.json")},
             log);
  nlohmann::json m = WaitReady(scratch_.Sub("meta.json"), meta);
  ASSERT_FALSE(m.is_null()) << Log(log);
  const std::string meta_addr = m["grpc"];

  auto start_chunk = [&](const std::string& ready) {
    return std::make_unique<Child>(
        std::vector<std::string>{bin_, "chunk", "--meta", meta_addr, "--dir", scratch_.Sub("d1"),
                                 "--dir", scratch_.Sub("d2"), "--listen", "127.0.0.1:0",
                                 "--data-listen", "127.0.0.1:0", "--http", "127.0.0.1:0",
                                 "--ready-file", ready},
        log);
  };
  auto chunk = start_chunk(scratch_.Sub("chunk.json"));
  nlohmann::json c = WaitReady(scratch_.Sub("chunk.json"), *chunk);
  ASSERT_FALSE(c.is_null()) << Log(log);
  EXPECT_EQ(c["node_id"], 1);
  const std::string data = c["data"];

  dataplane::DataClient client;
  ChunkId id = ChunkId::Random();
  const auto bytes = TestBytes(300000, 7);
  ASSERT_TRUE(client.WriteChunk({{data}}, id, bytes).ok());
  auto got = client.ReadChunk(data, id, 0, chunk::kToEnd);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(std::vector<uint8_t>(got->data(), got->data() + got->size()), bytes);
  EXPECT_EQ(chunk->Terminate(), 0) << Log(log);

  // Restarted on the same directories: the same node, the same chunk.
  auto again = start_chunk(scratch_.Sub("chunk2.json"));
  nlohmann::json c2 = WaitReady(scratch_.Sub("chunk2.json"), *again);
  ASSERT_FALSE(c2.is_null()) << Log(log);
  EXPECT_EQ(c2["node_id"], 1);
  auto again_got = client.ReadChunk(c2["data"], id, 0, chunk::kToEnd);
  ASSERT_TRUE(again_got.ok()) << again_got.status();
  EXPECT_EQ(again_got->size(), bytes.size());
  EXPECT_EQ(again->Terminate(), 0) << Log(log);
  EXPECT_EQ(meta.Terminate(), 0) << Log(log);
}

TEST_F(ProcessTest, AllInOneServer) {
  const std::string log = scratch_.Sub("log");
  const std::string dir = scratch_.Sub("data");
  Child server({bin_, "server", "--dir", dir, "--chunk-servers", "3", "--listen", "127.0.0.1:0",
                "--http", "127.0.0.1:0", "--ready-file", scratch_.Sub("ready.json")},
               log);
  nlohmann::json r = WaitReady(scratch_.Sub("ready.json"), server);
  ASSERT_FALSE(r.is_null()) << Log(log);
  ASSERT_EQ(r["chunk_servers"].size(), 3u);
  std::vector<std::string> chain;
  std::set<uint64_t> ids;
  for (const auto& cs : r["chunk_servers"]) {
    chain.push_back(cs["data"]);
    ids.insert(cs["node_id"].get<uint64_t>());
  }
  EXPECT_EQ(ids, (std::set<uint64_t>{1, 2, 3}));
  for (int i = 1; i <= 3; ++i) {
    EXPECT_TRUE(std::filesystem::exists(dir + "/chunk-" + std::to_string(i) + "/node_id"));
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/meta"));
  // A chain write through all three, read back from each.
  dataplane::DataClient client;
  ChunkId id = ChunkId::Random();
  const auto bytes = TestBytes(200000, 3);
  ASSERT_TRUE(client.WriteChunk(chain, id, bytes).ok());
  for (const auto& addr : chain) {
    auto got = client.ReadChunk(addr, id, 0, chunk::kToEnd);
    ASSERT_TRUE(got.ok()) << addr << ": " << got.status();
    EXPECT_EQ(got->size(), bytes.size());
  }
  EXPECT_EQ(server.Terminate(), 0) << Log(log);
}

}  // namespace
}  // namespace cairn::chunkserver

// FileChunkStore specifics: the bytes on disk, recovery on open, the
// durability steps and every failure path (through FaultInjectingFileOps).
#include "chunk/file_chunk_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "chunk/chunk_format.h"
#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "chunk/test_util.h"
#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::chunk {
namespace {

using ::cairn::testing::FilesBelow;
using ::cairn::testing::ScratchDir;
using ::cairn::testing::TestBytes;
namespace fs = std::filesystem;

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

class FileChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open(std::vector<std::string> dirs = {}, SyncMode mode = SyncMode::kPerOp) {
    store_.reset();
    FileChunkStoreOptions o;
    o.sync_mode = mode;
    o.dirs = dirs.empty() ? std::vector<std::string>{scratch_.Sub("d0")} : dirs;
    o.file_ops = &faults_;
    auto s = FileChunkStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }

  absl::Status Put(ChunkId id, const std::vector<uint8_t>& data) {
    return store_->PutComputingCrcs(id, data);
  }

  // Every chunk or temp file in the store (not LOCK, not quarantine).
  std::vector<std::string> ChunkFiles() { return FilesBelow(scratch_.Sub("d0/chunks")); }

  ScratchDir scratch_;
  FaultInjectingFileOps faults_;
  std::unique_ptr<FileChunkStore> store_;
};

TEST_F(FileChunkStoreTest, BytesOnDiskMatchTheDocumentedFormat) {
  ChunkId id{0xabcdef0011223344ULL, 0x5566778899aabbccULL};
  auto data = TestBytes(kBlockSize + 10, 1);
  ASSERT_TRUE(Put(id, data).ok());
  const std::string path = scratch_.Sub("d0/chunks/ab/cd/abcdef00112233445566778899aabbcc");
  EXPECT_EQ(store_->ChunkPath(id), path);
  std::vector<uint8_t> file = ReadFile(path);
  ASSERT_EQ(file.size(), 4096 + data.size());
  EXPECT_EQ(std::string(file.begin(), file.begin() + 8), "CAIRNCHK");
  EXPECT_EQ(le::Get64(&file[16]), id.hi);
  EXPECT_EQ(le::Get64(&file[24]), id.lo);
  EXPECT_EQ(le::Get64(&file[32]), data.size());
  EXPECT_EQ(le::Get32(&file[40]), 2u);
  EXPECT_EQ(le::Get32(&file[44]), 4096u);
  EXPECT_EQ(le::Get32(&file[64]), crc32c::Value(data.data(), kBlockSize));
  EXPECT_EQ(le::Get32(&file[68]), crc32c::Value(data.data() + kBlockSize, 10));
  EXPECT_TRUE(std::equal(data.begin(), data.end(), file.begin() + 4096));
  EXPECT_EQ(ChunkFiles().size(), 1u);  // no temp file left
}

TEST_F(FileChunkStoreTest, ReopenFindsEveryChunk) {
  std::vector<ChunkId> ids;
  for (int i = 0; i < 30; ++i) {
    ids.push_back(ChunkId::Random());
    ASSERT_TRUE(Put(ids.back(), TestBytes(i * 1000, i)).ok());
  }
  ASSERT_TRUE(store_->Delete(ids[0]).ok());
  Open();
  EXPECT_EQ(store_->recovery().chunks_loaded, 29u);
  EXPECT_EQ(store_->recovery().quarantined, 0u);
  EXPECT_FALSE(store_->Has(ids[0]));
  for (int i = 1; i < 30; ++i) {
    auto r = store_->Get(ids[i], 0, kToEnd);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(std::vector<uint8_t>(r->data(), r->data() + r->size()), TestBytes(i * 1000, i));
  }
}

TEST_F(FileChunkStoreTest, DamagedFilesQuarantinedOnOpen) {
  ChunkId good = ChunkId::Random(), bad_header = ChunkId::Random(), truncated = ChunkId::Random(),
          bad_table = ChunkId::Random(), wrong_id = ChunkId::Random();
  for (ChunkId id : {good, bad_header, truncated, bad_table, wrong_id}) {
    ASSERT_TRUE(Put(id, TestBytes(100000, id.lo)).ok());
  }
  std::string p_header = store_->ChunkPath(bad_header);
  std::string p_trunc = store_->ChunkPath(truncated);
  std::string p_table = store_->ChunkPath(bad_table);
  std::string p_wrong = store_->ChunkPath(wrong_id);
  store_.reset();

  auto bytes = ReadFile(p_header);
  bytes[33] ^= 0x01;  // data length field
  WriteFile(p_header, bytes);
  fs::resize_file(p_trunc, fs::file_size(p_trunc) - 1);
  bytes = ReadFile(p_table);
  bytes[65] ^= 0x80;  // first CRC in the table
  WriteFile(p_table, bytes);
  // A valid chunk file under another chunk's name.
  {
    ChunkId other = ChunkId::Random();
    FileChunkStoreOptions o;
    o.dirs = {scratch_.Sub("other")};
    auto s = FileChunkStore::Open(o);
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE((*s)->PutComputingCrcs(other, TestBytes(10, 1)).ok());
    fs::copy_file((*s)->ChunkPath(other), p_wrong, fs::copy_options::overwrite_existing);
  }

  Open();
  EXPECT_EQ(store_->recovery().chunks_loaded, 1u);
  EXPECT_EQ(store_->recovery().quarantined, 4u);
  EXPECT_TRUE(store_->Has(good));
  for (ChunkId id : {bad_header, truncated, bad_table, wrong_id}) {
    EXPECT_FALSE(store_->Has(id));
    EXPECT_FALSE(fs::exists(store_->ChunkPath(id)));
  }
  auto q = FilesBelow(scratch_.Sub("d0/quarantine"));
  EXPECT_EQ(q.size(), 4u);
  // A quarantined chunk can be stored again (repair from another replica).
  ASSERT_TRUE(Put(bad_header, TestBytes(100000, bad_header.lo)).ok());
  EXPECT_TRUE(store_->Get(bad_header, 0, kToEnd).ok());
}

TEST_F(FileChunkStoreTest, TempFilesRemovedOnOpenAndForeignFilesLeftAlone) {
  ChunkId id{0x1234000000000000ULL, 1};
  ASSERT_TRUE(Put(id, TestBytes(10, 1)).ok());
  std::string shard = scratch_.Sub("d0/chunks/12/34");
  WriteFile(shard + "/12340000000000000000000000000002.tmp.7", TestBytes(5000, 1));
  WriteFile(shard + "/12340000000000000000000000000001.tmp.0", {});
  WriteFile(shard + "/README", {'h', 'i'});
  Open();
  EXPECT_EQ(store_->recovery().temp_files_removed, 2u);
  EXPECT_EQ(store_->recovery().ignored, 1u);
  EXPECT_EQ(store_->recovery().chunks_loaded, 1u);
  auto files = ChunkFiles();
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files,
            (std::vector<std::string>{"12/34/12340000000000000000000000000001", "12/34/README"}));
}

TEST_F(FileChunkStoreTest, CorruptStoredCopyIsReplacedByAnIdenticalPut) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(200000, 5);
  ASSERT_TRUE(Put(id, data).ok());
  auto bytes = ReadFile(store_->ChunkPath(id));
  bytes[4096 + 70000] ^= 0xff;
  WriteFile(store_->ChunkPath(id), bytes);
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd).status()), Errc::kCorrupt);
  ASSERT_TRUE(Put(id, data).ok());  // a repair rewrites the damaged copy
  auto r = store_->Get(id, 0, kToEnd);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::vector<uint8_t>(r->data(), r->data() + r->size()), data);
  EXPECT_EQ(FilesBelow(scratch_.Sub("d0/quarantine")).size(), 1u);
}

TEST_F(FileChunkStoreTest, QuarantineByIdMovesTheFileAsideForGood) {
  ChunkId bad = ChunkId::Random();
  ChunkId good = ChunkId::Random();
  auto data = TestBytes(150000, 6);
  ASSERT_TRUE(Put(bad, data).ok());
  ASSERT_TRUE(Put(good, TestBytes(1000, 7)).ok());
  const std::string path = store_->ChunkPath(bad);
  auto before = ReadFile(path);
  ASSERT_TRUE(store_->Quarantine(bad).ok());
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(ErrcOf(store_->Get(bad, 0, kToEnd).status()), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(store_->Lookup(bad).status()), Errc::kNotFound);
  auto q = FilesBelow(scratch_.Sub("d0/quarantine"));
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].rfind(bad.ToString() + ".", 0), 0u) << q[0];
  EXPECT_EQ(ReadFile(scratch_.Sub("d0/quarantine/" + q[0])), before);  // kept as it was
  auto st = store_->Stat();
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->chunk_count, 1u);
  EXPECT_EQ(st->chunk_bytes, 1000u);
  EXPECT_TRUE(store_->Get(good, 0, kToEnd).ok());  // others untouched
  EXPECT_EQ(ErrcOf(store_->Quarantine(bad)), Errc::kNotFound);
  // Never served again, after a reopen either; a Put stores a fresh copy.
  Open();
  EXPECT_EQ(ErrcOf(store_->Lookup(bad).status()), Errc::kNotFound);
  ASSERT_TRUE(Put(bad, data).ok());
  auto r = store_->Get(bad, 0, kToEnd);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::vector<uint8_t>(r->data(), r->data() + r->size()), data);
}

TEST_F(FileChunkStoreTest, FullDiskLeavesNothingBehind) {
  ChunkId id = ChunkId::Random();
  auto data = TestBytes(1 << 20, 3);
  // The disk fills up halfway through the data.
  faults_.SetWriteBudget(512 * 1024);
  absl::Status s = Put(id, data);
  EXPECT_EQ(ErrcOf(s), Errc::kNoSpace) << s;
  EXPECT_TRUE(ChunkFiles().empty());
  EXPECT_FALSE(store_->Has(id));
  // Full before the first byte.
  faults_.SetWriteBudget(0);
  EXPECT_EQ(ErrcOf(Put(id, data)), Errc::kNoSpace);
  EXPECT_TRUE(ChunkFiles().empty());
  // Space comes back: the same id can be written.
  faults_.ClearWriteBudget();
  ASSERT_TRUE(Put(id, data).ok());
  EXPECT_EQ(ChunkFiles().size(), 1u);
}

// Each step of a Put failing: the right code, no file left, no index entry.
TEST_F(FileChunkStoreTest, EveryFailingStepLeavesNothingBehind) {
  struct Case {
    FileOp op;
    int err;
    int skip;
    Errc want;
  } cases[] = {
      {FileOp::kOpen, ENOSPC, 0, Errc::kNoSpace},    // no inode left
      {FileOp::kPwrite, EDQUOT, 0, Errc::kNoSpace},  // quota, at the header
      {FileOp::kPwrite, ENOSPC, 1, Errc::kNoSpace},  // at the data
      {FileOp::kPwrite, EIO, 1, Errc::kIo},         {FileOp::kFdatasync, EIO, 0, Errc::kIo},
      {FileOp::kClose, EIO, 0, Errc::kIo},          {FileOp::kRename, EIO, 0, Errc::kIo},
      {FileOp::kFsync, EIO, 0, Errc::kIo},  // the directory fsync
  };
  // Create the shard directory first, so mkdir/fsync of new shards do not
  // consume the armed faults.
  ChunkId id{0x7777000000000000ULL, 1};
  ASSERT_TRUE(Put(ChunkId{0x7777000000000000ULL, 2}, TestBytes(5, 5)).ok());
  const auto before = ChunkFiles();
  auto data = TestBytes(3 * kBlockSize, 9);
  for (const Case& c : cases) {
    faults_.Arm(c.op, c.err, c.skip, 1);
    absl::Status s = Put(id, data);
    EXPECT_EQ(ErrcOf(s), c.want) << static_cast<int>(c.op) << ": " << s;
    EXPECT_EQ(ChunkFiles(), before) << static_cast<int>(c.op);
    EXPECT_FALSE(store_->Has(id));
    faults_.Reset();
  }
  ASSERT_TRUE(Put(id, data).ok());
  Open();
  EXPECT_EQ(store_->recovery().chunks_loaded, 2u);
  EXPECT_EQ(store_->recovery().temp_files_removed, 0u);
}

TEST_F(FileChunkStoreTest, ReadErrorsAreIo) {
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(Put(id, TestBytes(1000, 1)).ok());
  faults_.Arm(FileOp::kPread, EIO);
  EXPECT_EQ(ErrcOf(store_->Get(id, 0, kToEnd).status()), Errc::kIo);
  EXPECT_TRUE(store_->Get(id, 0, kToEnd).ok());
}

TEST_F(FileChunkStoreTest, DeleteIsDurableAndFailuresAreReported) {
  ChunkId id = ChunkId::Random();
  ASSERT_TRUE(Put(id, TestBytes(1000, 1)).ok());
  faults_.Arm(FileOp::kUnlink, EIO);
  EXPECT_EQ(ErrcOf(store_->Delete(id)), Errc::kIo);
  EXPECT_TRUE(store_->Has(id));
  int fsyncs = faults_.Calls(FileOp::kFsync);
  ASSERT_TRUE(store_->Delete(id).ok());
  EXPECT_EQ(faults_.Calls(FileOp::kFsync), fsyncs + 1);  // the directory
  EXPECT_TRUE(ChunkFiles().empty());
}

TEST_F(FileChunkStoreTest, SecondProcessOnTheSameDirectoryIsRefused) {
  FileChunkStoreOptions o;
  o.dirs = {scratch_.Sub("d0")};
  auto s = FileChunkStore::Open(o);
  EXPECT_EQ(ErrcOf(s.status()), Errc::kBusy);
}

TEST_F(FileChunkStoreTest, SeveralDirectoriesAndAddingOne) {
  Open({scratch_.Sub("a")});
  std::vector<ChunkId> ids;
  for (int i = 0; i < 20; ++i) {
    ids.push_back(ChunkId::Random());
    ASSERT_TRUE(Put(ids.back(), TestBytes(100, i)).ok());
  }
  Open({scratch_.Sub("a"), scratch_.Sub("b")});
  for (ChunkId id : ids) EXPECT_TRUE(store_->Get(id, 0, kToEnd).ok());
  for (int i = 0; i < 40; ++i) {
    ids.push_back(ChunkId::Random());
    ASSERT_TRUE(Put(ids.back(), TestBytes(100, i)).ok());
  }
  size_t in_a = FilesBelow(scratch_.Sub("a/chunks")).size();
  size_t in_b = FilesBelow(scratch_.Sub("b/chunks")).size();
  EXPECT_EQ(in_a + in_b, 60u);
  EXPECT_GT(in_b, 5u);  // new chunks spread over both (expected ~20 of 40)
  Open({scratch_.Sub("a"), scratch_.Sub("b")});
  EXPECT_EQ(store_->recovery().chunks_loaded, 60u);
}

// syncfs rounds: every Put waits for two shared rounds (data, then name).
TEST_F(FileChunkStoreTest, SyncfsGroupCommit) {
  Open({}, SyncMode::kGroupSyncfs);
  faults_.SetSyncDelay(std::chrono::milliseconds(5));
  constexpr int kThreads = 8, kPerThread = 5;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  int fdatasyncs = faults_.Calls(FileOp::kFdatasync);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        if (!Put(ChunkId::Random(), TestBytes(4096, i)).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(faults_.Calls(FileOp::kFdatasync), fdatasyncs);  // syncfs covers the files
  const DirSyncer& syncer = store_->syncer();
  EXPECT_GE(syncer.requests(), uint64_t{2 * kThreads * kPerThread});
  EXPECT_LT(syncer.rounds(), syncer.requests() / 2);
  EXPECT_EQ(faults_.Calls(FileOp::kSyncfs), static_cast<int>(syncer.syncs()));
  Open();
  EXPECT_EQ(store_->recovery().chunks_loaded, uint64_t{kThreads * kPerThread});
  // A failing syncfs fails the Put and leaves nothing.
  Open({}, SyncMode::kGroupSyncfs);
  auto before = ChunkFiles();
  faults_.Arm(FileOp::kSyncfs, EIO, 0, 1);
  EXPECT_EQ(ErrcOf(Put(ChunkId::Random(), TestBytes(100, 1))), Errc::kIo);
  EXPECT_EQ(ChunkFiles(), before);
}

// DirSyncer on its own: callers of one key share syncs, errors reach only
// the callers of the key that failed.
TEST(DirSyncerTest, ConcurrentCallersShareRounds) {
  std::atomic<int> calls{0};
  DirSyncer syncer(
      [&](const std::string& key) {
        ++calls;
        std::this_thread::sleep_for(std::chrono::milliseconds(3));
        return key == "bad" ? absl::DataLossError("bad") : absl::OkStatus();
      },
      /*group=*/true);
  constexpr int kThreads = 8, kPer = 10;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        bool bad = t == 0 && i % 2 == 0;
        absl::Status s = syncer.Sync(bad ? "bad" : "fs");
        if (s.ok() == bad) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(syncer.requests(), uint64_t{kThreads * kPer});
  EXPECT_EQ(syncer.syncs(), static_cast<uint64_t>(calls.load()));
  EXPECT_LT(syncer.syncs(), syncer.requests() / 2) << "syncs " << syncer.syncs();

  DirSyncer alone([&](const std::string&) { return absl::OkStatus(); }, /*group=*/false);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(alone.Sync("x").ok());
  EXPECT_EQ(alone.rounds(), 5u);
  EXPECT_EQ(alone.syncs(), 5u);
}

}  // namespace
}  // namespace cairn::chunk

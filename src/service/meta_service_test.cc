// In-process test of the metadata service: the real MetaServer (gRPC +
// HTTP on 127.0.0.1 port 0, MemoryStore) driven through the public client
// library, typed errors included, plus malformed requests sent with a raw
// stub.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "cairn/client.h"
#include "common/errors.h"
#include "gtest/gtest.h"
#include "meta.grpc.pb.h"
#include "service/grpc_status.h"
#include "service/meta_server.h"

namespace cairn::service {
namespace {

#define ASSERT_OK(expr)                                                \
  do {                                                                 \
    const auto& status_ = (expr);                                      \
    ASSERT_TRUE(status_.ok()) << #expr << ": " << StatusText(status_); \
  } while (0)
#define EXPECT_ERRC(expr, code)                                                            \
  do {                                                                                     \
    const auto& status_ = (expr);                                                          \
    EXPECT_EQ(ErrcOf(StatusOfAny(status_)), code) << #expr << ": " << StatusText(status_); \
  } while (0)

const absl::Status& StatusOfAny(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOfAny(const absl::StatusOr<T>& s) {
  return s.status();
}
template <typename S>
std::string StatusText(const S& s) {
  return StatusOfAny(s).ToString();
}

// GET http://address/target; returns "STATUS BODY".
std::pair<int, std::string> HttpGet(const std::string& address, const std::string& target) {
  uint16_t port = static_cast<uint16_t>(std::stoi(address.substr(address.rfind(':') + 1)));
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return {-1, ""};
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = recv(fd, buf, sizeof(buf), 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  close(fd);
  if (out.size() < 12) return {-1, out};
  size_t body = out.find("\r\n\r\n");
  return {std::stoi(out.substr(9, 3)), body == std::string::npos ? "" : out.substr(body + 4)};
}

// A meta on the memory store, on free loopback ports.
MetaServerOptions MemoryMetaOptions(absl::Duration shutdown_grace) {
  MetaServerOptions options;
  options.store = "memory";
  options.grpc_listen = "127.0.0.1:0";
  options.http_listen = "127.0.0.1:0";
  options.shutdown_grace = shutdown_grace;
  return options;
}

class MetaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = MetaServer::Start(MemoryMetaOptions(absl::Seconds(2)));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    ClientOptions copts;
    copts.meta_address = server_->grpc_address();
    copts.timeout = absl::Seconds(10);
    copts.uid = 1000;
    copts.gid = 100;
    auto client = Client::Connect(copts);
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
    channel_ = grpc::CreateChannel(server_->grpc_address(), grpc::InsecureChannelCredentials());
    stub_ = proto::Meta::NewStub(channel_);
  }

  // A raw call, for requests the client library would never send.
  template <typename Req, typename Reply>
  absl::Status Raw(grpc::Status (proto::Meta::Stub::*method)(grpc::ClientContext*, const Req&,
                                                             Reply*),
                   const Req& req) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Reply reply;
    grpc::Status s = (stub_.get()->*method)(&ctx, req, &reply);
    return FromGrpcStatus(s, ctx);
  }

  std::vector<std::string> Names(const std::string& dir) {
    auto entries = client_->ReadDir(dir, false);
    EXPECT_TRUE(entries.ok()) << entries.status();
    std::vector<std::string> out;
    if (entries.ok()) {
      for (const auto& e : *entries) out.push_back(e.name);
    }
    return out;
  }

  std::unique_ptr<MetaServer> server_;
  std::unique_ptr<Client> client_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<proto::Meta::Stub> stub_;
};

TEST_F(MetaServiceTest, AddressesHaveRealPorts) {
  EXPECT_EQ(server_->grpc_address().rfind("127.0.0.1:", 0), 0u);
  EXPECT_NE(server_->grpc_address(), "127.0.0.1:0");
  EXPECT_NE(server_->http_address(), "127.0.0.1:0");
}

TEST_F(MetaServiceTest, DirectoriesAndFiles) {
  auto dir = client_->Mkdir("/a", 0750);
  ASSERT_OK(dir);
  EXPECT_EQ(dir->type, FileType::kDirectory);
  EXPECT_EQ(dir->mode, 0750u);
  EXPECT_EQ(dir->uid, 1000u);
  EXPECT_EQ(dir->gid, 100u);
  EXPECT_TRUE(dir->ino.valid());

  auto st = client_->Stat("/a");
  ASSERT_OK(st);
  EXPECT_EQ(st->ino, dir->ino);
  EXPECT_ERRC(client_->Mkdir("/a", 0755), Errc::kExists);
  EXPECT_EQ(ToErrno(client_->Mkdir("/a", 0755).status()), EEXIST);

  auto f = client_->Create("/a/f", 0640, /*exclusive=*/true);
  ASSERT_OK(f);
  EXPECT_EQ(f->type, FileType::kRegular);
  EXPECT_EQ(f->mode, 0640u);
  EXPECT_EQ(f->nlink, 1u);
  EXPECT_ERRC(client_->Create("/a/f", 0640, true), Errc::kExists);
  auto again = client_->Create("/a/f", 0600, /*exclusive=*/false);
  ASSERT_OK(again);
  EXPECT_EQ(again->ino, f->ino);
  EXPECT_ERRC(client_->Create("/a", 0644, false), Errc::kIsDir);

  EXPECT_ERRC(client_->Stat("/nope"), Errc::kNotFound);
  EXPECT_EQ(ToErrno(client_->Stat("/nope").status()), ENOENT);
  EXPECT_ERRC(client_->Mkdir("/nope/x", 0755), Errc::kNotFound);
  EXPECT_ERRC(client_->Create("/a/f/x", 0644, true), Errc::kNotDir);
  EXPECT_EQ(ToErrno(client_->Create("/a/f/x", 0644, true).status()), ENOTDIR);
  EXPECT_ERRC(client_->Rmdir("/a"), Errc::kNotEmpty);
  EXPECT_EQ(ToErrno(client_->Rmdir("/a")), ENOTEMPTY);
  EXPECT_ERRC(client_->Unlink("/a"), Errc::kIsDir);
  EXPECT_ERRC(client_->Rmdir("/a/f"), Errc::kNotDir);
  EXPECT_ERRC(client_->Rmdir("/"), Errc::kBusy);
  EXPECT_ERRC(client_->Mkdir("/", 0755), Errc::kExists);
  EXPECT_ERRC(client_->Stat("relative"), Errc::kInvalid);

  ASSERT_OK(client_->Unlink("/a/f"));
  EXPECT_ERRC(client_->Unlink("/a/f"), Errc::kNotFound);
  ASSERT_OK(client_->Rmdir("/a"));
  EXPECT_TRUE(Names("/").empty());
}

TEST_F(MetaServiceTest, RenameAndLinks) {
  ASSERT_OK(client_->Mkdir("/d", 0755));
  ASSERT_OK(client_->Create("/d/f", 0644, true));
  ASSERT_OK(client_->Create("/d/g", 0644, true));
  ASSERT_OK(client_->Rename("/d/f", "/d/f2", 0));
  EXPECT_ERRC(client_->Stat("/d/f"), Errc::kNotFound);
  ASSERT_OK(client_->Stat("/d/f2"));
  EXPECT_ERRC(client_->Rename("/d/f2", "/d/g", kRenameNoReplace), Errc::kExists);
  auto f2 = client_->Stat("/d/f2");
  auto g = client_->Stat("/d/g");
  ASSERT_OK(client_->Rename("/d/f2", "/d/g", kRenameExchange));
  EXPECT_EQ(client_->Stat("/d/g")->ino, f2->ino);
  EXPECT_EQ(client_->Stat("/d/f2")->ino, g->ino);
  ASSERT_OK(client_->Rename("/d/f2", "/d/g", 0));  // replaces
  EXPECT_EQ(Names("/d"), std::vector<std::string>{"g"});
  EXPECT_ERRC(client_->Rename("/d/missing", "/d/x", 0), Errc::kNotFound);
  EXPECT_ERRC(client_->Rename("/d", "/d/sub", 0), Errc::kInvalid);

  auto linked = client_->Link("/d/g", "/d/h");
  ASSERT_OK(linked);
  EXPECT_EQ(linked->nlink, 2u);
  EXPECT_EQ(client_->Stat("/d/h")->ino, client_->Stat("/d/g")->ino);
  EXPECT_ERRC(client_->Link("/d/g", "/d/h"), Errc::kExists);
  EXPECT_ERRC(client_->Link("/d", "/d2"), Errc::kPermission);

  auto sym = client_->Symlink("/d/g", "/d/s");
  ASSERT_OK(sym);
  EXPECT_EQ(sym->type, FileType::kSymlink);
  auto target = client_->Readlink("/d/s");
  ASSERT_OK(target);
  EXPECT_EQ(*target, "/d/g");
  auto st = client_->Stat("/d/s");  // lstat
  ASSERT_OK(st);
  EXPECT_EQ(st->type, FileType::kSymlink);
  EXPECT_EQ(st->symlink_target, "/d/g");
  EXPECT_ERRC(client_->Readlink("/d/g"), Errc::kInvalid);
  // Symlinks are followed in the middle of a path.
  ASSERT_OK(client_->Symlink("/d", "/dl"));
  EXPECT_EQ(client_->Stat("/dl/g")->ino, client_->Stat("/d/g")->ino);
}

TEST_F(MetaServiceTest, ReadDirPagesAndAttrs) {
  ASSERT_OK(client_->Mkdir("/many", 0755));
  std::set<std::string> want;
  for (int i = 0; i < 2100; ++i) {
    std::string name = "f" + std::to_string(i);
    ASSERT_OK(client_->Create("/many/" + name, 0644, true));
    want.insert(name);
  }
  auto all = client_->ReadDir("/many", false);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), want.size());  // more than one server page
  std::vector<std::string> names;
  for (const auto& e : *all) {
    names.push_back(e.name);
    EXPECT_EQ(e.type, FileType::kRegular);
    EXPECT_FALSE(e.attr.has_value());
  }
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()), want);

  auto page = client_->ReadDirPage("/many", "", 10, true);
  ASSERT_OK(page);
  ASSERT_EQ(page->entries.size(), 10u);
  EXPECT_FALSE(page->eof);
  ASSERT_TRUE(page->entries[0].attr.has_value());
  EXPECT_EQ(page->entries[0].attr->ino, page->entries[0].ino);
  EXPECT_EQ(page->next_cursor, page->entries.back().name);
  auto next = client_->ReadDirPage("/many", page->next_cursor, 10, false);
  ASSERT_OK(next);
  EXPECT_EQ(next->entries[0].name, names[10]);

  auto last = client_->ReadDirPage("/many", names.back(), 10, false);
  ASSERT_OK(last);
  EXPECT_TRUE(last->entries.empty());
  EXPECT_TRUE(last->eof);

  EXPECT_ERRC(client_->ReadDir("/missing", false), Errc::kNotFound);
  EXPECT_ERRC(client_->ReadDir("/many/f1", false), Errc::kNotDir);
}

TEST_F(MetaServiceTest, SetAttrTouchStatFsFsync) {
  ASSERT_OK(client_->Create("/f", 0644, true));
  SetAttrArgs args;
  args.mode = 0600;
  args.uid = 7;
  args.gid = 8;
  args.size = 12345;
  args.atime_ns = 1'000'000'000;
  args.mtime_ns = 2'000'000'000;
  auto set = client_->SetAttr("/f", args);
  ASSERT_OK(set);
  EXPECT_EQ(set->mode, 0600u);
  EXPECT_EQ(set->uid, 7u);
  EXPECT_EQ(set->gid, 8u);
  EXPECT_EQ(set->size, 12345u);
  EXPECT_EQ(set->atime_ns, 1'000'000'000);
  EXPECT_EQ(set->mtime_ns, 2'000'000'000);
  SetAttrArgs bad;
  bad.mode = 0170000;
  EXPECT_ERRC(client_->SetAttr("/f", bad), Errc::kInvalid);
  EXPECT_EQ(client_->Stat("/f")->mode, 0600u);  // unchanged

  auto touched = client_->Touch("/f");
  ASSERT_OK(touched);
  EXPECT_GT(touched->mtime_ns, 2'000'000'000);
  auto created = client_->Touch("/new");
  ASSERT_OK(created);
  EXPECT_EQ(created->type, FileType::kRegular);
  EXPECT_ERRC(client_->Touch("/missing/x"), Errc::kNotFound);

  auto fs = client_->StatFs();
  ASSERT_OK(fs);
  EXPECT_EQ(fs->name_max, 255u);
  EXPECT_GE(fs->files, 3u);
  ASSERT_OK(client_->Fsync());
}

TEST_F(MetaServiceTest, Xattrs) {
  ASSERT_OK(client_->Create("/x", 0644, true));
  ASSERT_OK(client_->SetXattr("/x", "user.a", "one", 0));
  ASSERT_OK(client_->SetXattr("/x", "user.b", std::string("bin\0ary", 7), 0));
  auto a = client_->GetXattr("/x", "user.a");
  ASSERT_OK(a);
  EXPECT_EQ(*a, "one");
  EXPECT_EQ(*client_->GetXattr("/x", "user.b"), std::string("bin\0ary", 7));
  auto names = client_->ListXattr("/x");
  ASSERT_OK(names);
  EXPECT_EQ(*names, (std::vector<std::string>{"user.a", "user.b"}));
  EXPECT_ERRC(client_->SetXattr("/x", "user.a", "two", kXattrCreate), Errc::kExists);
  EXPECT_ERRC(client_->SetXattr("/x", "user.c", "two", kXattrReplace), Errc::kNoAttr);
  EXPECT_ERRC(client_->GetXattr("/x", "user.zzz"), Errc::kNoAttr);
  EXPECT_EQ(ToErrno(client_->GetXattr("/x", "user.zzz").status()), ENODATA);
  EXPECT_ERRC(client_->SetXattr("/x", "user.big", std::string(65 * 1024, 'v'), 0), Errc::kTooBig);
  EXPECT_ERRC(client_->SetXattr("/x", "user." + std::string(300, 'n'), "v", 0), Errc::kRange);
  EXPECT_ERRC(client_->SetXattr("/x", "user.a", "v", 3), Errc::kInvalid);
  ASSERT_OK(client_->RemoveXattr("/x", "user.a"));
  EXPECT_ERRC(client_->RemoveXattr("/x", "user.a"), Errc::kNoAttr);
  EXPECT_EQ(*client_->ListXattr("/x"), std::vector<std::string>{"user.b"});
  EXPECT_ERRC(client_->ListXattr("/none"), Errc::kNotFound);
}

TEST_F(MetaServiceTest, MkdirAllAndRemoveAll) {
  ASSERT_OK(client_->MkdirAll("/t/a/b/c", 0755));
  ASSERT_OK(client_->MkdirAll("/t/a/b/c", 0755));  // exists: fine
  ASSERT_OK(client_->MkdirAll("/", 0755));
  ASSERT_OK(client_->Create("/t/a/file", 0644, true));
  EXPECT_ERRC(client_->MkdirAll("/t/a/file", 0755), Errc::kExists);
  EXPECT_ERRC(client_->MkdirAll("/t/a/file/sub", 0755), Errc::kNotDir);
  for (int i = 0; i < 1500; ++i) {
    ASSERT_OK(client_->Create("/t/a/b/f" + std::to_string(i), 0644, true));
  }
  ASSERT_OK(client_->Symlink("/t", "/t/a/b/c/loop"));
  ASSERT_OK(client_->RemoveAll("/t"));
  EXPECT_ERRC(client_->Stat("/t"), Errc::kNotFound);
  EXPECT_ERRC(client_->RemoveAll("/t"), Errc::kNotFound);
  EXPECT_ERRC(client_->RemoveAll("/"), Errc::kBusy);
  ASSERT_OK(client_->Create("/single", 0644, true));
  ASSERT_OK(client_->RemoveAll("/single"));
  EXPECT_TRUE(Names("/").empty());
}

TEST_F(MetaServiceTest, InodeLevelLookupAndGetAttr) {
  auto d = client_->Mkdir("/dir", 0755);
  ASSERT_OK(d);
  auto f = client_->Create("/dir/f", 0644, true);
  ASSERT_OK(f);
  auto looked = client_->Lookup(kRootInode, "dir");
  ASSERT_OK(looked);
  EXPECT_EQ(looked->ino, d->ino);
  EXPECT_EQ(client_->Lookup(d->ino, "f")->ino, f->ino);
  EXPECT_ERRC(client_->Lookup(d->ino, "nope"), Errc::kNotFound);
  auto got = client_->GetAttr(f->ino);
  ASSERT_OK(got);
  EXPECT_EQ(got->type, FileType::kRegular);
  EXPECT_ERRC(client_->GetAttr(InodeId(987654321)), Errc::kNotFound);
  EXPECT_ERRC(client_->GetAttr(InodeId(0)), Errc::kInvalid);
  auto root = client_->GetAttr(kRootInode);
  ASSERT_OK(root);
  EXPECT_EQ(root->type, FileType::kDirectory);
}

TEST_F(MetaServiceTest, MalformedRequestsGetTypedErrorsAndChangeNothing) {
  ASSERT_OK(client_->Mkdir("/keep", 0755));
  auto before = Names("/");

  proto::MkdirRequest no_parent;
  no_parent.set_name("x");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Mkdir, no_parent), Errc::kInvalid);

  proto::MkdirRequest empty_ref;
  empty_ref.mutable_parent();  // present but neither ino nor path
  empty_ref.set_name("x");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Mkdir, empty_ref), Errc::kInvalid);

  proto::CreateRequest ino0;
  ino0.mutable_parent()->set_ino(0);
  ino0.set_name("x");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, ino0), Errc::kInvalid);

  proto::CreateRequest empty_path;
  empty_path.mutable_parent()->set_path("");
  empty_path.set_name("x");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, empty_path), Errc::kInvalid);

  proto::CreateRequest relative;
  relative.mutable_parent()->set_path("keep");
  relative.set_name("x");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, relative), Errc::kInvalid);

  proto::CreateRequest huge_name;
  huge_name.mutable_parent()->set_path("/");
  huge_name.set_name(std::string(5 << 20, 'n'));  // 5 MB
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, huge_name), Errc::kNameTooLong);

  proto::GetAttrRequest huge_path;
  huge_path.mutable_target()->set_path("/" + std::string(5 << 20, 'p'));
  EXPECT_ERRC(Raw(&proto::Meta::Stub::GetAttr, huge_path), Errc::kNameTooLong);

  proto::CreateRequest empty_name;
  empty_name.mutable_parent()->set_path("/");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, empty_name), Errc::kInvalid);

  proto::CreateRequest dot;
  dot.mutable_parent()->set_path("/");
  dot.set_name("..");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, dot), Errc::kInvalid);

  proto::CreateRequest slash;
  slash.mutable_parent()->set_path("/");
  slash.set_name("a/b");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Create, slash), Errc::kInvalid);

  proto::MkdirRequest bad_mode;
  bad_mode.mutable_parent()->set_path("/");
  bad_mode.set_name("m");
  bad_mode.set_mode(0170755);
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Mkdir, bad_mode), Errc::kInvalid);

  proto::RenameRequest flags;
  flags.mutable_src_parent()->set_path("/");
  flags.set_src_name("keep");
  flags.mutable_dst_parent()->set_path("/");
  flags.set_dst_name("moved");
  flags.set_flags(kRenameNoReplace | kRenameExchange);
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Rename, flags), Errc::kInvalid);
  flags.set_flags(64);
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Rename, flags), Errc::kInvalid);
  flags.clear_dst_parent();
  flags.set_flags(0);
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Rename, flags), Errc::kInvalid);

  proto::SymlinkRequest bad_target;
  bad_target.mutable_parent()->set_path("/");
  bad_target.set_name("s");
  bad_target.set_target(std::string(5000, 't'));
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Symlink, bad_target), Errc::kNameTooLong);
  bad_target.set_target("");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Symlink, bad_target), Errc::kInvalid);

  proto::SetXattrRequest big_value;
  big_value.mutable_target()->set_path("/keep");
  big_value.set_name("user.v");
  big_value.set_value(std::string(5 << 20, 'v'));
  EXPECT_ERRC(Raw(&proto::Meta::Stub::SetXattr, big_value), Errc::kTooBig);

  proto::ReaddirRequest bad_cursor;
  bad_cursor.mutable_dir()->set_path("/");
  bad_cursor.set_after(std::string(1000, 'c'));
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Readdir, bad_cursor), Errc::kNameTooLong);

  proto::LinkRequest link;
  link.mutable_new_parent()->set_path("/");
  link.set_new_name("l");
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Link, link), Errc::kInvalid);

  EXPECT_EQ(Names("/"), before);
  EXPECT_TRUE(client_->ListXattr("/keep")->empty());
}

TEST_F(MetaServiceTest, ConcurrentCreatesInOneDirectory) {
  ASSERT_OK(client_->Mkdir("/c", 0755));
  // A second client spreading its calls over several connections.
  ClientOptions multi;
  multi.meta_address = server_->grpc_address();
  multi.connections = 3;
  auto other = Client::Connect(multi);
  ASSERT_OK(other);
  constexpr int kThreads = 8, kPer = 150;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        Client& c = t % 2 == 0 ? *client_ : **other;
        auto r = c.Create("/c/t" + std::to_string(t) + "_" + std::to_string(i), 0644, true);
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Names("/c").size(), static_cast<size_t>(kThreads * kPer));
}

// Meta.Batch: each op gets its own status and reply, in order; one failing
// does not stop the next; the metrics count each under its own op.
TEST_F(MetaServiceTest, BatchRunsEachOperationWithItsOwnStatus) {
  proto::BatchRequest req;
  auto* mkdir = req.add_ops()->mutable_mkdir();
  mkdir->mutable_parent()->set_path("/");
  mkdir->set_name("b");
  mkdir->set_mode(0755);
  auto* again = req.add_ops()->mutable_mkdir();
  *again = *mkdir;  // same name, no request id: a second mkdir -> kExists
  auto* create = req.add_ops()->mutable_create();
  create->mutable_parent()->set_path("/b");
  create->set_name("f");
  create->set_mode(0644);
  create->mutable_request_id()->set_client(77);
  create->mutable_request_id()->set_seq(1);
  req.add_ops();  // no request at all
  auto* lookup = req.add_ops()->mutable_lookup();
  lookup->mutable_parent()->set_path("/b");
  lookup->set_name("f");
  auto* bad_name = req.add_ops()->mutable_create();
  bad_name->mutable_parent()->set_path("/b");
  bad_name->set_name("a/b");
  auto* symlink = req.add_ops()->mutable_symlink();
  symlink->mutable_parent()->set_path("/b");
  symlink->set_name("s");
  symlink->set_target("f");
  req.add_ops()->mutable_readlink()->mutable_target()->set_path("/b/s");
  auto* unlink = req.add_ops()->mutable_unlink();
  unlink->mutable_parent()->set_path("/b");
  unlink->set_name("missing");

  auto call = [&](proto::BatchReply* reply) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return FromGrpcStatus(stub_->Batch(&ctx, req, reply), ctx);
  };
  proto::BatchReply reply;
  ASSERT_OK(call(&reply));
  ASSERT_EQ(reply.replies_size(), req.ops_size());
  auto errc = [&](int i) {
    const proto::MetaOpReply& r = reply.replies(i);
    return ErrcOf(FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(r.code()), r.message()),
                                 r.errc()));
  };
  EXPECT_EQ(errc(0), Errc::kOk);
  EXPECT_EQ(reply.replies(0).attr().attr().type(), proto::FILE_TYPE_DIRECTORY);
  EXPECT_EQ(errc(1), Errc::kExists);
  EXPECT_FALSE(reply.replies(1).has_attr());
  EXPECT_EQ(errc(2), Errc::kOk);
  const uint64_t file_ino = reply.replies(2).attr().attr().ino();
  EXPECT_NE(file_ino, 0u);
  EXPECT_EQ(errc(3), Errc::kInvalid);
  EXPECT_EQ(errc(4), Errc::kOk);
  EXPECT_EQ(reply.replies(4).attr().attr().ino(), file_ino);
  EXPECT_EQ(errc(5), Errc::kInvalid);
  EXPECT_EQ(errc(6), Errc::kOk);
  EXPECT_EQ(errc(7), Errc::kOk);
  EXPECT_EQ(reply.replies(7).readlink().target(), "f");
  EXPECT_EQ(errc(8), Errc::kNotFound);
  EXPECT_EQ(Names("/b"), (std::vector<std::string>{"f", "s"}));

  // The same batch again: the create carries the same request id and is
  // answered with its first outcome (same inode), not kExists.
  proto::BatchReply repeat;
  ASSERT_OK(call(&repeat));
  ASSERT_EQ(repeat.replies_size(), req.ops_size());
  EXPECT_EQ(repeat.replies(2).code(), 0) << repeat.replies(2).message();
  EXPECT_EQ(repeat.replies(2).attr().attr().ino(), file_ino);
  EXPECT_NE(repeat.replies(0).code(), 0);  // the mkdir had no id: kExists now

  auto metrics = HttpGet(server_->http_address(), "/metrics");
  const std::string& text = metrics.second;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Batch\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cairn_meta_errors_total{op=\"Unlink\",errc=\"NotFound\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Readlink\"} 2\n"), std::string::npos) << text;
}

TEST_F(MetaServiceTest, OversizedBatchIsRefusedWhole) {
  proto::BatchRequest req;
  for (int i = 0; i < 257; ++i) {
    auto* mkdir = req.add_ops()->mutable_mkdir();
    mkdir->mutable_parent()->set_path("/");
    mkdir->set_name("d" + std::to_string(i));
    mkdir->set_mode(0755);
  }
  EXPECT_ERRC(Raw(&proto::Meta::Stub::Batch, req), Errc::kInvalid);
  EXPECT_TRUE(Names("/").empty());
  req.mutable_ops()->RemoveLast();
  ASSERT_OK(Raw(&proto::Meta::Stub::Batch, req));
  EXPECT_EQ(Names("/").size(), 256u);
}

// Meta.BatchStream: each batch on the stream is answered by one reply, in
// order, exactly as Meta.Batch answers it; a batch refused whole ends the
// stream with its typed status and changes nothing.
TEST_F(MetaServiceTest, BatchStreamAnswersEachBatchInOrder) {
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub_->BatchStream(&ctx);
  auto mkdir_op = [](proto::BatchRequest* req, const std::string& name) {
    auto* mkdir = req->add_ops()->mutable_mkdir();
    mkdir->mutable_parent()->set_path("/");
    mkdir->set_name(name);
    mkdir->set_mode(0755);
  };
  for (int i = 0; i < 3; ++i) {
    proto::BatchRequest req;
    mkdir_op(&req, "s" + std::to_string(i));
    mkdir_op(&req, "s" + std::to_string(i));  // the same again: kExists
    req.add_ops()->mutable_getattr()->mutable_target()->set_path("/s" + std::to_string(i));
    ASSERT_TRUE(stream->Write(req));
    proto::BatchReply reply;
    ASSERT_TRUE(stream->Read(&reply));
    ASSERT_EQ(reply.replies_size(), 3);
    EXPECT_EQ(reply.replies(0).code(), 0) << reply.replies(0).message();
    EXPECT_EQ(
        ErrcOf(FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(reply.replies(1).code()),
                                           reply.replies(1).message()),
                              reply.replies(1).errc())),
        Errc::kExists);
    EXPECT_EQ(reply.replies(2).attr().attr().ino(), reply.replies(0).attr().attr().ino());
  }
  proto::BatchRequest oversized;
  for (int i = 0; i < 257; ++i) mkdir_op(&oversized, "o" + std::to_string(i));
  ASSERT_TRUE(stream->Write(oversized));
  proto::BatchReply none;
  EXPECT_FALSE(stream->Read(&none));
  EXPECT_ERRC(FromGrpcStatus(stream->Finish(), ctx), Errc::kInvalid);
  EXPECT_EQ(Names("/"), (std::vector<std::string>{"s0", "s1", "s2"}));
  const std::string text = HttpGet(server_->http_address(), "/metrics").second;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Batch\"} 4\n"), std::string::npos) << text;
}

// An open stream does not hold a shutdown up for its grace: a stream
// waiting for its next batch is cancelled at once, and the client sees a
// status without an answer (it sends the batch again to the next meta).
TEST(MetaServerShutdown, OpenBatchStreamsDoNotWaitForTheGrace) {
  auto server = MetaServer::Start(MemoryMetaOptions(absl::Seconds(60)));
  ASSERT_OK(server);
  auto channel = grpc::CreateChannel((*server)->grpc_address(), grpc::InsecureChannelCredentials());
  auto stub = proto::Meta::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->BatchStream(&ctx);
  proto::BatchRequest req;
  req.add_ops()->mutable_getattr()->mutable_target()->set_path("/");
  ASSERT_TRUE(stream->Write(req));
  proto::BatchReply reply;
  ASSERT_TRUE(stream->Read(&reply));
  ASSERT_EQ(reply.replies_size(), 1);
  const absl::Time start = absl::Now();
  ASSERT_OK((*server)->Shutdown());
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  EXPECT_FALSE(stream->Read(&reply));
  const grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.error_code() == grpc::StatusCode::CANCELLED ||
              status.error_code() == grpc::StatusCode::UNAVAILABLE)
      << status.error_code() << " " << status.error_message();
  EXPECT_EQ(ctx.GetServerTrailingMetadata().count(kErrcTrailer), 0u);
}

// Many threads of one client: their namespace calls travel in batches
// (fewer batches than operations) and each gets its own answer.
TEST_F(MetaServiceTest, ConcurrentCallsOfOneClientShareBatches) {
  ASSERT_OK(client_->Mkdir("/p", 0755));
  constexpr int kThreads = 8, kPer = 100;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPer; ++i) {
        const std::string path = "/p/t" + std::to_string(t) + "_" + std::to_string(i);
        auto created = client_->Create(path, 0600 | (i % 2 == 0 ? 0 : 040), true);
        auto st = client_->Stat(path);
        if (!created.ok() || !st.ok() || st->ino != created->ino || st->mode != created->mode)
          ++wrong;
        if (ErrcOf(client_->Create(path, 0644, true).status()) != Errc::kExists) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(Names("/p").size(), static_cast<size_t>(kThreads * kPer));
  const std::string text = HttpGet(server_->http_address(), "/metrics").second;
  auto count = [&](const std::string& op) {
    const std::string key = "cairn_meta_requests_total{op=\"" + op + "\"} ";
    size_t at = text.find(key);
    return at == std::string::npos ? -1.0 : std::stod(text.substr(at + key.size()));
  };
  const double ops = count("Create") + count("GetAttr") + count("Lookup");
  EXPECT_GE(ops, 3.0 * kThreads * kPer);
  // Eight threads calling at once through two slots: some batches carry
  // several operations.
  EXPECT_GT(count("Batch"), 0);
  EXPECT_LT(count("Batch"), ops);
}

// With batching off every call is its own RPC.
TEST_F(MetaServiceTest, BatchingOffSendsUnaryCalls) {
  ClientOptions o;
  o.meta_address = server_->grpc_address();
  o.meta_batch_in_flight = 0;
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  ASSERT_OK((*c)->Mkdir("/u", 0755));
  ASSERT_OK((*c)->Stat("/u"));
  const std::string text = HttpGet(server_->http_address(), "/metrics").second;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Batch\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Mkdir\"} 1\n"), std::string::npos) << text;
}

TEST_F(MetaServiceTest, HealthReadinessAndMetrics) {
  auto health = HttpGet(server_->http_address(), "/healthz");
  EXPECT_EQ(health.first, 200);
  EXPECT_EQ(health.second, "ok\n");
  EXPECT_EQ(HttpGet(server_->http_address(), "/readyz").first, 200);
  EXPECT_EQ(HttpGet(server_->http_address(), "/nope").first, 404);

  ASSERT_OK(client_->Mkdir("/m", 0755));
  EXPECT_ERRC(client_->Mkdir("/m", 0755), Errc::kExists);
  EXPECT_ERRC(client_->Stat("/missing"), Errc::kNotFound);
  auto metrics = HttpGet(server_->http_address(), "/metrics");
  ASSERT_EQ(metrics.first, 200);
  const std::string& text = metrics.second;
  EXPECT_NE(text.find("# TYPE cairn_meta_requests_total counter"), std::string::npos) << text;
  EXPECT_NE(text.find("cairn_meta_requests_total{op=\"Mkdir\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("cairn_meta_errors_total{op=\"Mkdir\",errc=\"Exists\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cairn_meta_errors_total{op=\"GetAttr\",errc=\"NotFound\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("cairn_meta_request_duration_seconds_count{op=\"Mkdir\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("cairn_meta_ready 1\n"), std::string::npos);
}

TEST_F(MetaServiceTest, ShutdownStopsServingAndIsIdempotent) {
  ASSERT_OK(client_->Mkdir("/s", 0755));
  ASSERT_OK(server_->Shutdown());
  ASSERT_OK(server_->Shutdown());
  ClientOptions o;
  o.meta_address = server_->grpc_address();
  o.timeout = absl::Seconds(2);
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  auto st = (*c)->Stat("/s");
  EXPECT_TRUE(ErrcOf(st.status()) == Errc::kUnavailable || ErrcOf(st.status()) == Errc::kTimeout)
      << st.status();
  EXPECT_EQ(HttpGet(server_->http_address(), "/healthz").first, -1);
}

TEST(MetaServerStart, BadOptions) {
  MetaServerOptions o;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.store = "floppy:/x";
  EXPECT_ERRC(MetaServer::Start(o), Errc::kInvalid);
  o.store = "memory";
  o.grpc_listen = "nonsense";
  EXPECT_ERRC(MetaServer::Start(o), Errc::kInvalid);
}

TEST(MetaServerStart, PortInUseIsUnavailable) {
  MetaServerOptions o;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  auto first = MetaServer::Start(o);
  ASSERT_OK(first);
  MetaServerOptions same = o;
  same.grpc_listen = (*first)->grpc_address();
  EXPECT_ERRC(MetaServer::Start(same), Errc::kUnavailable);
  same = o;
  same.http_listen = (*first)->http_address();
  EXPECT_ERRC(MetaServer::Start(same), Errc::kUnavailable);
}

TEST(MetaServerStart, RocksDbStoreKeepsDataAcrossRestarts) {
  std::string dir = ::testing::TempDir() + "/meta_service_rocks_" + std::to_string(getpid());
  MetaServerOptions o;
  o.grpc_listen = "127.0.0.1:0";
  o.http_listen = "127.0.0.1:0";
  o.store = "rocksdb:" + dir;
  o.sync_mode = store::SyncMode::kAlways;  // changes run on the disk pool
  o.disk_threads = 4;
  {
    auto server = MetaServer::Start(o);
    ASSERT_OK(server);
    ClientOptions co;
    co.meta_address = (*server)->grpc_address();
    auto c = Client::Connect(co);
    ASSERT_OK((*c)->Mkdir("/persist", 0755));
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20; ++i) {
          if (!(*c)->Create("/persist/f" + std::to_string(t * 100 + i), 0644, true).ok())
            ++failures;
        }
        if (!(*c)->Fsync().ok()) ++failures;
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    EXPECT_ERRC((*c)->Mkdir("/persist", 0755), Errc::kExists);  // errors from the pool too
  }
  {
    auto server = MetaServer::Start(o);
    ASSERT_OK(server);
    ClientOptions co;
    co.meta_address = (*server)->grpc_address();
    auto c = Client::Connect(co);
    ASSERT_OK((*c)->Stat("/persist"));
    EXPECT_EQ((*c)->ReadDir("/persist", false)->size(), 160u);
  }
  std::filesystem::remove_all(dir);
}

TEST(ReadyFile, WrittenAtomicallyAsJson) {
  std::string path = ::testing::TempDir() + "/ready_" + std::to_string(getpid()) + ".json";
  ASSERT_OK(WriteReadyFile(path, "127.0.0.1:1", "127.0.0.1:2"));
  std::ifstream in(path);
  auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["grpc"], "127.0.0.1:1");
  EXPECT_EQ(j["http"], "127.0.0.1:2");
  EXPECT_EQ(j["pid"], getpid());
  std::remove(path.c_str());
  EXPECT_ERRC(WriteReadyFile("/nonexistent-dir/x/ready.json", "a", "b"), Errc::kIo);
}

// A Meta service whose GetAttr fails with the Errc numbered by the
// requested inode, through the same translation the real service uses.
class ErrcEchoService final : public proto::Meta::CallbackService {
 public:
  grpc::ServerUnaryReactor* GetAttr(grpc::CallbackServerContext* ctx,
                                    const proto::GetAttrRequest* req,
                                    proto::AttrReply* /*reply*/) override {
    auto* reactor = ctx->DefaultReactor();
    Errc code = ErrcFromInt(static_cast<int>(req->target().ino()));
    reactor->Finish(ToGrpcStatus(Error(code, "echo " + std::string(ErrcName(code))), ctx));
    return reactor;
  }
  // The same errors inside a batch, encoded as MetaService::RunBatchOp does.
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* ctx, const proto::BatchRequest* req,
                                  proto::BatchReply* reply) override {
    for (const proto::MetaOp& op : req->ops()) {
      Errc code = ErrcFromInt(static_cast<int>(op.getattr().target().ino()));
      absl::Status st = Error(code, "echo " + std::string(ErrcName(code)));
      proto::MetaOpReply* r = reply->add_replies();
      r->set_code(static_cast<int32_t>(st.code()));
      r->set_message(std::string(st.message()));
      r->set_errc(ErrcTrailerValue(st));
    }
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

// A gRPC server on a free loopback port serving `service` (a stand-in
// for meta); its port in *port.
std::unique_ptr<grpc::Server> StartFakeMeta(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

// A Meta service whose batch streams take a batch and never answer it,
// or (`end_at_once`) end the stream with OK instead of answering.
class SilentBatchService final : public proto::Meta::CallbackService {
 public:
  explicit SilentBatchService(bool end_at_once = false) : end_at_once_(end_at_once) {}

  grpc::ServerBidiReactor<proto::BatchRequest, proto::BatchReply>* BatchStream(
      grpc::CallbackServerContext* /*ctx*/) override {
    return new Silent(end_at_once_);
  }

 private:
  class Silent final : public grpc::ServerBidiReactor<proto::BatchRequest, proto::BatchReply> {
   public:
    explicit Silent(bool end_at_once) : end_at_once_(end_at_once) { StartRead(&req_); }
    void OnReadDone(bool ok) override {
      // A batch read is left unanswered.
      if (!ok || end_at_once_) End(grpc::Status::OK);
    }
    void OnCancel() override { End(grpc::Status::CANCELLED); }
    void OnDone() override { delete this; }

   private:
    void End(const grpc::Status& status) {
      if (!ended_.exchange(true)) Finish(status);
    }
    const bool end_at_once_;
    proto::BatchRequest req_;
    std::atomic<bool> ended_{false};
  };
  const bool end_at_once_;
};

// A client of the fake meta on `port` that tries each call once.
absl::StatusOr<std::unique_ptr<Client>> ConnectWithoutRetries(int port, absl::Duration timeout) {
  ClientOptions o;
  o.meta_address = "127.0.0.1:" + std::to_string(port);
  o.timeout = timeout;
  o.meta_retry_deadline = absl::ZeroDuration();
  return Client::Connect(o);
}

// A batch on a stream is bounded by the call timeout like a call of its
// own: a meta that takes a batch and never answers fails it with kTimeout.
TEST(BatchStreamClient, AnUnansweredBatchTimesOut) {
  SilentBatchService service;
  int port = 0;
  auto server = StartFakeMeta(&service, &port);
  ASSERT_NE(server, nullptr);
  {
    auto c = ConnectWithoutRetries(port, absl::Milliseconds(500));
    ASSERT_OK(c);
    const absl::Time start = absl::Now();
    EXPECT_ERRC((*c)->Stat("/"), Errc::kTimeout);
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(400));
    EXPECT_LT(absl::Now() - start, absl::Seconds(10));
    EXPECT_ERRC((*c)->Stat("/"), Errc::kTimeout);  // on a new stream, the same
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

// A stream that meta ends without answering the batch (status OK, no
// reply) is a batch without an answer, never a success; the next batch
// goes on a new stream.
TEST(BatchStreamClient, AStreamEndedWithoutAnAnswerIsUnavailable) {
  SilentBatchService service(/*end_at_once=*/true);
  int port = 0;
  auto server = StartFakeMeta(&service, &port);
  ASSERT_NE(server, nullptr);
  {
    auto c = ConnectWithoutRetries(port, absl::Seconds(10));
    ASSERT_OK(c);
    for (int i = 0; i < 3; ++i) EXPECT_ERRC((*c)->Stat("/"), Errc::kUnavailable);
  }
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

// Every Errc crosses a real gRPC connection and comes back to the client
// library as the same precise code, message and errno.
TEST(ErrorTranslation, EveryErrcRoundTripsThroughTheClient) {
  ErrcEchoService service;
  int port = 0;
  auto server = StartFakeMeta(&service, &port);
  ASSERT_NE(server, nullptr);
  // Unary calls, then batches: this service has no batch streams, so the
  // client falls back to Meta.Batch calls.
  for (int batch : {0, 2}) {
    ClientOptions o;
    o.meta_address = "127.0.0.1:" + std::to_string(port);
    o.meta_batch_in_flight = batch;
    auto c = Client::Connect(o);
    ASSERT_OK(c);
    for (int i = 1; i <= static_cast<int>(Errc::kCancelled); ++i) {
      Errc code = static_cast<Errc>(i);
      absl::Status sent = Error(code, "x");
      absl::Status got = (*c)->GetAttr(InodeId(static_cast<uint64_t>(i))).status();
      EXPECT_EQ(ErrcOf(got), code) << ErrcName(code) << ": " << got << " batch " << batch;
      EXPECT_EQ(got.code(), sent.code()) << ErrcName(code);
      EXPECT_EQ(ToErrno(got), ToErrno(sent)) << ErrcName(code);
      EXPECT_EQ(std::string(got.message()), "echo " + std::string(ErrcName(code)));
    }
  }
  server->Shutdown();
}

TEST(ClientConnect, BadOptionsAreInvalid) {
  ClientOptions o;
  o.connections = 0;
  EXPECT_ERRC(Client::Connect(o), Errc::kInvalid);
  o.connections = 1;
  o.meta_batch_in_flight = -1;
  EXPECT_ERRC(Client::Connect(o), Errc::kInvalid);
  o.meta_batch_in_flight = 65;
  EXPECT_ERRC(Client::Connect(o), Errc::kInvalid);
  o.meta_batch_in_flight = 2;
  o.timeout = absl::ZeroDuration();
  EXPECT_ERRC(Client::Connect(o), Errc::kInvalid);
}

TEST(ClientConnect, UnreachableServerIsUnavailable) {
  ClientOptions o;
  o.meta_address = "127.0.0.1:1";
  o.timeout = absl::Seconds(5);
  auto c = Client::Connect(o);
  ASSERT_OK(c);
  auto st = (*c)->Stat("/");
  EXPECT_EQ(ErrcOf(st.status()), Errc::kUnavailable) << st.status();
  o.meta_address = "";
  EXPECT_ERRC(Client::Connect(o), Errc::kInvalid);
}

}  // namespace
}  // namespace cairn::service

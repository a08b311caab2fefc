// MetaClient: the Client implementation over the cairn.proto.Meta gRPC
// service. One channel and one stub per client, shared by every thread;
// client/rpc.h repeats calls across a meta restart.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "cairn/client.h"
#include "client/convert.h"
#include "client/data_context.h"
#include "client/open_file.h"
#include "client/paths.h"
#include "client/rpc.h"
#include "common/status_macros.h"
#include "meta.grpc.pb.h"

namespace cairn {
namespace {

using client::FromProto;
using client::JoinPath;
using client::ParentAndName;
using client::SplitParent;

void SetPath(proto::Ref* ref, std::string_view path) { ref->set_path(std::string(path)); }

client::RpcOptions RpcOptionsOf(const ClientOptions& o) {
  client::RpcOptions r;
  r.timeout = o.timeout;
  r.retry_deadline = o.meta_retry_deadline;
  r.connect_deadline = o.meta_connect_deadline;
  r.batch_in_flight = static_cast<size_t>(o.meta_batch_in_flight);  // 0..64, checked
  return r;
}

// The root has no parent entry: operations that name an entry get the
// error Linux gives for "/".
absl::Status RootError(Errc code, std::string_view op) {
  return Error(code, std::string(op) + " /: not allowed on the root directory");
}

class MetaClient final : public Client {
 public:
  MetaClient(const ClientOptions& options, std::vector<std::shared_ptr<grpc::Channel>> channels)
      : options_(options), rpc_(channels, RpcOptionsOf(options)), data_(options, &rpc_) {}

  absl::StatusOr<Attr> Stat(std::string_view path) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::GetAttrRequest req;
    SetPath(req.mutable_target(), path);
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::GetAttr, req, &reply));
    return FromProto(reply.attr());
  }

  absl::StatusOr<Attr> SetAttr(std::string_view path, const SetAttrArgs& args) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::SetAttrRequest req;
    SetPath(req.mutable_target(), path);
    if (args.mode) req.set_mode(*args.mode);
    if (args.uid) req.set_uid(*args.uid);
    if (args.gid) req.set_gid(*args.gid);
    if (args.size) req.set_size(*args.size);
    if (args.atime_ns) req.set_atime_ns(*args.atime_ns);
    if (args.mtime_ns) req.set_mtime_ns(*args.mtime_ns);
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::SetAttr, req, &reply));
    return FromProto(reply.attr());
  }

  absl::StatusOr<Attr> Touch(std::string_view path) override {
    SetAttrArgs now;
    now.atime_ns = kTimeNow;
    now.mtime_ns = kTimeNow;
    absl::StatusOr<Attr> touched = SetAttr(path, now);
    if (ErrcOf(touched.status()) != Errc::kNotFound) return touched;
    // Nothing there (or a missing parent, which Create reports).
    return Create(path, 0644, /*exclusive=*/false);
  }

  absl::StatusOr<StatFsInfo> StatFs() override {
    proto::StatfsRequest req;
    proto::StatfsReply reply;
    RETURN_IF_ERROR(Call(&Stub::Statfs, req, &reply));
    StatFsInfo out;
    out.total_bytes = reply.total_bytes();
    out.free_bytes = reply.free_bytes();
    out.avail_bytes = reply.avail_bytes();
    out.files = reply.files();
    out.files_free = reply.files_free();
    out.name_max = reply.name_max();
    out.block_size = reply.block_size();
    return out;
  }

  absl::StatusOr<Attr> Mkdir(std::string_view path, uint32_t mode) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
    if (pn.name.empty()) return RootError(Errc::kExists, "mkdir");
    proto::MkdirRequest req;
    req.mutable_parent()->set_path(std::move(pn.parent));
    req.set_name(std::move(pn.name));
    req.set_mode(mode);
    req.set_uid(options_.uid);
    req.set_gid(options_.gid);
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::Mkdir, req, &reply));
    return FromProto(reply.attr());
  }

  absl::Status MkdirAll(std::string_view path, uint32_t mode) override {
    absl::StatusOr<Attr> made = Mkdir(path, mode);
    if (made.ok()) return absl::OkStatus();
    Errc code = ErrcOf(made.status());
    if (code == Errc::kNotFound) {
      ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
      if (pn.name.empty()) return made.status();
      RETURN_IF_ERROR(MkdirAll(pn.parent, mode));
      made = Mkdir(path, mode);
      if (made.ok()) return absl::OkStatus();
      code = ErrcOf(made.status());
    }
    if (code != Errc::kExists) return made.status();
    // Something exists: fine when it is a directory (made meanwhile, too).
    absl::StatusOr<Attr> existing = Stat(path);
    if (existing.ok() && existing->type == FileType::kDirectory) return absl::OkStatus();
    return made.status();
  }

  absl::Status Rmdir(std::string_view path) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
    if (pn.name.empty()) return RootError(Errc::kBusy, "rmdir");
    proto::RemoveRequest req;
    req.mutable_parent()->set_path(std::move(pn.parent));
    req.set_name(std::move(pn.name));
    proto::RemoveReply reply;
    return Call(&Stub::Rmdir, req, &reply);
  }

  absl::StatusOr<std::vector<DirEntry>> ReadDir(std::string_view path, bool with_attrs) override {
    std::vector<DirEntry> out;
    std::string cursor;
    for (;;) {
      ASSIGN_OR_RETURN(DirPage page, ReadDirPage(path, cursor, 0, with_attrs));
      for (DirEntry& e : page.entries) out.push_back(std::move(e));
      if (page.eof || page.entries.empty()) break;
      cursor = std::move(page.next_cursor);
    }
    return out;
  }

  absl::StatusOr<DirPage> ReadDirPage(std::string_view path, std::string_view cursor,
                                      uint32_t limit, bool with_attrs) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::ReaddirRequest req;
    SetPath(req.mutable_dir(), path);
    req.set_after(std::string(cursor));
    req.set_limit(limit);
    req.set_with_attrs(with_attrs);
    proto::ReaddirReply reply;
    RETURN_IF_ERROR(Call(&Stub::Readdir, req, &reply));
    DirPage page;
    page.entries.reserve(reply.entries_size());
    for (proto::DirEntry& e : *reply.mutable_entries()) {
      DirEntry entry;
      entry.name = std::move(*e.mutable_name());
      entry.ino = InodeId(e.ino());
      entry.type = FromProto(e.type());
      if (e.has_attr()) entry.attr = FromProto(e.attr());
      page.entries.push_back(std::move(entry));
    }
    page.eof = reply.eof();
    page.next_cursor = page.entries.empty() ? std::string(cursor) : page.entries.back().name;
    return page;
  }

  absl::StatusOr<Attr> Create(std::string_view path, uint32_t mode, bool exclusive) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
    if (pn.name.empty()) return RootError(exclusive ? Errc::kExists : Errc::kIsDir, "create");
    proto::CreateRequest req;
    req.mutable_parent()->set_path(std::move(pn.parent));
    req.set_name(std::move(pn.name));
    req.set_mode(mode);
    req.set_uid(options_.uid);
    req.set_gid(options_.gid);
    req.set_exclusive(exclusive);
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::Create, req, &reply));
    return FromProto(reply.attr());
  }

  absl::Status Unlink(std::string_view path) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
    if (pn.name.empty()) return RootError(Errc::kIsDir, "unlink");
    proto::RemoveRequest req;
    req.mutable_parent()->set_path(std::move(pn.parent));
    req.set_name(std::move(pn.name));
    proto::RemoveReply reply;
    return Call(&Stub::Unlink, req, &reply);
  }

  absl::Status RemoveAll(std::string_view path) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(path));
    if (pn.name.empty()) return RootError(Errc::kBusy, "remove");
    ASSIGN_OR_RETURN(Attr attr, Stat(path));
    if (attr.type != FileType::kDirectory) return Unlink(path);
    RETURN_IF_ERROR(RemoveChildren(path));
    absl::Status removed = Rmdir(path);
    // Someone else removed it meanwhile: the goal is reached all the same.
    if (ErrcOf(removed) == Errc::kNotFound) return absl::OkStatus();
    return removed;
  }

  absl::Status Rename(std::string_view src, std::string_view dst, uint32_t flags) override {
    ASSIGN_OR_RETURN(ParentAndName s, SplitParent(src));
    ASSIGN_OR_RETURN(ParentAndName d, SplitParent(dst));
    if (s.name.empty() || d.name.empty()) return RootError(Errc::kBusy, "rename");
    proto::RenameRequest req;
    req.mutable_src_parent()->set_path(std::move(s.parent));
    req.set_src_name(std::move(s.name));
    req.mutable_dst_parent()->set_path(std::move(d.parent));
    req.set_dst_name(std::move(d.name));
    req.set_flags(flags);
    proto::RenameReply reply;
    return Call(&Stub::Rename, req, &reply);
  }

  absl::StatusOr<Attr> Link(std::string_view existing, std::string_view new_path) override {
    RETURN_IF_ERROR(client::CheckPath(existing));
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(new_path));
    if (pn.name.empty()) return RootError(Errc::kExists, "link");
    proto::LinkRequest req;
    SetPath(req.mutable_target(), existing);
    req.mutable_new_parent()->set_path(std::move(pn.parent));
    req.set_new_name(std::move(pn.name));
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::Link, req, &reply));
    return FromProto(reply.attr());
  }

  absl::StatusOr<Attr> Symlink(std::string_view target, std::string_view link_path) override {
    ASSIGN_OR_RETURN(ParentAndName pn, SplitParent(link_path));
    if (pn.name.empty()) return RootError(Errc::kExists, "symlink");
    proto::SymlinkRequest req;
    req.mutable_parent()->set_path(std::move(pn.parent));
    req.set_name(std::move(pn.name));
    req.set_target(std::string(target));
    req.set_uid(options_.uid);
    req.set_gid(options_.gid);
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::Symlink, req, &reply));
    return FromProto(reply.attr());
  }

  absl::StatusOr<std::string> Readlink(std::string_view path) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::ReadlinkRequest req;
    SetPath(req.mutable_target(), path);
    proto::ReadlinkReply reply;
    RETURN_IF_ERROR(Call(&Stub::Readlink, req, &reply));
    return std::move(*reply.mutable_target());
  }

  absl::StatusOr<std::string> GetXattr(std::string_view path, std::string_view name) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::GetXattrRequest req;
    SetPath(req.mutable_target(), path);
    req.set_name(std::string(name));
    proto::GetXattrReply reply;
    RETURN_IF_ERROR(Call(&Stub::GetXattr, req, &reply));
    return std::move(*reply.mutable_value());
  }

  absl::Status SetXattr(std::string_view path, std::string_view name, std::string_view value,
                        uint32_t flags) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::SetXattrRequest req;
    SetPath(req.mutable_target(), path);
    req.set_name(std::string(name));
    req.set_value(std::string(value));
    req.set_flags(flags);
    proto::XattrReply reply;
    return Call(&Stub::SetXattr, req, &reply);
  }

  absl::StatusOr<std::vector<std::string>> ListXattr(std::string_view path) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::ListXattrRequest req;
    SetPath(req.mutable_target(), path);
    proto::ListXattrReply reply;
    RETURN_IF_ERROR(Call(&Stub::ListXattr, req, &reply));
    return std::vector<std::string>(reply.names().begin(), reply.names().end());
  }

  absl::Status RemoveXattr(std::string_view path, std::string_view name) override {
    RETURN_IF_ERROR(client::CheckPath(path));
    proto::RemoveXattrRequest req;
    SetPath(req.mutable_target(), path);
    req.set_name(std::string(name));
    proto::XattrReply reply;
    return Call(&Stub::RemoveXattr, req, &reply);
  }

  absl::Status Fsync() override {
    proto::FsyncRequest req;
    proto::FsyncReply reply;
    return Call(&Stub::Fsync, req, &reply);
  }

  using Client::Open;
  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, uint32_t flags,
                                             uint32_t mode) override {
    return client::OpenFile(data_, path, flags, mode);
  }

  absl::StatusOr<PolicyInfo> SetPolicy(std::string_view path,
                                       const StoragePolicy& policy) override {
    return client::SetPolicy(data_, path, policy);
  }

  absl::StatusOr<PolicyInfo> GetPolicy(std::string_view path) override {
    return client::GetPolicy(data_, path);
  }

  absl::StatusOr<ClusterInfo> ClusterStatus() override { return client::GetClusterStatus(data_); }

  absl::StatusOr<FileChunksInfo> FileChunks(std::string_view path) override {
    return client::GetFileChunks(data_, path);
  }

  absl::StatusOr<Attr> Lookup(InodeId parent, std::string_view name) override {
    proto::LookupRequest req;
    req.mutable_parent()->set_ino(parent.value());
    req.set_name(std::string(name));
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::Lookup, req, &reply));
    return FromProto(reply.attr());
  }

  absl::StatusOr<Attr> GetAttr(InodeId ino) override {
    proto::GetAttrRequest req;
    req.mutable_target()->set_ino(ino.value());
    proto::AttrReply reply;
    RETURN_IF_ERROR(Call(&Stub::GetAttr, req, &reply));
    return FromProto(reply.attr());
  }

 private:
  using Stub = proto::Meta::Stub;

  // One unary call of the Meta service (client/rpc.h).
  template <typename Req, typename Reply>
  absl::Status Call(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Reply*),
                    const Req& req, Reply* reply) {
    return rpc_.Meta(method, req, reply);
  }

  // Removes every entry below the directory `dir`, page by page.
  absl::Status RemoveChildren(std::string_view dir) {
    std::string cursor;
    for (;;) {
      absl::StatusOr<DirPage> page = ReadDirPage(dir, cursor, 0, false);
      if (!page.ok()) {
        if (ErrcOf(page.status()) == Errc::kNotFound) return absl::OkStatus();
        return page.status();
      }
      for (const DirEntry& e : page->entries) {
        std::string child = JoinPath(dir, e.name);
        absl::Status removed = e.type == FileType::kDirectory ? RemoveAll(child) : Unlink(child);
        // An entry that changed type meanwhile: try the other way.
        if (ErrcOf(removed) == Errc::kIsDir) removed = RemoveAll(child);
        if (!removed.ok() && ErrcOf(removed) != Errc::kNotFound) return removed;
      }
      if (page->eof || page->entries.empty()) return absl::OkStatus();
      cursor = page->next_cursor;
    }
  }

  const ClientOptions options_;
  client::Rpc rpc_;
  // File data: map cache, data connections, threads (created on first use).
  client::DataContext data_;
};

}  // namespace

std::string_view FileTypeName(FileType type) {
  switch (type) {
    case FileType::kRegular:
      return "file";
    case FileType::kDirectory:
      return "dir";
    case FileType::kSymlink:
      return "symlink";
    default:
      return "unknown";
  }
}

std::string_view NodeStateName(NodeState state) {
  switch (state) {
    case NodeState::kUp:
      return "up";
    case NodeState::kDown:
      return "down";
    case NodeState::kOut:
      return "out";
    case NodeState::kDraining:
      return "draining";
    default:
      return "unknown";
  }
}

absl::StatusOr<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  if (options.meta_address.empty()) return Invalid("empty meta server address");
  if (options.timeout <= absl::ZeroDuration()) return Invalid("timeout must be positive");
  if (options.meta_retry_deadline < absl::ZeroDuration() ||
      options.meta_connect_deadline < absl::ZeroDuration()) {
    return Invalid("meta_retry_deadline and meta_connect_deadline must not be negative");
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  // While the server is down calls wait for the channel (client/rpc.h)
  // up to ClientOptions::meta_retry_deadline; a short reconnect back-off
  // finds the server soon after it is back.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (options.meta_batch_in_flight < 0 || options.meta_batch_in_flight > 64) {
    return Invalid("meta_batch_in_flight must be 0..64");
  }
  if (options.connections < 1 || options.connections > 64) {
    return Invalid("connections must be 1..64");
  }
  if (options.data_deadline <= absl::ZeroDuration())
    return Invalid("data_deadline must be positive");
  if (options.max_chunks_in_flight < 1 || options.max_chunks_in_flight > 64) {
    return Invalid("max_chunks_in_flight must be 1..64");
  }
  if (options.commit_every_chunks < 1 || options.commit_every_chunks > 4096) {
    return Invalid("commit_every_chunks must be 1..4096 (a commit carries at most 4096 slots)");
  }
  if (options.max_uncommitted_age <= absl::ZeroDuration() ||
      options.max_uncommitted_age == absl::InfiniteDuration()) {
    return Invalid(
        "max_uncommitted_age must be positive and finite (uploads left uncommitted longer than "
        "meta's GC grace are lost)");
  }
  if (options.readahead_chunks < 0 || options.readahead_chunks > 64) {
    return Invalid("readahead_chunks must be 0..64");
  }
  if (options.data_threads < 1 || options.data_threads > 1024) {
    return Invalid("data_threads must be 1..1024");
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < options.connections; ++i) {
    // A distinct argument per channel keeps gRPC from sharing one
    // connection among them.
    grpc::ChannelArguments channel_args = args;
    channel_args.SetInt("cairn.connection_index", i);
    channel_args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto channel = grpc::CreateCustomChannel(options.meta_address,
                                             grpc::InsecureChannelCredentials(), channel_args);
    if (channel == nullptr) return Invalid("bad meta server address " + options.meta_address);
    channels.push_back(std::move(channel));
  }
  return std::unique_ptr<Client>(new MetaClient(options, std::move(channels)));
}

}  // namespace cairn

// The Cairn client library: the one way into a Cairn file system for every
// frontend (CLI, FUSE, S3 gateway, web UI).
//
// A Client talks to the metadata server over gRPC for metadata and to the
// chunk servers directly (the data protocol) for file content; meta is
// never on the data path. Path-based operations
// take absolute paths ("/a/b"); the server resolves them, following
// symlinks in every component but the last, so each operation is one RPC
// (MkdirAll, RemoveAll, ReadDir and Touch may take several). Inode-level
// operations (Lookup, GetAttr) serve the FUSE mount.
//
// Errors are absl::Status values carrying the precise Cairn error code
// (common/errors.h): ErrcOf(status) and ToErrno(status) give the same
// answer as on the server. A server that cannot be reached gives
// Errc::kUnavailable, a call over its deadline Errc::kTimeout.
//
// Thread-safety: a Client is thread-safe; share one among many threads
// (it holds one gRPC channel, or ClientOptions::connections of them,
// created once and reused by every call, a pool of data connections and
// a cached cluster map). Files it opens (cairn/file.h) borrow it: close
// them before destroying the Client.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/cluster_info.h"
#include "cairn/file.h"
#include "cairn/types.h"
#include "common/errors.h"  // Errc, ErrcOf, ToErrno
#include "common/ids.h"     // InodeId

namespace cairn {

struct ClientOptions {
  // Metadata server, "HOST:PORT". Default 127.0.0.1:9400.
  std::string meta_address = "127.0.0.1:9400";
  // Deadline of each call (each RPC of a multi-RPC operation gets its
  // own). Default 30 s.
  absl::Duration timeout = absl::Seconds(30);
  // TCP connections (gRPC channels) to the meta server, created once;
  // calls take them in turn. One multiplexes every thread's calls and was
  // as fast as several in `cairn bench meta` on a 2-core machine (the
  // server spreads one connection's calls over its callback threads);
  // more may help a client on a many-core machine. Default 1 (1..64).
  int connections = 1;
  // Riding out a meta restart (docs/durability.md). Bound on one metadata
  // call, all its attempts included, once this client has reached meta:
  // while meta cannot be reached a call waits for it to come back (the
  // connection is retried with back-off, 100 ms growing to 1 s), and a
  // call cut off without an answer (connection dropped, or `timeout`
  // passed) is sent again. Mutating calls carry a request id, so meta
  // applies a repeated call once and answers it with the first outcome;
  // reads are just repeated. Past the deadline the call fails with
  // kUnavailable (kTimeout if meta was connected but never answered).
  // Default 60 s; zero tries each call once and fails at once while meta
  // is away. Keep it well below meta's request record TTL
  // (NamespaceOptions::request_ttl, 10 min): a repeat later than that
  // could be applied twice.
  absl::Duration meta_retry_deadline = absl::Seconds(60);
  // Before this client has reached meta once, a call waits at most this
  // long (and at most `timeout` and meta_retry_deadline) for it, so a
  // wrong address or a stopped server is reported soon. Default 10 s.
  absl::Duration meta_connect_deadline = absl::Seconds(10);
  // Batching (docs/metadata.md, "Batches"): namespace calls that threads
  // of this client make at the same time travel together in one Meta.Batch
  // call. At most this many batches are out at once; a call made while
  // fewer are out is sent at once, so a lone thread waits for nothing.
  // 0 sends every call on its own. Default 2.
  int meta_batch_in_flight = 2;
  // Owner recorded on inodes this client creates. Default 0 (root).
  uint32_t uid = 0;
  uint32_t gid = 0;

  // ---- File data (cairn/file.h)
  // Bound on one chunk read or write including every retry: failover to
  // another replica, back-off, waiting for meta to take a failed chunk
  // server out of its chains (a few seconds after its heartbeats stop).
  // Past it the operation fails with kUnavailable or kTimeout. Default
  // 60 s; shorter gives up sooner on a cluster that is repairing itself.
  absl::Duration data_deadline = absl::Seconds(60);
  // Chunks one File uploads at once. Each holds a chunk-sized buffer
  // (8 MiB by default), so this bounds a writer's memory; more keeps the
  // chains busier. Default 4 (1..64).
  int max_chunks_in_flight = 4;
  // Uploaded chunks a File lets wait before it commits them without a
  // Fsync or Close (bounds the work redone after a conflict). Default 64.
  int commit_every_chunks = 64;
  // Longest a File lets an uploaded chunk wait uncommitted: this long
  // after the first upload since its last commit started, the client
  // commits everything the File wrote so far by itself (as Fsync would,
  // without syncing meta), also while the application makes no call on
  // it. Meta's GC takes uploads uncommitted for longer than its grace
  // (--gc-grace, 24 h) for orphans, and meta refuses a commit of chunks
  // uploaded nearly that long ago (kStaleUpload; docs/gc.md,
  // "Reconciliation"): keep this well below the grace. A background
  // commit that fails breaks the File: the next Write, Fsync or Close
  // returns its error. Default 60 s; must be positive (there is no "off").
  // Shorter makes data visible to others sooner but costs more commits
  // for a file written slowly.
  absl::Duration max_uncommitted_age = absl::Seconds(60);
  // Chunks read ahead of a sequential reader. Default 2 (0 turns it off).
  int readahead_chunks = 2;
  // Threads shared by every File of the client for background chunk
  // uploads and reads (created at the first Open). Each blocks on one
  // chunk server request at a time. Default 32 (1..1024).
  int data_threads = 32;
  // Reads of at least this many bytes from one chunk are split over the
  // replicas of its chain and fetched in parallel. Default 1 MiB.
  uint64_t parallel_read_min = 1 << 20;
};

class Client {
 public:
  // Creates a client for options.meta_address. Connecting is lazy: an
  // unreachable server shows as kUnavailable on the first call.
  // kInvalid for an empty address.
  static absl::StatusOr<std::unique_ptr<Client>> Connect(const ClientOptions& options);

  virtual ~Client() = default;

  // ---- Attributes
  // lstat: the last component is not followed.
  virtual absl::StatusOr<Attr> Stat(std::string_view path) = 0;
  virtual absl::StatusOr<Attr> SetAttr(std::string_view path, const SetAttrArgs& args) = 0;
  // Sets atime and mtime to now, creating an empty file (mode 0644) when
  // nothing exists at `path`.
  virtual absl::StatusOr<Attr> Touch(std::string_view path) = 0;
  virtual absl::StatusOr<StatFsInfo> StatFs() = 0;

  // ---- Directories
  virtual absl::StatusOr<Attr> Mkdir(std::string_view path, uint32_t mode) = 0;
  // Creates `path` and any missing parents; OK when it already is a
  // directory (kExists when it is something else).
  virtual absl::Status MkdirAll(std::string_view path, uint32_t mode) = 0;
  virtual absl::Status Rmdir(std::string_view path) = 0;
  // Every entry of the directory (all pages), in name order.
  virtual absl::StatusOr<std::vector<DirEntry>> ReadDir(std::string_view path, bool with_attrs) = 0;
  // One page: entries with names after `cursor` ("" = from the start), at
  // most `limit` (0 = the server's default and cap).
  virtual absl::StatusOr<DirPage> ReadDirPage(std::string_view path, std::string_view cursor,
                                              uint32_t limit, bool with_attrs) = 0;

  // ---- Files and links
  // Creates a regular file. When something exists at `path`: kExists if
  // `exclusive`, else the existing file is returned (kIsDir for a
  // directory).
  virtual absl::StatusOr<Attr> Create(std::string_view path, uint32_t mode, bool exclusive) = 0;
  virtual absl::Status Unlink(std::string_view path) = 0;
  // Removes `path` and, for a directory, everything below it. kNotFound
  // when `path` does not exist; entries that vanish meanwhile are fine.
  // kBusy for "/" (nothing is removed).
  virtual absl::Status RemoveAll(std::string_view path) = 0;
  virtual absl::Status Rename(std::string_view src, std::string_view dst, uint32_t flags) = 0;
  // Hard link: a new name `new_path` for the inode at `existing`.
  virtual absl::StatusOr<Attr> Link(std::string_view existing, std::string_view new_path) = 0;
  virtual absl::StatusOr<Attr> Symlink(std::string_view target, std::string_view link_path) = 0;
  virtual absl::StatusOr<std::string> Readlink(std::string_view path) = 0;

  // ---- Extended attributes
  virtual absl::StatusOr<std::string> GetXattr(std::string_view path, std::string_view name) = 0;
  virtual absl::Status SetXattr(std::string_view path, std::string_view name,
                                std::string_view value, uint32_t flags) = 0;
  virtual absl::StatusOr<std::vector<std::string>> ListXattr(std::string_view path) = 0;
  virtual absl::Status RemoveXattr(std::string_view path, std::string_view name) = 0;

  // Makes every metadata change acknowledged so far durable on disk.
  virtual absl::Status Fsync() = 0;

  // ---- File data
  // Opens the regular file at `path` (flags: OpenFlags; symlinks are
  // followed). With kOpenCreate a missing file is created with `mode`.
  // kIsDir for a directory, kNotFound when it does not exist (without
  // kOpenCreate), kInvalid for flags that make no sense (neither read nor
  // write, truncate or append without write, exclusive without create).
  virtual absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, uint32_t flags,
                                                     uint32_t mode) = 0;
  // Open with mode 0644.
  absl::StatusOr<std::unique_ptr<File>> Open(std::string_view path, uint32_t flags) {
    return Open(path, flags, 0644);
  }
  // Sets the whole storage policy of a directory (kNotDir for anything
  // else), inherited by what is created below it afterwards. Fields left 0
  // mean "the cluster default"; replicas may not exceed the cluster's
  // (kInvalid), chunk_size is a power of two from 64 KiB to 64 MiB.
  // Returns the policy now stored and effective.
  virtual absl::StatusOr<PolicyInfo> SetPolicy(std::string_view path,
                                               const StoragePolicy& policy) = 0;
  // The stored policy of any inode (a file's has its chunk size filled in)
  // and the effective one.
  virtual absl::StatusOr<PolicyInfo> GetPolicy(std::string_view path) = 0;
  // The cluster map: nodes with their state and usage, and every PG chain.
  virtual absl::StatusOr<ClusterInfo> ClusterStatus() = 0;
  // Every slot of the regular file at `path`, with where its chunk lives
  // now (the chain of its PG in the current cluster map).
  virtual absl::StatusOr<FileChunksInfo> FileChunks(std::string_view path) = 0;

  // ---- Inode level (FUSE)
  virtual absl::StatusOr<Attr> Lookup(InodeId parent, std::string_view name) = 0;
  virtual absl::StatusOr<Attr> GetAttr(InodeId ino) = 0;
};

}  // namespace cairn

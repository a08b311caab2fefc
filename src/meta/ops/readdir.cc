// Readdir: one page of a directory's entries, in name (byte) order,
// starting strictly after the name `after`.
//
// Reads: the directory's inode (Get; kNotDir / kNotFound), then a Scan of
// the entry keys from (dir, after) + 1 for at most limit + 1 keys (the one
// extra only tells whether the page is the last), and with `with_attrs`
// each child's inode (Get). Read-only, never committed: nothing to retry.
//
// Paging by name, each page from a fresh scan, makes a listing stable
// under concurrent changes: an entry present for the whole listing has a
// fixed name, so exactly one page returns it, and names only grow. An entry
// whose inode is gone by the time it is read (a Reader has no snapshot) was
// removed concurrently and is left out.
// "." and ".." are not stored; frontends add them.
#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {

absl::StatusOr<ReaddirPage> Readdir(store::Reader& txn, InodeId dir, std::string_view after,
                                    uint32_t limit, bool with_attrs) {
  if (limit == 0) return Error(Errc::kInvalid, "readdir limit 0");
  RETURN_IF_ERROR(LoadDir(txn, dir).status());
  std::string begin = after.empty() ? keys::DirentBegin(dir) : keys::Dirent(dir, after);
  if (!after.empty()) begin.push_back('\0');  // the first key after (dir, after)
  ASSIGN_OR_RETURN(std::vector<store::KeyValue> kvs,
                   txn.Scan(begin, keys::DirentEnd(dir), size_t{limit} + 1));
  ReaddirPage page;
  page.eof = kvs.size() <= limit;
  if (!page.eof) kvs.pop_back();
  const size_t prefix_size = keys::DirentBegin(dir).size();
  page.entries.reserve(kvs.size());
  for (store::KeyValue& kv : kvs) {
    if (kv.key.size() <= prefix_size) return Error(Errc::kInternal, "directory entry without name");
    proto::DirentRecord rec;
    if (!rec.ParseFromString(kv.value) || rec.ino() == 0) {
      return Error(Errc::kInternal, "unparsable entry in directory " + dir.ToString());
    }
    DirEntry entry;
    entry.name = kv.key.substr(prefix_size);
    entry.ino = InodeId(rec.ino());
    entry.type = rec.type();
    if (with_attrs) {
      absl::StatusOr<proto::InodeRecord> attr = LoadInode(txn, entry.ino);
      if (ErrcOf(attr.status()) == Errc::kNotFound) continue;  // removed meanwhile
      if (!attr.ok()) return attr.status();
      entry.attr = std::move(*attr);
    }
    page.entries.push_back(std::move(entry));
  }
  return page;
}

}  // namespace cairn::meta::ops

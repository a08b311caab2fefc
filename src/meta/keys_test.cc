#include "meta/keys.h"

#include <limits>
#include <random>

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::meta::keys {
namespace {

TEST(KeysTest, LayoutIsBigEndianAfterPrefix) {
  EXPECT_EQ(Inode(InodeId(0x0102030405060708)),
            std::string("I\x01\x02\x03\x04\x05\x06\x07\x08", 9));
  EXPECT_EQ(Dirent(InodeId(1), "ab"), std::string("D\0\0\0\0\0\0\0\x01", 9) + "ab");
  EXPECT_EQ(Xattr(InodeId(2), "user.x"), std::string("X\0\0\0\0\0\0\0\x02", 9) + "user.x");
  EXPECT_EQ(System("next_inode"), "Snext_inode");
  EXPECT_EQ(Counter("inodes", 7), std::string("Cinodes\0\x07", 9));
  EXPECT_EQ(EncodeU64(0x0102030405060708), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  // The cluster keys kept their bytes when they joined Prefix.
  EXPECT_EQ(Node(NodeId(0x0102)), std::string("N\0\0\0\0\0\0\x01\x02", 9));
  EXPECT_EQ(Cluster(kClusterMap), "Mmap");
  EXPECT_EQ(GcQueue(0x0a, InodeId(0x0b), 0x0c),
            std::string("Q\0\0\0\0\0\0\0\x0a\0\0\0\0\0\0\0\x0b\0\0\0\0\0\0\0\x0c", 25));
}

TEST(KeysTest, GcQueueSortsByTimeThenInodeThenNonce) {
  EXPECT_LT(GcQueue(1, InodeId(99), 99), GcQueue(2, InodeId(1), 0));
  EXPECT_LT(GcQueue(255, InodeId(1), 0), GcQueue(256, InodeId(1), 0));
  EXPECT_LT(GcQueue(5, InodeId(1), ~uint64_t{0}), GcQueue(5, InodeId(2), 0));
  EXPECT_LT(GcQueue(5, InodeId(2), 1), GcQueue(5, InodeId(2), 2));
  EXPECT_LT(GcQueueBegin(), GcQueue(0, InodeId(1), 0));
  EXPECT_LT(GcQueue(std::numeric_limits<int64_t>::max(), InodeId(~uint64_t{0}), ~uint64_t{0}),
            GcQueueEnd());
  EXPECT_LT(NodeBegin(), Node(NodeId(1)));
  EXPECT_LT(Node(NodeId(~uint64_t{0})), NodeEnd());
}

TEST(KeysTest, IdsSortNumerically) {
  EXPECT_LT(Inode(InodeId(255)), Inode(InodeId(256)));
  EXPECT_LT(Inode(InodeId(1)), Inode(InodeId(uint64_t{1} << 56)));
  EXPECT_LT(Dirent(InodeId(1), "\xff\xff\xff"), Dirent(InodeId(2), "a"));
}

TEST(KeysTest, DirentRangeHoldsExactlyOneDirectory) {
  for (uint64_t p : {uint64_t{1}, uint64_t{255}, uint64_t{0x00ffffffffffffff}, ~uint64_t{0}}) {
    InodeId parent(p);
    std::string begin = DirentBegin(parent), end = DirentEnd(parent);
    EXPECT_LT(begin, Dirent(parent, "a"));
    EXPECT_LT(Dirent(parent, std::string(255, '\xff')), end);
    if (p != ~uint64_t{0}) {
      EXPECT_LE(end, Dirent(InodeId(p + 1), "\x01"));
      EXPECT_LE(end, DirentBegin(InodeId(p + 1)));
    }
    EXPECT_LT(Dirent(InodeId(p - 1), std::string(255, '\xff')), begin);
  }
  EXPECT_EQ(DirentEnd(InodeId(~uint64_t{0})), "E");
  EXPECT_LT(Xattr(InodeId(5), "user.\xff"), XattrEnd(InodeId(5)));
  EXPECT_LE(XattrEnd(InodeId(5)), XattrBegin(InodeId(6)));
}

TEST(KeysTest, CounterRange) {
  EXPECT_GE(Counter("inodes", 0), CounterBegin("inodes"));
  EXPECT_LT(Counter("inodes", 255), CounterEnd("inodes"));
  // A counter whose name extends another's is outside its range.
  EXPECT_FALSE(Counter("inodes2", 0) >= CounterBegin("inodes") &&
               Counter("inodes2", 0) < CounterEnd("inodes"));
}

TEST(KeysTest, DecodeRoundTrips) {
  auto d = Decode(Inode(InodeId(42)));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kInode);
  EXPECT_EQ(d->ino, InodeId(42));

  d = Decode(Dirent(InodeId(7), "name with spaces"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kDirent);
  EXPECT_EQ(d->ino, InodeId(7));
  EXPECT_EQ(d->name, "name with spaces");

  d = Decode(Xattr(InodeId(9), "user.a"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kXattr);
  EXPECT_EQ(d->name, "user.a");

  d = Decode(System(kNextInode));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kSystem);
  EXPECT_EQ(d->name, kNextInode);

  d = Decode(Counter("inodes", 63));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kCounter);
  EXPECT_EQ(d->name, "inodes");
  EXPECT_EQ(d->shard, 63);

  d = Decode(GcQueue(1234, InodeId(5), 77));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kGcQueue);
  EXPECT_EQ(d->queued_ns, 1234);
  EXPECT_EQ(d->ino, InodeId(5));
  EXPECT_EQ(d->nonce, 77u);

  d = Decode(Node(NodeId(3)));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kNode);
  EXPECT_EQ(d->node, NodeId(3));

  d = Decode(Cluster(kNextNodeId));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kCluster);
  EXPECT_EQ(d->name, kNextNodeId);
}

TEST(KeysTest, DecodeRejectsMalformed) {
  const std::string bad[] = {
      "",
      "Z",
      "I",
      std::string("I\0\0\0\0\0\0\0\x01\x02", 10),  // too long
      std::string("I\0\0\0\0\0\0\x01", 8),         // too short
      std::string("I\0\0\0\0\0\0\0\0", 9),         // id 0
      DirentBegin(InodeId(3)),                     // no name
      Dirent(InodeId(3), "a/b"),
      Dirent(InodeId(3), std::string("a\0b", 3)),
      Dirent(InodeId(3), "."),
      Dirent(InodeId(3), std::string(256, 'x')),
      Xattr(InodeId(3), "nonamespace"),
      XattrBegin(InodeId(3)),
      "S",
      "C",
      "Cx",
      "Cx\x01\x02",  // no separator
      CounterBegin("inodes"),
      std::string("C\0\0\x01", 4),    // empty name
      std::string("Ca\0b\0\x01", 6),  // NUL in name
      "Q",
      GcQueueBegin(),
      GcQueue(1, InodeId(0), 1),                // inode 0
      GcQueue(1, InodeId(2), 3).substr(0, 24),  // too short
      GcQueue(1, InodeId(2), 3) + "x",          // too long
      NodeBegin(),
      std::string("N\0\0\0\0\0\0\0\0", 9),  // node 0
      Node(NodeId(1)) + "x",
      "M",
  };
  for (const std::string& key : bad) {
    auto d = Decode(key);
    EXPECT_FALSE(d.ok()) << "accepted " << key.size() << "-byte key";
    if (!d.ok()) {
      EXPECT_EQ(ErrcOf(d.status()), Errc::kInvalid);
    }
  }
}

TEST(KeysTest, DecodeNeverCrashesOnRandomBytes) {
  std::mt19937 rng(1234);
  const char prefixes[] = {'I', 'D', 'X', 'S', 'C', 'Q', 'N', 'M', 'R', 'Z'};
  for (int i = 0; i < 30000; ++i) {
    std::string key(1, prefixes[rng() % 10]);
    size_t len = rng() % 28;
    for (size_t j = 0; j < len; ++j) key.push_back(static_cast<char>(rng()));
    auto d = Decode(key);
    if (d.ok()) {
      // Whatever decodes re-encodes to the same key.
      switch (d->prefix) {
        case Prefix::kInode:
          EXPECT_EQ(Inode(d->ino), key);
          break;
        case Prefix::kDirent:
          EXPECT_EQ(Dirent(d->ino, d->name), key);
          break;
        case Prefix::kXattr:
          EXPECT_EQ(Xattr(d->ino, d->name), key);
          break;
        case Prefix::kSystem:
          EXPECT_EQ(System(d->name), key);
          break;
        case Prefix::kCounter:
          EXPECT_EQ(Counter(d->name, d->shard), key);
          break;
        case Prefix::kGcQueue:
          EXPECT_EQ(GcQueue(d->queued_ns, d->ino, d->nonce), key);
          break;
        case Prefix::kNode:
          EXPECT_EQ(Node(d->node), key);
          break;
        case Prefix::kCluster:
          EXPECT_EQ(Cluster(d->name), key);
          break;
        case Prefix::kRequest:
          EXPECT_EQ(Request(d->client, d->seq), key);
          break;
      }
    } else {
      EXPECT_EQ(ErrcOf(d.status()), Errc::kInvalid);
    }
  }
}

TEST(KeysTest, RequestKeysSortByClientThenSeq) {
  EXPECT_EQ(Request(0x0a, 0x0b), std::string("R\0\0\0\0\0\0\0\x0a\0\0\0\0\0\0\0\x0b", 17));
  EXPECT_LT(Request(1, ~uint64_t{0}), Request(2, 0));
  EXPECT_LT(Request(7, 255), Request(7, 256));
  EXPECT_LT(RequestBegin(), Request(1, 0));
  EXPECT_LT(Request(~uint64_t{0}, ~uint64_t{0}), RequestEnd());
  // A client's records lie in [Request(c, 0), RequestClientEnd(c)).
  EXPECT_LT(Request(7, ~uint64_t{0}), RequestClientEnd(7));
  EXPECT_LE(RequestClientEnd(7), Request(8, 0));
  EXPECT_EQ(RequestClientEnd(~uint64_t{0}), RequestEnd());
  auto d = Decode(Request(3, 9));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->prefix, Prefix::kRequest);
  EXPECT_EQ(d->client, 3u);
  EXPECT_EQ(d->seq, 9u);
  EXPECT_EQ(ErrcOf(Decode(Request(0, 9)).status()), Errc::kInvalid);  // client 0
  EXPECT_EQ(ErrcOf(Decode(RequestBegin()).status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(Decode(Request(3, 9).substr(0, 16)).status()), Errc::kInvalid);
}

TEST(KeysTest, DecodeU64) {
  EXPECT_EQ(*DecodeU64(EncodeU64(0)), 0u);
  EXPECT_EQ(*DecodeU64(EncodeU64(~uint64_t{0})), ~uint64_t{0});
  EXPECT_EQ(*DecodeU64(EncodeU64(123456789)), 123456789u);
  EXPECT_EQ(ErrcOf(DecodeU64("1234567").status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(DecodeU64("123456789").status()), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(DecodeU64("").status()), Errc::kInvalid);
}

}  // namespace
}  // namespace cairn::meta::keys

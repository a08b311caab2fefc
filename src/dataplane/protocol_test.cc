#include "dataplane/protocol.h"

#include <cstring>

#include "chunk/crc32c.h"
#include "chunk/le.h"
#include "chunk/test_util.h"
#include "gtest/gtest.h"

namespace cairn::dataplane {
namespace {

using ::cairn::testing::TestBytes;

FrameHeader WriteHeader(uint32_t length) {
  FrameHeader h;
  h.op = static_cast<uint8_t>(Op::kWriteChunk);
  h.request_id = 42;
  h.chunk_id = ChunkId{0x1111, 0x2222};
  h.epoch = 7;
  h.length = length;
  return h;
}

std::vector<uint8_t> Chain(std::vector<std::string> a) { return EncodeChain(a).value(); }

// Re-seals the header CRC after a test edits a field on purpose, so the
// check that fires is the field's own.
void Reseal(std::vector<uint8_t>& f) {
  le::Put32(&f[hdr::kHeaderCrc], crc32c::Value(f.data(), hdr::kHeaderCrc));
}

TEST(ProtocolTest, WriteFrameRoundTrip) {
  auto payload = TestBytes(3 * kBlockSize + 5, 1);
  auto extra = Chain({"10.0.0.2:7000", "host-3.example:7001"});
  std::vector<uint8_t> f = EncodeFrame(WriteHeader(payload.size()), extra, payload);
  ASSERT_EQ(f.size(), kHeaderSize + extra.size() + 4 * 4 + payload.size());
  auto d = DecodeFrame(f);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->header.request_id, 42u);
  EXPECT_EQ(d->header.chunk_id, (ChunkId{0x1111, 0x2222}));
  EXPECT_EQ(d->header.epoch, 7u);
  EXPECT_EQ(d->frame_size, f.size());
  EXPECT_EQ(d->block_crcs, crc32c::BlockCrcs(payload, kBlockSize));
  EXPECT_TRUE(std::equal(payload.begin(), payload.end(), d->payload.begin()));
  EXPECT_EQ(DecodeChain(d->extra).value(),
            (std::vector<std::string>{"10.0.0.2:7000", "host-3.example:7001"}));
}

// The byte layout promised by docs/data-protocol.md.
TEST(ProtocolTest, ExactHeaderLayout) {
  FrameHeader h;
  h.op = static_cast<uint8_t>(Op::kReadChunk);
  h.flags = kFlagToEnd;
  h.request_id = 0x0102030405060708ULL;
  h.chunk_id = ChunkId{0xa1a2a3a4a5a6a7a8ULL, 0xb1b2b3b4b5b6b7b8ULL};
  h.offset = 0x10000;
  h.epoch = 99;
  std::vector<uint8_t> f = EncodeFrame(h, {}, {});
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(std::string(f.begin(), f.begin() + 4), "CRND");
  EXPECT_EQ(f[4], 1);
  EXPECT_EQ(f[5], 2);
  EXPECT_EQ(le::Get16(&f[6]), 1);
  EXPECT_EQ(f[8], 0x08);
  EXPECT_EQ(le::Get64(&f[16]), h.chunk_id.hi);
  EXPECT_EQ(le::Get64(&f[24]), h.chunk_id.lo);
  EXPECT_EQ(le::Get64(&f[32]), 0x10000u);
  EXPECT_EQ(le::Get64(&f[40]), 99u);
  EXPECT_EQ(le::Get32(&f[48]), 0u);
  EXPECT_EQ(le::Get16(&f[52]), 0);
  EXPECT_EQ(le::Get16(&f[54]), 0);
  EXPECT_EQ(le::Get32(&f[56]), 0u);  // CRC32C of nothing
  EXPECT_EQ(le::Get32(&f[60]), crc32c::Value(f.data(), 60));
}

TEST(ProtocolTest, EveryOpRoundTrips) {
  std::vector<std::vector<uint8_t>> frames;
  FrameHeader h;
  h.chunk_id = ChunkId{1, 2};
  for (Op op : {Op::kReadChunk, Op::kDeleteChunk, Op::kHasChunk}) {
    h.op = static_cast<uint8_t>(op);
    frames.push_back(EncodeFrame(h, {}, {}));
  }
  FrameHeader stat;
  stat.op = static_cast<uint8_t>(Op::kStat);
  frames.push_back(EncodeFrame(stat, {}, {}));
  FrameHeader stat_reply = stat;
  stat_reply.op |= kReplyBit;
  chunk::StoreStats st{1000, 400, 3, 123};
  frames.push_back(EncodeFrame(stat_reply, EncodeStatExtra(st), {}));
  FrameHeader read_reply = h;
  read_reply.op = static_cast<uint8_t>(Op::kReadChunk) | kReplyBit;
  read_reply.offset = 5;
  read_reply.length = 70000;
  frames.push_back(EncodeFrame(read_reply, {}, TestBytes(70000, 3)));
  FrameHeader err = h;
  err.op = static_cast<uint8_t>(Op::kWriteChunk) | kReplyBit;
  err.status = static_cast<uint16_t>(Errc::kNoSpace);
  frames.push_back(EncodeFrame(err, EncodeErrorExtra(2, "disk full"), {}));
  for (const auto& f : frames) {
    auto d = DecodeFrame(f);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_EQ(d->frame_size, f.size());
  }
  auto d = DecodeFrame(frames[4]);
  EXPECT_EQ(DecodeStatExtra(d->extra)->chunk_bytes, 123u);
  d = DecodeFrame(frames.back());
  auto e = DecodeError(d->header, d->extra);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, Errc::kNoSpace);
  EXPECT_EQ(e->hop, 2);
  EXPECT_EQ(e->message, "disk full");
}

TEST(ProtocolTest, ShortInputRejected) {
  std::vector<uint8_t> f = EncodeFrame(WriteHeader(100), Chain({}), TestBytes(100, 1));
  for (size_t n = 0; n < f.size(); ++n) {
    EXPECT_FALSE(DecodeFrame(std::span(f.data(), n)).ok()) << n;
  }
  EXPECT_TRUE(DecodeFrame(f).ok());
}

TEST(ProtocolTest, EveryHeaderBitIsProtected) {
  std::vector<uint8_t> f = EncodeFrame(WriteHeader(10), Chain({}), TestBytes(10, 1));
  for (size_t i = 0; i < kHeaderSize; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> g = f;
      g[i] ^= static_cast<uint8_t>(1 << bit);
      EXPECT_FALSE(DecodeHeader(g).ok()) << i << "." << bit;
    }
  }
}

TEST(ProtocolTest, SectionAndPayloadCrcsChecked) {
  auto payload = TestBytes(2 * kBlockSize, 2);
  auto extra = Chain({"127.0.0.1:9"});
  std::vector<uint8_t> f = EncodeFrame(WriteHeader(payload.size()), extra, payload);
  auto g = f;
  g[kHeaderSize + 2] ^= 1;  // inside the chain
  EXPECT_EQ(ErrcOf(DecodeFrame(g).status()), Errc::kCorrupt);
  g = f;
  g[kHeaderSize + extra.size() + 1] ^= 1;  // inside the CRC table
  EXPECT_EQ(ErrcOf(DecodeFrame(g).status()), Errc::kCorrupt);
  g = f;
  g[g.size() - 1] ^= 1;  // last payload byte
  EXPECT_EQ(ErrcOf(DecodeFrame(g).status()), Errc::kCorrupt);
}

// Each malformed field, with the header CRC made valid again, so that the
// field's own check is what refuses it.
TEST(ProtocolTest, MalformedFieldsRejected) {
  const std::vector<uint8_t> write = EncodeFrame(WriteHeader(10), Chain({}), TestBytes(10, 1));
  FrameHeader rh;
  rh.op = static_cast<uint8_t>(Op::kReadChunk);
  rh.chunk_id = ChunkId{1, 1};
  rh.length = 100;
  const std::vector<uint8_t> read = EncodeFrame(rh, {}, {});
  FrameHeader eh = rh;
  eh.op |= kReplyBit;
  eh.status = static_cast<uint16_t>(Errc::kIo);
  eh.length = 0;
  const std::vector<uint8_t> err = EncodeFrame(eh, EncodeErrorExtra(0, "x"), {});

  struct Case {
    const char* name;
    const std::vector<uint8_t>* base;
    void (*edit)(std::vector<uint8_t>&);
    Errc want;
  } cases[] = {
      {"magic", &write, [](auto& f) { f[0] = 'X'; }, Errc::kInvalid},
      {"version", &write, [](auto& f) { f[hdr::kVersion] = 2; }, Errc::kNotSupported},
      {"op 0", &write, [](auto& f) { f[hdr::kOp] = 0; }, Errc::kInvalid},
      {"op 6", &write, [](auto& f) { f[hdr::kOp] = 6; }, Errc::kInvalid},
      {"op 0x86", &write, [](auto& f) { f[hdr::kOp] = 0x86; }, Errc::kInvalid},
      {"write flags", &write, [](auto& f) { le::Put16(&f[hdr::kFlags], 1); }, Errc::kInvalid},
      {"read unknown flag", &read, [](auto& f) { le::Put16(&f[hdr::kFlags], 2); }, Errc::kInvalid},
      {"to-end with length", &read, [](auto& f) { le::Put16(&f[hdr::kFlags], 1); }, Errc::kInvalid},
      {"write zero id", &write,
       [](auto& f) {
         le::Put64(&f[hdr::kChunkHi], 0);
         le::Put64(&f[hdr::kChunkLo], 0);
       },
       Errc::kInvalid},
      {"write offset", &write, [](auto& f) { le::Put64(&f[hdr::kOffset], 1); }, Errc::kInvalid},
      {"write over 64 MiB", &write, [](auto& f) { le::Put32(&f[hdr::kLength], (64u << 20) + 1); },
       Errc::kInvalid},
      {"write no chain", &write, [](auto& f) { le::Put16(&f[hdr::kExtraLength], 0); },
       Errc::kInvalid},
      {"extra too long", &write, [](auto& f) { le::Put16(&f[hdr::kExtraLength], 4097); },
       Errc::kInvalid},
      {"status in request", &write, [](auto& f) { le::Put16(&f[hdr::kStatus], 9); },
       Errc::kInvalid},
      {"read range over 64 MiB", &read,
       [](auto& f) { le::Put64(&f[hdr::kOffset], (64u << 20) - 50); }, Errc::kInvalid},
      {"read huge offset", &read, [](auto& f) { le::Put64(&f[hdr::kOffset], ~uint64_t{0} - 10); },
       Errc::kInvalid},
      {"read with extra", &read, [](auto& f) { le::Put16(&f[hdr::kExtraLength], 1); },
       Errc::kInvalid},
      {"unknown status", &err, [](auto& f) { le::Put16(&f[hdr::kStatus], 999); }, Errc::kInvalid},
      {"error with length", &err, [](auto& f) { le::Put32(&f[hdr::kLength], 5); }, Errc::kInvalid},
      {"error without hop", &err, [](auto& f) { le::Put16(&f[hdr::kExtraLength], 0); },
       Errc::kInvalid},
      {"error message too long", &err, [](auto& f) { le::Put16(&f[hdr::kExtraLength], 1 + 1025); },
       Errc::kInvalid},
      {"flags in reply", &err, [](auto& f) { le::Put16(&f[hdr::kFlags], 1); }, Errc::kInvalid},
  };
  for (const Case& c : cases) {
    std::vector<uint8_t> f = *c.base;
    c.edit(f);
    Reseal(f);
    auto h = DecodeHeader(f);
    ASSERT_FALSE(h.ok()) << c.name;
    EXPECT_EQ(ErrcOf(h.status()), c.want) << c.name << ": " << h.status();
  }
  // The bases themselves are fine.
  for (auto* base : {&write, &read, &err}) EXPECT_TRUE(DecodeFrame(*base).ok());
}

TEST(ProtocolTest, StatRequestMustNotNameAChunk) {
  FrameHeader h;
  h.op = static_cast<uint8_t>(Op::kStat);
  h.chunk_id = ChunkId{1, 1};
  std::vector<uint8_t> f = EncodeFrame(h, {}, {});
  EXPECT_FALSE(DecodeHeader(f).ok());
}

TEST(ProtocolTest, ChainLimitsAndAddresses) {
  std::vector<std::string> longest(kMaxDownstream, "127.0.0.1:7000");
  EXPECT_TRUE(EncodeChain(longest).ok());
  longest.push_back("127.0.0.1:7000");
  EXPECT_FALSE(EncodeChain(longest).ok());

  // A raw section claiming 16 downstream servers.
  std::vector<uint8_t> raw = {16};
  EXPECT_FALSE(DecodeChain(raw).ok());
  raw = {1, 5, 'a', ':', '1'};  // truncated entry
  EXPECT_FALSE(DecodeChain(raw).ok());
  raw = {1, 3, 'a', ':', '1', 'x'};  // trailing byte
  EXPECT_FALSE(DecodeChain(raw).ok());
  raw = {1, 0};  // empty address
  EXPECT_FALSE(DecodeChain(raw).ok());
  raw = {};
  EXPECT_FALSE(DecodeChain(raw).ok());
  raw = {1, 3, 'a', ':', '1'};
  EXPECT_EQ(DecodeChain(raw).value(), std::vector<std::string>{"a:1"});

  for (const char* good : {"127.0.0.1:1", "a:65535", "[::1]:7000", "node-3.rack_2.dc:80"}) {
    EXPECT_TRUE(ValidateAddress(good).ok()) << good;
  }
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:080", "host:8o",
                          "ho st:80", "[::1:80", "[]:80", "[zz]:80", "h\n:80", "host:123456"}) {
    EXPECT_FALSE(ValidateAddress(bad).ok()) << bad;
  }
  EXPECT_TRUE(ValidateAddress(std::string(253, 'a') + ":1").ok());
  EXPECT_FALSE(ValidateAddress(std::string(254, 'a') + ":1").ok());
  EXPECT_FALSE(ValidateAddress(std::string(250, 'a') + ":70000").ok());
  auto hp = ParseAddress("[::1]:7000");
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 7000);
}

TEST(ProtocolTest, ErrorAndStatSectionsChecked) {
  FrameHeader h;
  h.op = static_cast<uint8_t>(Op::kReadChunk) | kReplyBit;
  h.status = static_cast<uint16_t>(Errc::kCorrupt);
  std::vector<uint8_t> extra = EncodeErrorExtra(16, "x");
  h.extra_length = static_cast<uint16_t>(extra.size());
  EXPECT_FALSE(DecodeError(h, extra).ok());  // hop beyond any chain
  extra = EncodeErrorExtra(1, std::string("a\x01\x7f", 3));
  h.extra_length = static_cast<uint16_t>(extra.size());
  EXPECT_EQ(DecodeError(h, extra)->message, "a??");
  EXPECT_EQ(EncodeErrorExtra(0, std::string(5000, 'm')).size(), 1 + kMaxErrorMessage);

  std::vector<uint8_t> stat = EncodeStatExtra({100, 200, 0, 0});  // available > capacity
  EXPECT_FALSE(DecodeStatExtra(stat).ok());
  EXPECT_FALSE(DecodeStatExtra(std::span(stat).first(31)).ok());
}

TEST(ProtocolTest, PayloadVerifierChecksBlocksAsTheyArrive) {
  auto payload = TestBytes(2 * kBlockSize + 100, 4);
  auto crcs = crc32c::BlockCrcs(payload, kBlockSize);
  payload[kBlockSize + 10] ^= 1;
  PayloadVerifier v(crcs, payload.size());
  EXPECT_TRUE(v.Advance(payload.data(), 100).ok());
  EXPECT_TRUE(v.Advance(payload.data(), kBlockSize).ok());
  EXPECT_TRUE(v.Advance(payload.data(), kBlockSize + 20).ok());  // block 1 not complete yet
  EXPECT_EQ(ErrcOf(v.Advance(payload.data(), 2 * kBlockSize)), Errc::kCorrupt);
}

}  // namespace
}  // namespace cairn::dataplane

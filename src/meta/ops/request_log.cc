// Request records: the outcome of each applied mutating request that
// carries a RequestId, under keys::Request(client, seq), so that a repeat
// of the request gets the outcome back instead of being applied twice
// (docs/metadata.md, "Repeated requests").
//
// Reads (Get): the request's record, inside the operation's transaction.
// A first run writes the record with the operation's changes; a repeat
// that read "absent" before the first run committed conflicts on it and,
// run again, finds it. Writes: the record (a key of the request alone, so
// different requests never conflict over it).
//
// Expiry reads with Scan on the latest state and deletes blindly: a
// record older than the TTL belongs to a request no client repeats any
// more, so losing a race with a reader of it is harmless.
#include <utility>

#include "common/errors.h"
#include "common/status_macros.h"
#include "meta/keys.h"
#include "meta/ops/ops.h"

namespace cairn::meta::ops {
namespace {

constexpr size_t kHeaderBytes = 1 + 8;  // op, recorded_ns

bool KnownOp(uint8_t op) {
  return op >= static_cast<uint8_t>(RequestOp::kSetAttr) &&
         op <= static_cast<uint8_t>(RequestOp::kSetPolicy);
}

}  // namespace

std::string EncodeRequestRecord(const RequestRecord& record) {
  std::string value(1, static_cast<char>(record.op));
  value += keys::EncodeU64(static_cast<uint64_t>(record.recorded_ns));
  record.result.AppendToString(&value);
  return value;
}

absl::StatusOr<RequestRecord> DecodeRequestRecord(std::string_view value) {
  if (value.size() < kHeaderBytes) return Error(Errc::kInternal, "request record too short");
  const auto op = static_cast<uint8_t>(value[0]);
  if (!KnownOp(op)) {
    return Error(Errc::kInternal, "request record of unknown operation " + std::to_string(op));
  }
  RequestRecord record;
  record.op = static_cast<RequestOp>(op);
  ASSIGN_OR_RETURN(uint64_t recorded, keys::DecodeU64(value.substr(1, 8)));
  record.recorded_ns = static_cast<int64_t>(recorded);
  std::string_view body = value.substr(kHeaderBytes);
  if (!record.result.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return Error(Errc::kInternal, "request record with an unparsable result");
  }
  return record;
}

absl::StatusOr<std::optional<proto::InodeRecord>> FindOutcome(store::Reader& txn,
                                                              const RequestId& request,
                                                              RequestOp op) {
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   txn.Get(keys::Request(request.client, request.seq)));
  if (!value.has_value()) return std::optional<proto::InodeRecord>();
  ASSIGN_OR_RETURN(RequestRecord record, DecodeRequestRecord(*value));
  if (record.op != op) {
    return Invalid("request " + std::to_string(request.seq) + " of client " +
                   std::to_string(request.client) + " was another operation");
  }
  return std::optional<proto::InodeRecord>(std::move(record.result));
}

void RecordOutcome(store::Txn& txn, const RequestId& request, RequestOp op, int64_t now_ns,
                   const proto::InodeRecord& result) {
  RequestRecord record;
  record.op = op;
  record.recorded_ns = now_ns;
  record.result = result;
  record.result.clear_chunks();
  txn.Put(keys::Request(request.client, request.seq), EncodeRequestRecord(record));
}

absl::StatusOr<ExpiredRequests> FindExpiredRequests(store::Reader& reader, std::string_view from,
                                                    int64_t cutoff_ns, size_t limit) {
  ExpiredRequests out;
  std::string begin = from.empty() ? keys::RequestBegin() : std::string(from);
  const std::string end = keys::RequestEnd();
  size_t read = 0;
  while (read < limit) {
    ASSIGN_OR_RETURN(std::vector<store::KeyValue> page, reader.Scan(begin, end, limit - read));
    if (page.empty()) return out;  // the end: next stays empty
    read += page.size();
    bool skipped = false;
    for (const store::KeyValue& kv : page) {
      ASSIGN_OR_RETURN(keys::DecodedKey key, keys::Decode(kv.key));
      ASSIGN_OR_RETURN(RequestRecord record, DecodeRequestRecord(kv.value));
      if (record.recorded_ns < cutoff_ns) {
        out.keys.push_back(kv.key);
        continue;
      }
      // The rest of this client's records are younger (or nearly so).
      begin = keys::RequestClientEnd(key.client);
      skipped = true;
      break;
    }
    if (!skipped) begin = page.back().key + '\0';  // the next key after the page
  }
  out.next = begin;
  return out;
}

}  // namespace cairn::meta::ops

// Frame I/O over Boost.Asio sockets, shared by DataServer and DataClient.
// Internal to src/dataplane: the public headers keep Asio out.
//
// Coroutines (asio::awaitable) running on the caller's executor. A socket
// is used by one coroutine at a time; helpers never keep references past
// their completion.
#pragma once

// <utility> must come before Asio with GCC 12: boost/asio/awaitable.hpp
// uses std::exchange without including it.
#include <utility>

#include <boost/asio.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "chunk/aligned_buffer.h"
#include "dataplane/protocol.h"

namespace cairn::dataplane::io {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Millis = std::chrono::milliseconds;
template <typename T>
using Task = asio::awaitable<T>;

// Closes `sock` if still armed when `timeout` passes. The timer runs on the
// executor of the coroutine that creates it, so the close never races with
// that coroutine's use of the socket. Disarmed by the destructor.
class SocketTimeout {
 public:
  SocketTimeout(const asio::any_io_executor& ex, tcp::socket* sock, Millis timeout);
  ~SocketTimeout();
  SocketTimeout(const SocketTimeout&) = delete;
  SocketTimeout& operator=(const SocketTimeout&) = delete;
  bool fired() const { return state_->fired; }

 private:
  struct State {
    bool armed = true;
    bool fired = false;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
  asio::steady_timer timer_;
};

// A status for a failed socket operation `what` (kTimeout when the timeout
// fired, kUnavailable otherwise: the peer is gone or unreachable).
absl::Status NetError(const boost::system::error_code& ec, const std::string& what, bool timed_out);

struct InFrame {
  FrameHeader header;
  std::vector<uint8_t> section;  // extra || CRC table, verified
  AlignedBuffer payload;         // verified against the table
  std::span<const uint8_t> extra() const { return std::span(section.data(), header.extra_length); }
};

// Reads one complete frame, checking header, section CRC and payload
// CRCs. `timeout` (0: none) bounds the whole read.
Task<absl::StatusOr<InFrame>> ReadFrame(tcp::socket& sock, Millis timeout);

// A frame ready to send: header and section in `prefix`, then `payload`.
struct OutFrame {
  std::vector<uint8_t> prefix;
  AlignedBuffer payload;
};
OutFrame MakeFrame(const FrameHeader& h, std::span<const uint8_t> extra, AlignedBuffer payload);
// The error reply to a request with header `request`.
OutFrame MakeError(const FrameHeader& request, const absl::Status& status, uint8_t hop);

Task<boost::system::error_code> WriteFrame(tcp::socket& sock, const OutFrame& frame,
                                           Millis timeout);

// Resolves and connects to "host:port" within `timeout`.
Task<absl::StatusOr<tcp::socket>> Connect(const std::string& address, Millis timeout);

// The status carried by an error reply (`hop` added to the chain index
// the reply reports; the message names the server that failed).
absl::Status StatusFromError(const InFrame& reply, std::span<const std::string> chain);

}  // namespace cairn::dataplane::io

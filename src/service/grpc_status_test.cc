#include "service/grpc_status.h"

#include <string>

#include "common/errors.h"
#include "gtest/gtest.h"

namespace cairn::service {
namespace {

constexpr int kLastErrc = static_cast<int>(Errc::kStaleUpload);

// Every code crosses the wire (status + trailer) and comes back as the
// same precise code, the same canonical code, the same message and the
// same errno.
TEST(GrpcStatus, EveryErrcRoundTrips) {
  for (int i = 1; i <= kLastErrc; ++i) {
    Errc code = static_cast<Errc>(i);
    absl::Status original = Error(code, "message " + std::to_string(i));
    grpc::Status wire = ToGrpcStatusOnly(original);
    EXPECT_EQ(static_cast<int>(wire.error_code()), static_cast<int>(original.code()))
        << ErrcName(code);
    EXPECT_EQ(wire.error_message(), "message " + std::to_string(i));
    absl::Status back = FromGrpcStatus(wire, ErrcTrailerValue(original));
    EXPECT_EQ(ErrcOf(back), code) << ErrcName(code);
    EXPECT_EQ(back.code(), original.code()) << ErrcName(code);
    EXPECT_EQ(ToErrno(back), ToErrno(original)) << ErrcName(code);
    EXPECT_EQ(std::string(back.message()), std::string(original.message()));
  }
}

TEST(GrpcStatus, OkIsOk) {
  EXPECT_TRUE(ToGrpcStatusOnly(absl::OkStatus()).ok());
  EXPECT_EQ(ErrcTrailerValue(absl::OkStatus()), "");
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "").ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK, "1").ok());
}

TEST(GrpcStatus, StatusWithoutPayloadSendsDerivedCode) {
  absl::Status plain = absl::NotFoundError("library error");
  EXPECT_EQ(ErrcTrailerValue(plain), std::to_string(static_cast<int>(Errc::kNotFound)));
}

// Statuses made by gRPC itself carry no trailer: the canonical code decides.
TEST(GrpcStatus, MissingOrBadTrailerFallsBackToCanonicalCode) {
  grpc::Status deadline(grpc::StatusCode::DEADLINE_EXCEEDED, "Deadline Exceeded");
  EXPECT_EQ(ErrcOf(FromGrpcStatus(deadline, "")), Errc::kTimeout);
  EXPECT_EQ(ToErrno(FromGrpcStatus(deadline, "")), ETIMEDOUT);
  grpc::Status down(grpc::StatusCode::UNAVAILABLE, "failed to connect");
  EXPECT_EQ(ErrcOf(FromGrpcStatus(down, "")), Errc::kUnavailable);
  grpc::Status nf(grpc::StatusCode::NOT_FOUND, "x");
  EXPECT_EQ(ErrcOf(FromGrpcStatus(nf, "garbage")), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(FromGrpcStatus(nf, "-3")), Errc::kNotFound);
  EXPECT_EQ(ErrcOf(FromGrpcStatus(nf, "0")), Errc::kNotFound);
  // A code from a newer peer that this side does not know.
  EXPECT_EQ(ErrcOf(FromGrpcStatus(nf, "9999")), Errc::kInternal);
}

TEST(GrpcStatus, DistinctErrcsSharingACanonicalCodeStayDistinct) {
  // NotDir, IsDir, NotEmpty, Busy and StaleEpoch are all FAILED_PRECONDITION.
  for (Errc code : {Errc::kNotDir, Errc::kIsDir, Errc::kNotEmpty, Errc::kBusy, Errc::kStaleEpoch}) {
    absl::Status s = Error(code, "x");
    EXPECT_EQ(ErrcOf(FromGrpcStatus(ToGrpcStatusOnly(s), ErrcTrailerValue(s))), code);
  }
}

}  // namespace
}  // namespace cairn::service

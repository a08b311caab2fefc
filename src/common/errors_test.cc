#include "common/errors.h"

#include <cerrno>

#include "common/status_macros.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

TEST(ErrorsTest, PreciseCodeSurvivesAndMapsToErrno) {
  absl::Status s = NotEmpty("dir /a");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrcOf(s), Errc::kNotEmpty);
  EXPECT_EQ(ToErrno(s), ENOTEMPTY);
  EXPECT_EQ(ToErrno(Error(Errc::kNoAttr, "x")), ENODATA);
  EXPECT_EQ(ToErrno(absl::OkStatus()), 0);
}

TEST(ErrorsTest, PlainStatusFallsBackToCanonical) {
  EXPECT_EQ(ErrcOf(absl::NotFoundError("x")), Errc::kNotFound);
  EXPECT_EQ(ToErrno(absl::UnavailableError("x")), ENOTCONN);
  EXPECT_EQ(ErrcOf(absl::UnknownError("x")), Errc::kInternal);
}

TEST(ErrorsTest, UnknownIntIsInternal) {
  EXPECT_EQ(ErrcFromInt(9999), Errc::kInternal);
  EXPECT_EQ(ErrcFromInt(5), Errc::kNotEmpty);
  EXPECT_EQ(ErrcName(Errc::kLoop), "Loop");
}

absl::StatusOr<int> Half(int x) {
  if (x % 2) return Invalid("odd");
  return x / 2;
}

absl::Status UseMacros(int x, int* out) {
  ASSIGN_OR_RETURN(int h, Half(x));
  RETURN_IF_ERROR(h > 100 ? Error(Errc::kRange, "big") : absl::OkStatus());
  *out = h;
  return absl::OkStatus();
}

TEST(ErrorsTest, Macros) {
  int out = 0;
  EXPECT_TRUE(UseMacros(4, &out).ok());
  EXPECT_EQ(out, 2);
  EXPECT_EQ(ErrcOf(UseMacros(3, &out)), Errc::kInvalid);
  EXPECT_EQ(ErrcOf(UseMacros(400, &out)), Errc::kRange);
}

}  // namespace
}  // namespace cairn

#include "service/convert.h"

#include <string>

#include "common/errors.h"
#include "meta/names.h"

namespace cairn::service {
namespace {

std::string Field(std::string_view field) { return std::string(field); }

}  // namespace

absl::StatusOr<meta::Ref> RefFromProto(const proto::Ref& ref, bool present,
                                       std::string_view field) {
  if (!present) return Invalid("missing " + Field(field));
  switch (ref.kind_case()) {
    case proto::Ref::kIno:
      if (ref.ino() == 0) return Invalid(Field(field) + ": inode 0 does not exist");
      return meta::Ref::Id(InodeId(ref.ino()));
    case proto::Ref::kPath:
      if (ref.path().empty()) return Invalid(Field(field) + ": empty path");
      if (ref.path().size() > meta::kMaxPathLength) {
        return Error(Errc::kNameTooLong, Field(field) + ": path longer than " +
                                             std::to_string(meta::kMaxPathLength) + " bytes");
      }
      if (ref.path().front() != '/') return Invalid(Field(field) + ": path is not absolute");
      return meta::Ref::Path(ref.path());
    case proto::Ref::KIND_NOT_SET:
      break;
  }
  return Invalid(Field(field) + ": neither inode nor path set");
}

absl::Status CheckName(std::string_view name, std::string_view field) {
  if (name.empty()) return Invalid("empty " + Field(field));
  if (name.size() > meta::kMaxNameLength) {
    return Error(Errc::kNameTooLong,
                 Field(field) + " longer than " + std::to_string(meta::kMaxNameLength) + " bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckMode(uint32_t mode) {
  if (mode & ~07777u) return Invalid("mode has bits above 07777");
  return absl::OkStatus();
}

absl::Status CheckSymlinkTarget(std::string_view target) {
  if (target.empty()) return Invalid("empty symlink target");
  if (target.size() > meta::kMaxSymlinkTarget) {
    return Error(Errc::kNameTooLong, "symlink target longer than " +
                                         std::to_string(meta::kMaxSymlinkTarget) + " bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckXattrName(std::string_view name) {
  if (name.empty()) return Invalid("empty xattr name");
  if (name.size() > meta::kMaxNameLength) return Error(Errc::kRange, "xattr name too long");
  return absl::OkStatus();
}

absl::Status CheckXattrValue(std::string_view value) {
  if (value.size() > meta::kMaxXattrValue) {
    return Error(Errc::kTooBig,
                 "xattr value larger than " + std::to_string(meta::kMaxXattrValue) + " bytes");
  }
  return absl::OkStatus();
}

absl::Status CheckRenameFlags(uint32_t flags) {
  constexpr uint32_t kKnown = meta::kRenameNoReplace | meta::kRenameExchange;
  if (flags & ~kKnown) return Invalid("unknown rename flags");
  if (flags == kKnown) return Invalid("RENAME_NOREPLACE and RENAME_EXCHANGE together");
  return absl::OkStatus();
}

absl::Status CheckXattrFlags(uint32_t flags) {
  constexpr uint32_t kKnown = meta::kXattrCreate | meta::kXattrReplace;
  if (flags & ~kKnown) return Invalid("unknown setxattr flags");
  if (flags == kKnown) return Invalid("XATTR_CREATE and XATTR_REPLACE together");
  return absl::OkStatus();
}

void ToProto(const proto::InodeRecord& r, proto::Attr* a) {
  a->set_ino(r.ino());
  a->set_type(r.type());
  a->set_mode(r.mode());
  a->set_uid(r.uid());
  a->set_gid(r.gid());
  a->set_size(r.size());
  a->set_nlink(r.nlink());
  a->set_atime_ns(r.atime_ns());
  a->set_mtime_ns(r.mtime_ns());
  a->set_ctime_ns(r.ctime_ns());
  a->set_crtime_ns(r.crtime_ns());
  if (!r.symlink_target().empty()) a->set_symlink_target(r.symlink_target());
  if (r.has_policy()) *a->mutable_policy() = r.policy();
}

}  // namespace cairn::service

// Strong id types. Ids never travel between modules as bare integers.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <string>

namespace cairn {

// A typed wrapper around an integer id; Tag makes each id a distinct type.
template <typename Tag, typename Rep = uint64_t>
class StrongId {
 public:
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep value) : value_(value) {}
  constexpr Rep value() const { return value_; }
  constexpr bool valid() const { return value_ != 0; }
  friend constexpr auto operator<=>(StrongId, StrongId) = default;
  std::string ToString() const { return std::to_string(value_); }

 private:
  Rep value_ = 0;
};

struct InodeIdTag {};
struct NodeIdTag {};
struct PgIdTag {};

// Inode ids are never reused. 0 is invalid; the root is 1.
using InodeId = StrongId<InodeIdTag>;
using NodeId = StrongId<NodeIdTag>;
using PgId = StrongId<PgIdTag, uint32_t>;

inline constexpr InodeId kRootInode{1};

}  // namespace cairn

template <typename Tag, typename Rep>
struct std::hash<cairn::StrongId<Tag, Rep>> {
  size_t operator()(cairn::StrongId<Tag, Rep> id) const { return std::hash<Rep>()(id.value()); }
};

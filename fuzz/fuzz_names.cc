// libFuzzer target for the name and path validators (src/meta/names.h):
// every name and path that reaches a key passes through them, so they must
// never crash, and what they accept must be exactly what the header says.
//
// Each input is used twice: whole, as a name / path / target / xattr name,
// and split by FuzzedDataProvider into a (cwd, path) pair for NormalizePath.
// Any violated invariant calls Fail(), which prints the input and aborts so
// libFuzzer records a crash.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "common/errors.h"
#include "meta/names.h"

namespace {

using cairn::Errc;
using cairn::ErrcOf;
namespace meta = cairn::meta;

[[noreturn]] void Fail(const char* what, std::string_view a, std::string_view b = {}) {
  std::fprintf(stderr, "fuzz_names invariant violated: %s\n  a (%zu bytes) = \"", what, a.size());
  for (unsigned char c : a)
    std::fprintf(stderr, (c >= 0x20 && c < 0x7f && c != '"') ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\"\n  b (%zu bytes) = \"", b.size());
  for (unsigned char c : b)
    std::fprintf(stderr, (c >= 0x20 && c < 0x7f && c != '"') ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\"\n");
  std::abort();
}

void Check(bool cond, const char* what, std::string_view a, std::string_view b = {}) {
  if (!cond) Fail(what, a, b);
}

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Reference model of ValidateName, written from the header comment.
bool NameOk(std::string_view n) {
  return !n.empty() && n.size() <= meta::kMaxNameLength && n.find('/') == std::string_view::npos &&
         !HasNul(n) && n != "." && n != "..";
}

// Components of `path` split on '/', empty ones dropped.
std::vector<std::string_view> RawComponents(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Reference model of SplitPath's accept/reject decision.
bool SplitOk(std::string_view path) {
  if (path.empty() || path[0] != '/' || HasNul(path) || path.size() > meta::kMaxPathLength)
    return false;
  auto comps = RawComponents(path);
  if (comps.size() > meta::kMaxPathDepth) return false;
  for (auto c : comps) {
    if (c == "." || c == ".." || c.size() > meta::kMaxNameLength) return false;
  }
  return true;
}

// Reference lexical normalization: cwd (if `path` is relative) + path,
// "." dropped, ".." pops (and stays at the root), slashes collapsed.
std::string RefNormalize(std::string_view cwd, std::string_view path) {
  std::vector<std::string_view> stack;
  auto apply = [&stack](std::string_view p) {
    for (auto c : RawComponents(p)) {
      if (c == ".") continue;
      if (c == "..") {
        if (!stack.empty()) stack.pop_back();
        continue;
      }
      stack.push_back(c);
    }
  };
  if (path.empty() || path[0] != '/') apply(cwd);
  apply(path);
  if (stack.empty()) return "/";
  std::string out;
  for (auto c : stack) {
    out += '/';
    out.append(c);
  }
  return out;
}

void FuzzValidateName(std::string_view n) {
  absl::Status s = meta::ValidateName(n);
  Check(s.ok() == NameOk(n),
        "ValidateName accepts exactly 1..255 bytes without '/', NUL, '.', '..'", n);
  if (!s.ok()) {
    Errc e = ErrcOf(s);
    Check(e == Errc::kInvalid || e == Errc::kNameTooLong,
          "ValidateName error is kInvalid or kNameTooLong", n);
    // Unambiguous cases get the documented code.
    if (n.size() > meta::kMaxNameLength && n.find('/') == std::string_view::npos && !HasNul(n)) {
      Check(e == Errc::kNameTooLong, "a long but otherwise fine name is kNameTooLong", n);
    }
    if (n.size() <= meta::kMaxNameLength)
      Check(e == Errc::kInvalid, "a short bad name is kInvalid", n);
  }
}

void FuzzSplitPath(std::string_view path) {
  auto r = meta::SplitPath(path);
  Check(r.ok() == SplitOk(path), "SplitPath accepts exactly what names.h documents", path);
  if (!r.ok()) {
    Errc e = ErrcOf(r.status());
    Check(e == Errc::kInvalid || e == Errc::kNameTooLong || e == Errc::kLoop,
          "SplitPath error is kInvalid, kNameTooLong or kLoop", path);
    return;
  }
  const auto& comps = *r;
  Check(comps == RawComponents(path), "SplitPath components are the non-empty '/'-separated parts",
        path);
  std::string joined;
  for (auto c : comps) {
    Check(meta::ValidateName(c).ok(), "every SplitPath component passes ValidateName", path, c);
    // The views must point into the caller's buffer (they outlive no copy).
    Check(c.data() >= path.data() && c.data() + c.size() <= path.data() + path.size(),
          "SplitPath components are views into the input", path, c);
    joined += '/';
    joined.append(c);
  }
  if (joined.empty()) joined = "/";
  auto again = meta::SplitPath(joined);
  Check(again.ok() && *again == comps, "SplitPath of the re-joined path gives the same components",
        path, joined);
}

void FuzzNormalize(std::string_view cwd, std::string_view path) {
  auto r = meta::NormalizePath(cwd, path);
  if (!r.ok()) {
    Errc e = ErrcOf(r.status());
    Check(e == Errc::kInvalid || e == Errc::kNameTooLong || e == Errc::kLoop,
          "NormalizePath fails only with kInvalid, kNameTooLong or kLoop", cwd, path);
    bool relative = path.empty() || path[0] != '/';
    if (path.empty() || HasNul(path) || (relative && (cwd.empty() || cwd[0] != '/'))) {
      Check(e == Errc::kInvalid, "empty path, NUL or relative cwd is kInvalid", cwd, path);
    }
    return;
  }
  Check(!path.empty() && !HasNul(path), "NormalizePath rejects an empty path and NUL bytes", cwd,
        path);
  const std::string& out = *r;
  Check(!out.empty() && out[0] == '/', "NormalizePath output is absolute", cwd, out);
  Check(out == "/" || out.back() != '/', "NormalizePath output has no trailing slash", cwd, out);
  Check(out.find("//") == std::string::npos, "NormalizePath output has no repeated slash", cwd,
        out);
  for (auto c : RawComponents(out)) {
    Check(c != "." && c != "..", "NormalizePath output has no '.' or '..' component", cwd, out);
  }
  // Only compare with the reference when the inputs are what the contract
  // speaks of (an absolute cwd, or an absolute path that ignores it).
  if ((!cwd.empty() && cwd[0] == '/') || (!path.empty() && path[0] == '/')) {
    std::string want = RefNormalize(cwd, path);
    if (out != want) {
      Fail("NormalizePath resolves '.', '..' and slashes lexically",
           std::string(cwd) + " | " + std::string(path), out + " != " + want);
    }
  }
  auto twice = meta::NormalizePath("/", out);
  Check(twice.ok() && *twice == out, "NormalizePath is idempotent", out,
        twice.ok() ? *twice : "error");
  // names.h: "A result always passes SplitPath" (it is what clients send).
  auto split = meta::SplitPath(out);
  if (!split.ok()) Fail("a NormalizePath result passes SplitPath", out, split.status().ToString());
  for (auto c : *split)
    Check(meta::ValidateName(c).ok(), "normalized components are valid names", out, c);
}

void FuzzSymlinkTarget(std::string_view t) {
  bool want = !t.empty() && t.size() <= meta::kMaxSymlinkTarget && !HasNul(t);
  absl::Status s = meta::ValidateSymlinkTarget(t);
  Check(s.ok() == want, "ValidateSymlinkTarget accepts 1..4095 bytes without NUL", t);
  if (!s.ok()) {
    Errc e = ErrcOf(s);
    Check(e == Errc::kInvalid || e == Errc::kNameTooLong,
          "symlink target error is kInvalid or kNameTooLong", t);
    if (t.empty()) Check(e == Errc::kInvalid, "an empty symlink target is kInvalid", t);
    if (t.size() <= meta::kMaxSymlinkTarget)
      Check(e == Errc::kInvalid, "a short bad target is kInvalid", t);
    if (t.size() > meta::kMaxSymlinkTarget && !HasNul(t)) {
      Check(e == Errc::kNameTooLong, "a long target without NUL is kNameTooLong", t);
    }
  }
}

void FuzzXattrName(std::string_view n) {
  static constexpr std::string_view kPrefixes[] = {"user.", "trusted.", "security.", "system."};
  bool prefixed = false, bare = false;
  for (auto p : kPrefixes) {
    if (n.size() > p.size() && n.substr(0, p.size()) == p) prefixed = true;
    if (n == p) bare = true;
  }
  bool want = !n.empty() && n.size() <= meta::kMaxNameLength && !HasNul(n) && prefixed;
  absl::Status s = meta::ValidateXattrName(n);
  Check(s.ok() == want,
        "ValidateXattrName accepts a known prefix + 1 or more bytes, 1..255 bytes, no NUL", n);
  if (s.ok()) return;
  // The documented codes, as Linux's setxattr returns them.
  Errc e = ErrcOf(s);
  if (n.empty() || bare) {
    Check(e == Errc::kInvalid, "an empty name or bare prefix is kInvalid", n);
  } else if (n.size() > meta::kMaxNameLength) {
    Check(e == Errc::kRange, "an xattr name over 255 bytes is kRange", n);
  } else if (HasNul(n)) {
    Check(e == Errc::kInvalid, "an xattr name with NUL is kInvalid", n);
  } else {
    Check(e == Errc::kNotSupported, "an xattr name without a known prefix is kNotSupported", n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view whole(reinterpret_cast<const char*>(data), size);
  FuzzValidateName(whole);
  FuzzSplitPath(whole);
  FuzzSymlinkTarget(whole);
  FuzzXattrName(whole);
  FuzzNormalize("/", whole);

  FuzzedDataProvider fdp(data, size);
  std::string cwd = fdp.ConsumeRandomLengthString(meta::kMaxPathLength + 16);
  std::string path = fdp.ConsumeRemainingBytesAsString();
  FuzzNormalize(cwd, path);
  // An absolute cwd is the documented case; make sure it is always covered.
  FuzzNormalize("/" + cwd, path);
  return 0;
}

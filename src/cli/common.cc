#include "cli/common.h"

#include <cctype>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "meta/names.h"

namespace cairn::cli {

int Registry::RunParsed() const {
  for (const Entry& e : entries_) {
    if (e.command->parsed()) return e.run();
  }
  return kExitUsage;
}

void AddClientFlags(CLI::App* command, ClientFlags* flags) {
  command->add_option("--meta", flags->meta, "Metadata server HOST:PORT")
      ->envname("CAIRN_META")
      ->capture_default_str();
  command->add_option("--timeout", flags->timeout_seconds, "Deadline of each request, in seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  command
      ->add_option("--meta-wait", flags->meta_wait_seconds,
                   "Seconds a command waits for an unreachable or restarting meta server, "
                   "repeating cut-off calls safely, before it fails (0: fail at once)")
      ->envname("CAIRN_META_WAIT")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

ClientOptions ClientOptionsOf(const ClientFlags& flags) {
  ClientOptions options;
  options.meta_address = flags.meta;
  options.timeout = absl::Seconds(flags.timeout_seconds);
  options.meta_retry_deadline = absl::Seconds(flags.meta_wait_seconds);
  options.connections = flags.connections;
  options.max_chunks_in_flight = flags.chunks_in_flight;
  options.meta_batch_in_flight = flags.meta_batch_in_flight;
  return options;
}

std::unique_ptr<Client> ConnectOrReport(const ClientFlags& flags) {
  ClientOptions options = ClientOptionsOf(flags);
  auto client = Client::Connect(options);
  if (!client.ok()) {
    ReportMessage("meta server " + flags.meta + ": " + std::string(client.status().message()));
    return nullptr;
  }
  return std::move(*client);
}

int ReportMessage(std::string_view message) {
  std::fprintf(stderr, "cairn: %.*s\n", static_cast<int>(message.size()), message.data());
  return kExitFailure;
}

int Report(std::string_view what, const absl::Status& status, const ClientFlags* flags) {
  Errc code = ErrcOf(status);
  if (code == Errc::kUnavailable && flags != nullptr) {
    return ReportMessage("cannot reach the meta server at " + flags->meta + ": " +
                         std::string(status.message()));
  }
  int err = ToErrno(status);
  std::string text = std::string(what) + ": " + std::strerror(err == 0 ? EIO : err);
  // Errors that strerror alone would leave unexplained keep the server's
  // message.
  if (code == Errc::kInternal || code == Errc::kCorrupt || code == Errc::kIo) {
    text += " (" + std::string(status.message()) + ")";
  }
  return ReportMessage(text);
}

int ForEachPath(const ClientFlags& flags, const std::vector<std::string>& args,
                const std::function<absl::Status(Client&, const std::string&)>& op) {
  auto client = ConnectOrReport(flags);
  if (!client) return kExitFailure;
  int rc = kExitOk;
  for (const std::string& arg : args) {
    auto path = AbsolutePath(arg);
    if (!path.ok()) {
      rc = Report(arg, path.status());
      continue;
    }
    absl::Status s = op(*client, *path);
    if (!s.ok()) rc = Report(*path, s, &flags);
  }
  return rc;
}

namespace {
std::string& WorkingDirectoryStorage() {
  static std::string* dir = new std::string("/");
  return *dir;
}
}  // namespace

const std::string& WorkingDirectory() { return WorkingDirectoryStorage(); }

void SetWorkingDirectory(std::string dir) { WorkingDirectoryStorage() = std::move(dir); }

absl::StatusOr<std::string> AbsolutePath(std::string_view arg) {
  return meta::NormalizePath(WorkingDirectory(), arg);
}

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string ModeString(FileType type, uint32_t mode) {
  std::string s(10, '-');
  s[0] = type == FileType::kDirectory ? 'd' : type == FileType::kSymlink ? 'l' : '-';
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if (mode & (0400u >> i)) s[1 + i] = rwx[i];
  }
  if (mode & 04000) s[3] = (mode & 0100) ? 's' : 'S';
  if (mode & 02000) s[6] = (mode & 0010) ? 's' : 'S';
  if (mode & 01000) s[9] = (mode & 0001) ? 't' : 'T';
  return s;
}

namespace {

std::tm LocalTime(int64_t ns) {
  std::time_t secs = static_cast<std::time_t>(ns / 1'000'000'000);
  if (ns < 0 && ns % 1'000'000'000 != 0) --secs;
  std::tm tm{};
  localtime_r(&secs, &tm);
  return tm;
}

}  // namespace

std::string ShortTime(int64_t ns) {
  std::tm tm = LocalTime(ns);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M", &tm);
  return buf;
}

std::string LongTime(int64_t ns) {
  std::tm tm = LocalTime(ns);
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) frac += 1'000'000'000;
  char date[64], zone[16];
  std::strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
  std::strftime(zone, sizeof(zone), "%z", &tm);
  char buf[128];
  std::snprintf(buf, sizeof(buf), "%s.%09lld %s", date, static_cast<long long>(frac), zone);
  return buf;
}

nlohmann::json AttrJson(std::string_view name, const Attr& a) {
  nlohmann::json j = {
      {"name", std::string(name)},
      {"ino", a.ino.value()},
      {"type", std::string(FileTypeName(a.type))},
      {"mode", a.mode},
      {"nlink", a.nlink},
      {"uid", a.uid},
      {"gid", a.gid},
      {"size", a.size},
      {"mtime_ns", a.mtime_ns},
      {"ctime_ns", a.ctime_ns},
      {"atime_ns", a.atime_ns},
  };
  if (a.type == FileType::kSymlink) j["target"] = a.symlink_target;
  return j;
}

absl::StatusOr<uint64_t> ParseSize(std::string_view text) {
  const std::string bad = "bad size '" + std::string(text) + "'";
  size_t digits = 0;
  uint64_t value = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    uint64_t d = static_cast<uint64_t>(text[digits] - '0');
    if (value > (UINT64_MAX - d) / 10) return Invalid(bad);
    value = value * 10 + d;
    ++digits;
  }
  if (digits == 0) return Invalid(bad);
  std::string unit(text.substr(digits));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  int shift;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kib" || unit == "kb") {
    shift = 10;
  } else if (unit == "m" || unit == "mib" || unit == "mb") {
    shift = 20;
  } else if (unit == "g" || unit == "gib" || unit == "gb") {
    shift = 30;
  } else if (unit == "t" || unit == "tib" || unit == "tb") {
    shift = 40;
  } else {
    return Invalid(bad);
  }
  if (shift > 0 && value > (UINT64_MAX >> shift)) return Invalid(bad);
  return value << shift;
}

absl::StatusOr<uint32_t> ParseMode(std::string_view text) {
  if (text.empty() || text.size() > 5) return Invalid("bad mode '" + std::string(text) + "'");
  uint32_t mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return Invalid("bad mode '" + std::string(text) + "'");
    mode = mode * 8 + static_cast<uint32_t>(c - '0');
  }
  if (mode > 07777) return Invalid("bad mode '" + std::string(text) + "'");
  return mode;
}

}  // namespace cairn::cli

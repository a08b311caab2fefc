#include "cli/shell_input.h"

#include <editline/readline.h>
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cli/shell_words.h"

namespace cairn::cli {
namespace {

class PlainLineReader : public LineReader {
 public:
  explicit PlainLineReader(std::istream& in) : in_(in) {}

  std::optional<std::string> ReadLine(const std::string&) override {
    std::string line;
    if (!std::getline(in_, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }

 private:
  std::istream& in_;
};

// ---- libedit: its readline interface calls back plain functions, which
// find the options of the one live reader here.
const EditLineOptions* g_options = nullptr;
volatile std::sig_atomic_t g_interrupted = 0;  // SIGINT during readline()

void OnInterrupt(int) { g_interrupted = 1; }

char* Dup(const std::string& s) {
  char* p = static_cast<char*>(std::malloc(s.size() + 1));
  if (p != nullptr) std::memcpy(p, s.c_str(), s.size() + 1);
  return p;
}

// rl_attempted_completion_function: the match array libedit expects
// ([common prefix, match...] with a null end; all malloc'ed, freed by
// libedit), or null for no match.
char** Complete(const char* text, int start, int /*end*/) {
  rl_attempted_completion_over = 1;  // never fall back to local file names
  if (g_options == nullptr || !g_options->completer) return nullptr;
  std::string before(rl_line_buffer, static_cast<size_t>(start));
  auto words = SplitWords(before);
  if (!words.ok()) return nullptr;  // inside an open quote: no completion
  std::vector<std::string> candidates = g_options->completer(*words, text);
  if (candidates.empty()) return nullptr;

  std::string common = candidates.front();
  bool all_dirs = true;
  for (const std::string& c : candidates) {
    size_t n = 0;
    while (n < common.size() && n < c.size() && common[n] == c[n]) ++n;
    common.resize(n);
    if (c.empty() || c.back() != '/') all_dirs = false;
  }
  rl_completion_append_character = all_dirs ? '\0' : ' ';

  const size_t size = candidates.size() == 1 ? 2 : candidates.size() + 2;
  char** matches = static_cast<char**>(std::calloc(size, sizeof(char*)));
  if (matches == nullptr) return nullptr;
  if (candidates.size() == 1) {
    matches[0] = Dup(candidates.front());
  } else {
    matches[0] = Dup(common);
    for (size_t i = 0; i < candidates.size(); ++i) matches[i + 1] = Dup(candidates[i]);
  }
  return matches;
}

char g_word_breaks[] = " \t\n";

class EditLineReader : public LineReader {
 public:
  explicit EditLineReader(EditLineOptions options) : options_(std::move(options)) {
    g_options = &options_;
    rl_readline_name = "cairn";
    rl_basic_word_break_characters = g_word_breaks;
    rl_completer_word_break_characters = g_word_breaks;
    rl_attempted_completion_function = Complete;
    rl_initialize();
    using_history();
    stifle_history(options_.history_size);
    if (!options_.history_file.empty()) read_history(options_.history_file.c_str());
  }

  ~EditLineReader() override {
    g_options = nullptr;
    rl_attempted_completion_function = nullptr;
  }

  std::optional<std::string> ReadLine(const std::string& prompt) override {
    // Ctrl-C at the prompt cancels the line (as in bash) instead of ending
    // the shell: SIGINT interrupts libedit's read, which gives up. While a
    // command runs, SIGINT keeps its default effect.
    struct sigaction on_int {};
    struct sigaction old_int {};
    on_int.sa_handler = OnInterrupt;
    sigemptyset(&on_int.sa_mask);
    on_int.sa_flags = 0;  // no SA_RESTART
    sigaction(SIGINT, &on_int, &old_int);
    g_interrupted = 0;
    char* line = readline(prompt.c_str());
    sigaction(SIGINT, &old_int, nullptr);
    const bool eof = line == nullptr;
    std::string result = eof ? "" : line;
    std::free(line);
    // Leave the cursor on a fresh line after Ctrl-C or Ctrl-D.
    if (g_interrupted) {
      std::fputs("\n", stdout);
      return std::string();
    }
    if (eof) {
      std::fputs("\n", stdout);
      return std::nullopt;
    }
    return result;
  }

  void AddHistory(const std::string& line) override {
    if (line.empty() || line == last_) return;
    last_ = line;
    add_history(line.c_str());
    if (options_.history_file.empty()) return;
    // History may hold paths and names: keep the file private.
    mode_t old_mask = umask(077);
    write_history(options_.history_file.c_str());
    umask(old_mask);
  }

 private:
  EditLineOptions options_;
  std::string last_;  // the last line added, not repeated
};

}  // namespace

std::unique_ptr<LineReader> NewPlainLineReader(std::istream& in) {
  return std::make_unique<PlainLineReader>(in);
}

std::unique_ptr<LineReader> NewEditLineReader(EditLineOptions options) {
  return std::make_unique<EditLineReader>(std::move(options));
}

}  // namespace cairn::cli

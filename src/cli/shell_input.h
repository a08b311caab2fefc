// Where `cairn shell` reads its lines from: plain input (a pipe or a file,
// for scripts) or a terminal with line editing, history and completion
// (libedit).
#pragma once

#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace cairn::cli {

class LineReader {
 public:
  virtual ~LineReader() = default;
  // The next line, without its newline; nullopt at the end of the input
  // (EOF, or Ctrl-D on an empty terminal line). `prompt` is shown only on
  // a terminal. A line cancelled with Ctrl-C comes back empty.
  virtual std::optional<std::string> ReadLine(const std::string& prompt) = 0;
  // Records an entered line in the history (and its file); plain input
  // keeps none.
  virtual void AddHistory(const std::string& line) { (void)line; }
};

// Lines of `in` (which must outlive the reader), no prompt, no history.
std::unique_ptr<LineReader> NewPlainLineReader(std::istream& in);

// Tab completion: given the words before the cursor and the partial word
// under it, the words that may replace the partial one. A candidate
// ending in '/' (a directory) gets no space after it when it is the only
// one. Candidates are inserted as they are (no quoting).
using Completer = std::function<std::vector<std::string>(const std::vector<std::string>& before,
                                                         const std::string& partial)>;

struct EditLineOptions {
  // History file, read at start and rewritten after every entered line
  // (so it survives a killed shell). Empty: no history file.
  std::string history_file;
  // Lines kept, in memory and in the file. Default 1000.
  int history_size = 1000;
  // May be empty (no completion). Called on the reader's thread.
  Completer completer;
};

// Line editing on the terminal (stdin/stdout) with libedit: arrow keys,
// emacs key bindings, Ctrl-R reverse search, history, tab completion.
// libedit's readline interface is process-wide state: have at most one
// such reader at a time, used from one thread.
std::unique_ptr<LineReader> NewEditLineReader(EditLineOptions options);

}  // namespace cairn::cli

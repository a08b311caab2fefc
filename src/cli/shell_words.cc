#include "cli/shell_words.h"

#include "common/errors.h"

namespace cairn::cli {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

absl::StatusOr<std::vector<std::string>> SplitWords(std::string_view line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;  // a word is open, possibly still empty ("")
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (IsBlank(c)) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      ++i;
    } else if (c == '#' && !in_word) {
      break;  // comment
    } else if (c == '\\') {
      if (i + 1 == line.size()) {
        return Invalid("the line ends with a backslash (escape the next character, or use \\\\)");
      }
      word += line[i + 1];
      in_word = true;
      i += 2;
    } else if (c == '\'') {
      size_t close = line.find('\'', i + 1);
      if (close == std::string_view::npos) {
        return Invalid("unterminated single quote (opened at column " + std::to_string(i + 1) +
                       "): close it with '");
      }
      word.append(line.substr(i + 1, close - i - 1));
      in_word = true;
      i = close + 1;
    } else if (c == '"') {
      size_t j = i + 1;
      bool closed = false;
      while (j < line.size()) {
        if (line[j] == '"') {
          closed = true;
          break;
        }
        if (line[j] == '\\' && j + 1 < line.size() && (line[j + 1] == '\\' || line[j + 1] == '"')) {
          word += line[j + 1];
          j += 2;
        } else {
          word += line[j];
          ++j;
        }
      }
      if (!closed) {
        return Invalid("unterminated double quote (opened at column " + std::to_string(i + 1) +
                       "): close it with \"");
      }
      in_word = true;
      i = j + 1;
    } else {
      word += c;
      in_word = true;
      ++i;
    }
  }
  if (in_word) words.push_back(std::move(word));
  return words;
}

std::string QuoteWord(std::string_view word) {
  if (word.empty()) return "''";
  bool plain = word.front() != '#';
  for (char c : word) {
    if (IsBlank(c) || c == '\'' || c == '"' || c == '\\') plain = false;
  }
  if (plain) return std::string(word);
  // Single quotes keep everything but a single quote, which is closed,
  // escaped and reopened: it's -> 'it'\''s'.
  std::string out = "'";
  for (char c : word) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

}  // namespace cairn::cli

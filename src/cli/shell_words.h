// Splitting a `cairn shell` line into words, with the quoting rules of a
// POSIX shell minus expansions:
//
//   - blanks (space, tab) separate words; a word may mix quoted and
//     unquoted parts (`a"b c"'d'` is one word, "ab cd");
//   - 'single quotes' keep everything up to the next single quote;
//   - "double quotes" keep everything up to the next unescaped double
//     quote; inside them a backslash escapes only `\` and `"`, otherwise
//     it stays as it is;
//   - outside quotes a backslash keeps the next character as it is
//     (`a\ b` is one word);
//   - `""` and `''` give an empty word;
//   - an unquoted `#` at the start of a word starts a comment up to the
//     end of the line.
//
// No $-variables, globs, pipes or redirections: those characters are
// ordinary ones.
//
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace cairn::cli {

// The words of `line`. Errors (kInvalid, message for the user): an
// unterminated quote (with the column it opened at) or a line ending in a
// backslash.
absl::StatusOr<std::vector<std::string>> SplitWords(std::string_view line);

// `word` quoted, when needed, so that SplitWords gives it back unchanged
// (for showing commands and completing names with blanks).
std::string QuoteWord(std::string_view word);

}  // namespace cairn::cli

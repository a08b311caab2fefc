#include "cli/shell_words.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/errors.h"

namespace cairn::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> Split(std::string_view line) {
  auto words = SplitWords(line);
  EXPECT_TRUE(words.ok()) << line << ": " << words.status();
  return words.ok() ? *words : std::vector<std::string>{};
}

TEST(SplitWordsTest, BlanksSeparateWords) {
  EXPECT_THAT(Split("  ls  -l\t/a  "), ElementsAre("ls", "-l", "/a"));
  EXPECT_THAT(Split(""), IsEmpty());
  EXPECT_THAT(Split(" \t "), IsEmpty());
}

TEST(SplitWordsTest, SingleQuotesKeepEverything) {
  EXPECT_THAT(Split(R"(mkdir 'a b' 'x\y' '"')"), ElementsAre("mkdir", "a b", R"(x\y)", "\""));
}

TEST(SplitWordsTest, DoubleQuotesEscapeOnlyBackslashAndQuote) {
  EXPECT_THAT(Split(R"(touch "a b" "q\"q" "b\\s" "n\n")"),
              ElementsAre("touch", "a b", "q\"q", R"(b\s)", R"(n\n)"));
}

TEST(SplitWordsTest, BackslashOutsideQuotes) {
  EXPECT_THAT(Split(R"(a\ b c\'d \\)"), ElementsAre("a b", "c'd", "\\"));
}

TEST(SplitWordsTest, PartsJoinAndEmptyQuotesGiveEmptyWords) {
  EXPECT_THAT(Split(R"(a"b c"'d' "" '')"), ElementsAre("ab cd", "", ""));
}

TEST(SplitWordsTest, CommentsStartAWord) {
  EXPECT_THAT(Split("ls /a # the root"), ElementsAre("ls", "/a"));
  EXPECT_THAT(Split("# only a comment"), IsEmpty());
  EXPECT_THAT(Split("touch a#b '#c'"), ElementsAre("touch", "a#b", "#c"));
}

TEST(SplitWordsTest, UnterminatedQuotesAreExplained) {
  auto s = SplitWords("ls 'abc");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ErrcOf(s.status()), Errc::kInvalid);
  EXPECT_THAT(s.status().message(), HasSubstr("unterminated single quote"));
  EXPECT_THAT(s.status().message(), HasSubstr("column 4"));

  s = SplitWords(R"(ls "a\")");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("unterminated double quote"));

  s = SplitWords("ls a\\");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(s.status().message(), HasSubstr("backslash"));
}

TEST(QuoteWordTest, RoundTrips) {
  for (std::string w : {"plain", "", "a b", "it's", "#x", "q\"q", "b\\s", "tab\there"}) {
    EXPECT_THAT(Split("cmd " + QuoteWord(w)), ElementsAre("cmd", w)) << QuoteWord(w);
  }
  EXPECT_EQ(QuoteWord("plain"), "plain");
}

}  // namespace
}  // namespace cairn::cli

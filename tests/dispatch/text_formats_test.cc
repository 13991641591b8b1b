// Formats that are stored or compared across programs must not drift when their implementation
// changes: the operator token hash (dispatchctl writes it, the server compares it), the chain
// hash hex (exports, audit) and the alert detail timestamps (stored in the alerts table).
#include <gtest/gtest.h>

#include <cctype>
#include <string>

#include "dispatch-server/auth/token_file.h"
#include "dispatch-server/auth/token_hash.h"
#include "dispatch-server/rules/rules.h"
#include "dispatch-server/store/record_hash.h"

namespace cit::dispatch {
namespace {

TEST(TokenHashTest, IsLowerCaseHexSha256OfTheTokenBytes) {
  // FIPS 180-2 test vector.
  EXPECT_EQ(TokenHashHex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(DigestHex(TokenSha256("abc")), TokenHashHex("abc"));
}

TEST(TokenHashTest, ParsesEitherCaseAndRefusesAnythingElse) {
  const std::string hex = TokenHashHex("s3cret");
  ASSERT_TRUE(ParseTokenHashHex(hex).has_value());
  EXPECT_EQ(*ParseTokenHashHex(hex), TokenSha256("s3cret"));
  std::string upper = hex;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(ParseTokenHashHex(upper), TokenSha256("s3cret"));
  EXPECT_FALSE(ParseTokenHashHex(hex.substr(1)).has_value());
  EXPECT_FALSE(ParseTokenHashHex(hex + "0").has_value());
  EXPECT_FALSE(ParseTokenHashHex("g" + hex.substr(1)).has_value());
  EXPECT_FALSE(ParseTokenHashHex("").has_value());
}

TEST(TokenHashTest, TheTokenFileAcceptsTheTokenWhoseHashItStores) {
  const std::string text = "[[token]]\nname = \"ana\"\nrole = \"operator\"\nsha256 = \"" +
                           TokenHashHex("cit_0123") + "\"\n";
  absl::StatusOr<TokenFile> file = TokenFile::Parse(text, "tokens.toml");
  ASSERT_TRUE(file.ok()) << file.status();
  ASSERT_TRUE(file->Authenticate("cit_0123").has_value());
  EXPECT_EQ(file->Authenticate("cit_0123")->name, "ana");
  EXPECT_FALSE(file->Authenticate("cit_0124").has_value());
}

TEST(HexHashTest, IsLowerCaseHexOfEveryByte) {
  EXPECT_EQ(HexHash(std::string("\x00\x0f\xa0\xff", 4)), "000fa0ff");
  EXPECT_EQ(HexHash(""), "");
}

TEST(RuleTimeFormatTest, IsUtcWholeSeconds) {
  EXPECT_EQ(rules_internal::FormatTime(FromUnixSeconds(1768454400)), "2026-01-15T05:20:00Z");
  // Sub-second parts are dropped, not rounded.
  EXPECT_EQ(rules_internal::FormatTime(FromUnixSeconds(1768454400.999)), "2026-01-15T05:20:00Z");
  EXPECT_EQ(rules_internal::FormatTime(FromUnixSeconds(0)), "1970-01-01T00:00:00Z");
}

}  // namespace
}  // namespace cit::dispatch

// Message text (protocol/text.hpp): untrusted bytes become text that is safe
// on a terminal and readable, valid UTF-8 staying itself.

#include "protocol/text.hpp"

#include <doctest/doctest.h>

using namespace conflux;

TEST_CASE("printable_keeps_valid_utf8_as_it_is") {
  CHECK(printable("caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e", 64) ==
        "caf\xc3\xa9 \xe2\x98\x95 \xf0\x9d\x84\x9e");
  CHECK(quote("acme/shop/prod/caf\xc3\xa9") == "\"acme/shop/prod/caf\xc3\xa9\"");
}

TEST_CASE("printable_escapes_invalid_bytes_and_control_characters") {
  CHECK(printable("a\xff"
                  "b",
                  64) == "a\\xffb");
  CHECK(printable("caf\xc3", 64) == "caf\\xc3");               // cut short
  CHECK(printable("\xc0\xaf", 64) == "\\xc0\\xaf");            // overlong '/'
  CHECK(printable(std::string{"a\0b", 3}, 64) == "a\\x00b");   // NUL
  CHECK(printable("\x1b[31mred", 64) == "\\x1b[31mred");       // terminal escape
  CHECK(printable("a\x7f", 64) == "a\\x7f");                   // DEL
  CHECK(printable("a\xc2\x85", 64) == "a\\xc2\\x85");          // C1 (NEL)
  CHECK(printable("a\xe2\x80\xae", 64) == "a\\xe2\\x80\\xae"); // right-to-left override
  CHECK(printable("a\nb\tc", 64) == "a\\x0ab\\x09c");
}

TEST_CASE("printable_cuts_long_input_between_characters") {
  CHECK(printable("\xc3\xa9\xc3\xa9\xc3\xa9", 2) == "\xc3\xa9\xc3\xa9...");
  CHECK(printable("\xc3\xa9\xc3\xa9", 2) == "\xc3\xa9\xc3\xa9");
  // An escaped byte counts as one character.
  CHECK(printable("\xff\xff\xff", 2) == "\\xff\\xff...");
}

TEST_CASE("describe_char_at_names_the_character_a_person_would_see") {
  CHECK(describe_char_at(" ", 0) == "' '");
  CHECK(describe_char_at("x\xc3\xa9", 1) == "'\xc3\xa9' (U+00E9)");
  CHECK(describe_char_at("\xf0\x9d\x84\x9e", 0) == "'\xf0\x9d\x84\x9e' (U+1D11E)");
  CHECK(describe_char_at("\x01", 0) == "byte 0x01");
  CHECK(describe_char_at("\xe9", 0) == "byte 0xe9");
  CHECK(describe_char_at("\xe2\x80\xae", 0) == "U+202E");
}

TEST_CASE("invalid_utf8_at_finds_the_first_bad_byte") {
  CHECK_FALSE(invalid_utf8_at("caf\xc3\xa9").has_value());
  CHECK(invalid_utf8_at("ab\xed\xa0\x80").value() == 2);      // a UTF-16 surrogate
  CHECK(invalid_utf8_at("abc\xf4\x90\x80\x80").value() == 3); // above U+10FFFF
}

// SHA-256: published test vectors (FIPS 180-2 / NIST), incremental = one-shot,
// and the field encoding the cache key relies on.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "core/sha256.h"
#include "kiln/error.h"

namespace kiln {
namespace {

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrs"
                       "mnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, BinaryInputAndDigestBytes) {
  const std::vector<uint8_t> zero_byte{0};
  EXPECT_EQ(sha256_hex(zero_byte), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  const Digest d = sha256("abc");
  EXPECT_EQ(d[0], 0xba);
  EXPECT_EQ(d[31], 0xad);
  EXPECT_EQ(to_hex(d), sha256_hex("abc"));
}

TEST(Sha256, IncrementalMatchesOneShotForEveryChunking) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += static_cast<char>((i * 37 + 11) & 0xff);
  const std::string expected = sha256_hex(text);
  for (size_t chunk : {1u, 3u, 63u, 64u, 65u, 127u, 299u}) {
    Sha256 h;
    for (size_t at = 0; at < text.size(); at += chunk) h.update(std::string_view(text).substr(at, chunk));
    EXPECT_EQ(h.finish_hex(), expected) << "chunk " << chunk;
  }
}

TEST(Sha256, FieldEncodingIsPinned) {
  // field(name, value) = "\0" name "\0" decimal(size) "\0" value
  Sha256 h;
  h.field("graph", "xyz");
  EXPECT_EQ(h.finish_hex(), sha256_hex(std::string("\0graph\0" "3\0xyz", 12)));
}

TEST(Sha256, FieldBoundariesMatter) {
  auto two = [](std::string_view a, std::string_view b) {
    Sha256 h;
    h.field("f", a).field("f", b);
    return h.finish_hex();
  };
  EXPECT_NE(two("ab", "c"), two("a", "bc"));
  EXPECT_NE(two("", "abc"), two("abc", ""));
  EXPECT_EQ(two("ab", "c"), two("ab", "c"));
  // A field name is part of the hash too.
  Sha256 a, b;
  a.field("x", "1");
  b.field("y", "1");
  EXPECT_NE(a.finish_hex(), b.finish_hex());
  // Integer fields hash as their decimal text.
  Sha256 c, d;
  c.field("n", uint64_t{42});
  d.field("n", "42");
  EXPECT_EQ(c.finish_hex(), d.finish_hex());
}

TEST(Sha256, UseAfterFinishIsAnInternalError) {
  Sha256 h;
  h.update("x");
  h.finish();
  try {
    h.update("y");
    FAIL() << "update after finish must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Internal);
  }
  EXPECT_THROW(h.finish(), Error);
}

TEST(Sha256, DebugTranscriptListsFields) {
  std::string transcript;
  Sha256 h;
  h.set_debug(&transcript);
  h.field("precision", "fp16");
  h.field("weights", std::string(1000, '\x01'));
  EXPECT_NE(transcript.find("precision: fp16\n"), std::string::npos) << transcript;
  EXPECT_NE(transcript.find("weights: <1000 bytes, sha256 "), std::string::npos) << transcript;
  // The transcript does not change the hash.
  Sha256 plain;
  plain.field("precision", "fp16").field("weights", std::string(1000, '\x01'));
  EXPECT_EQ(h.finish_hex(), plain.finish_hex());
}

}  // namespace
}  // namespace kiln

// The engine-cache entry format: round trips, and every kind of damage —
// bit flips anywhere in the header and the payload, truncation, appended
// bytes, another key's entry — ends in Error(Corrupt), never a crash or a
// silently wrong entry.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <optional>
#include <random>

#include "cache/cache_entry.h"
#include "cache_test_util.h"

namespace kiln {
namespace {

using cache::check_entry_frame;
using cache::pack_entry;
using cache::unpack_entry;
using test::make_entry;

const std::string k_key = test::key_of("model-a");
const std::string k_other_key = test::key_of("model-b");

void expect_corrupt(const std::vector<uint8_t>& bytes, const std::string& key, const std::string& what) {
  try {
    unpack_entry(bytes, key);
    ADD_FAILURE() << what << ": unpack accepted a damaged entry";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::Corrupt) << what << ": " << e.what();
  }
}

// Header size by the grammar in cache_entry.h, computed here independently.
size_t header_size(const std::string& key) { return 8 + 4 + 4 + key.size() + 8 + 8 + 32; }

TEST(CacheEntry, RoundTripsEveryField) {
  const CacheEntry e = make_entry(7, 5000);
  const std::vector<uint8_t> bytes = pack_entry(e, k_key);
  const CacheEntry back = unpack_entry(bytes, k_key);
  EXPECT_EQ(back, e);
  EXPECT_EQ(back.engine, e.engine);
  EXPECT_EQ(back.input_specs[0].max, (Shape{16, 3, 8, 8}));
  EXPECT_EQ(back.weights[0].dtype, DataType::Float16);
  EXPECT_TRUE(back.needs_output_allocator);
}

TEST(CacheEntry, RoundTripsEmptyAndScalarCases) {
  CacheEntry empty;
  EXPECT_EQ(unpack_entry(pack_entry(empty, k_key), k_key), empty);
  CacheEntry scalar;
  scalar.input_specs = {{"x", DataType::Int64, {}, {}, {}}};  // rank-0 shapes
  scalar.weights = {{"", DataType::Undefined, {}}};
  scalar.engine = {0};
  EXPECT_EQ(unpack_entry(pack_entry(scalar, k_key), k_key), scalar);
}

TEST(CacheEntry, LayoutMatchesTheGrammar) {
  const CacheEntry e = make_entry(2, 100);
  const std::vector<uint8_t> bytes = pack_entry(e, k_key);
  ASSERT_GT(bytes.size(), header_size(k_key));
  EXPECT_EQ(std::memcmp(bytes.data(), "KILNCE\r\n", 8), 0);
  uint32_t version, key_size;
  uint64_t meta_size, engine_size;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&key_size, bytes.data() + 12, 4);
  EXPECT_EQ(version, cache::k_entry_format_version);
  ASSERT_EQ(key_size, k_key.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(bytes.data() + 16), key_size), k_key);
  std::memcpy(&meta_size, bytes.data() + 16 + key_size, 8);
  std::memcpy(&engine_size, bytes.data() + 24 + key_size, 8);
  EXPECT_EQ(engine_size, 100u);
  EXPECT_EQ(bytes.size(), header_size(k_key) + meta_size + engine_size);
  // The engine is the tail, verbatim.
  EXPECT_TRUE(std::equal(e.engine.begin(), e.engine.end(), bytes.end() - 100));
  // The checksum: SHA-256 of the header before it, then the payload.
  const size_t checksum_at = header_size(k_key) - 32;
  Sha256 h;
  h.update(bytes.data(), checksum_at);
  h.update(bytes.data() + header_size(k_key), bytes.size() - header_size(k_key));
  const Digest d = h.finish();
  EXPECT_EQ(std::memcmp(d.data(), bytes.data() + checksum_at, 32), 0);
}

TEST(CacheEntry, EveryHeaderBitFlipIsDetected) {
  const std::vector<uint8_t> good = pack_entry(make_entry(3, 300), k_key);
  const size_t n = header_size(k_key);
  for (size_t byte = 0; byte < n; ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = good;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      expect_corrupt(bad, k_key, "header byte " + std::to_string(byte) + " bit " + std::to_string(bit));
    }
  }
}

TEST(CacheEntry, PayloadBitFlipsAreDetected) {
  const std::vector<uint8_t> good = pack_entry(make_entry(4, 20000), k_key);
  const size_t n = header_size(k_key);
  // Every byte of the metadata (it follows the header), one bit each...
  const size_t meta_end = good.size() - 20000;
  for (size_t byte = n; byte < meta_end; ++byte) {
    std::vector<uint8_t> bad = good;
    bad[byte] ^= static_cast<uint8_t>(1u << (byte % 8));
    expect_corrupt(bad, k_key, "meta byte " + std::to_string(byte));
  }
  // ...and 500 random positions of the engine, plus its first and last byte.
  std::mt19937 rng(12345);
  std::vector<size_t> positions = {meta_end, good.size() - 1};
  for (int i = 0; i < 500; ++i) positions.push_back(meta_end + rng() % 20000);
  for (size_t byte : positions) {
    std::vector<uint8_t> bad = good;
    bad[byte] ^= static_cast<uint8_t>(1u << (rng() % 8));
    expect_corrupt(bad, k_key, "engine byte " + std::to_string(byte));
  }
}

TEST(CacheEntry, TruncationIsDetected) {
  const std::vector<uint8_t> good = pack_entry(make_entry(5, 1000), k_key);
  expect_corrupt({}, k_key, "empty");
  for (size_t len : {size_t{1}, size_t{7}, size_t{8}, size_t{15}, header_size(k_key) - 1, header_size(k_key),
                     good.size() / 2, good.size() - 1}) {
    expect_corrupt(std::vector<uint8_t>(good.begin(), good.begin() + len), k_key, "truncated to " + std::to_string(len));
    EXPECT_THROW(check_entry_frame(std::vector<uint8_t>(good.begin(), good.begin() + len), k_key), Error);
  }
}

TEST(CacheEntry, AppendedGarbageIsDetected) {
  const std::vector<uint8_t> good = pack_entry(make_entry(6, 1000), k_key);
  for (size_t extra : {1, 31, 4096}) {
    std::vector<uint8_t> bad = good;
    bad.insert(bad.end(), extra, 0xAB);
    expect_corrupt(bad, k_key, "appended " + std::to_string(extra));
    EXPECT_THROW(check_entry_frame(bad, k_key), Error);
  }
}

TEST(CacheEntry, AnotherKeysEntryIsDetected) {
  const std::vector<uint8_t> other = pack_entry(make_entry(8, 1000), k_other_key);
  EXPECT_NO_THROW(unpack_entry(other, k_other_key));
  expect_corrupt(other, k_key, "another key's entry");
  EXPECT_THROW(check_entry_frame(other, k_key), Error);
  // A key that is a prefix of the real one is another key too.
  expect_corrupt(other, k_other_key.substr(0, 63), "prefix key");
}

TEST(CacheEntry, GarbageIsDetected) {
  std::mt19937 rng(99);
  for (size_t size : {1, 16, 200, 5000}) {
    std::vector<uint8_t> junk(size);
    for (auto& b : junk) b = static_cast<uint8_t>(rng());
    expect_corrupt(junk, k_key, "random " + std::to_string(size) + " bytes");
  }
  // The right magic and version with nonsense after it.
  std::vector<uint8_t> fake = {'K', 'I', 'L', 'N', 'C', 'E', '\r', '\n', 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
  expect_corrupt(fake, k_key, "huge key size");
}

// Metadata that is structurally hostile but carries a valid checksum (as a
// crafted file would) is still rejected cleanly: counts and ranks are checked
// against the bytes present.
TEST(CacheEntry, HostileMetadataWithValidChecksumIsRejected) {
  const CacheEntry e = make_entry(10, 64);
  const std::vector<uint8_t> good = pack_entry(e, k_key);
  const size_t n = header_size(k_key);
  auto resign = [&](std::vector<uint8_t> bytes) {
    Sha256 h;
    h.update(bytes.data(), n - 32);
    h.update(bytes.data() + n, bytes.size() - n);
    const Digest d = h.finish();
    std::memcpy(bytes.data() + n - 32, d.data(), 32);
    return bytes;
  };
  EXPECT_EQ(unpack_entry(resign(good), k_key), e);  // resigning alone changes nothing
  // The first meta field is the count of input names (u64): make it enormous.
  std::vector<uint8_t> bad = good;
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(bad.data() + n, &huge, 8);
  expect_corrupt(resign(bad), k_key, "huge name count");
  // The first name's length (u32 after the count): longer than the metadata.
  bad = good;
  const uint32_t long_name = 1u << 20;
  std::memcpy(bad.data() + n + 8, &long_name, 4);
  expect_corrupt(resign(bad), k_key, "long name");
}

TEST(CacheEntry, PackRejectsUnusableKeys) {
  EXPECT_THROW(pack_entry(make_entry(1, 1), ""), Error);
  EXPECT_THROW(pack_entry(make_entry(1, 1), std::string(300, 'a')), Error);
}

TEST(CacheEntry, KeySyntax) {
  EXPECT_TRUE(cache::is_valid_cache_key(k_key));
  EXPECT_TRUE(cache::is_valid_cache_key("abc_DEF-123"));
  for (const char* bad : {"", "..", "a/b", "a b", "a.b", "/etc", "a\n"}) EXPECT_FALSE(cache::is_valid_cache_key(bad)) << bad;
  EXPECT_FALSE(cache::is_valid_cache_key(std::string(129, 'a')));
}

// A minimal in-memory backend, as a user would write one.
class MemoryCache : public EngineCache {
 public:
  void save(const std::string& hash, const std::vector<uint8_t>& blob) override { m_map[hash] = blob; }
  std::optional<std::vector<uint8_t>> load(const std::string& hash) override {
    if (m_throw) throw std::runtime_error("backend down");
    auto it = m_map.find(hash);
    if (it == m_map.end()) return std::nullopt;
    return it->second;
  }
  void discard(const std::string& hash) override {
    ++discards;
    m_map.erase(hash);
  }
  std::map<std::string, std::vector<uint8_t>> m_map;
  bool m_throw = false;
  int discards = 0;
};

TEST(CacheEntry, LoadEntryTurnsCorruptionIntoADiscardedMiss) {
  test::LogCapture log;
  MemoryCache mem;
  const CacheEntry e = make_entry(11, 500);
  cache::save_entry(mem, k_key, e);
  ASSERT_EQ(cache::load_entry(mem, k_key), e);
  mem.m_map[k_key][300] ^= 1;
  EXPECT_EQ(cache::load_entry(mem, k_key), std::nullopt);
  EXPECT_EQ(mem.discards, 1);
  EXPECT_EQ(mem.m_map.count(k_key), 0u);
  EXPECT_TRUE(log.contains("checksum mismatch")) << log.all();
  // Another key's entry stored under this key: a miss.
  mem.m_map[k_key] = cache::pack_entry(e, k_other_key);
  EXPECT_EQ(cache::load_entry(mem, k_key), std::nullopt);
  // A throwing backend is a miss too.
  mem.m_throw = true;
  EXPECT_EQ(cache::load_entry(mem, k_key), std::nullopt);
  EXPECT_TRUE(log.contains("backend down")) << log.all();
}

}  // namespace
}  // namespace kiln

// SHA-256 over OpenSSL's EVP interface: engine checksums and cache keys.
//
// Sha256 is incremental: update()/field() as often as needed, then finish()
// once (a later update/finish throws Internal). For keys made of several fields
// use field(): it writes "\0<name>\0<decimal size>\0" then the bytes, so field
// boundaries are unambiguous — ("ab","c") and ("a","bc") differ (as ccache's
// hash_delimiter, plus the size). set_debug() keeps a readable transcript of
// the fields hashed, so a cache miss can be explained (`--debug-hash`).
//
// Threading: one Sha256 per thread; the free functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace kiln {

using Digest = std::array<uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  Sha256& update(const void* data, size_t size);
  Sha256& update(std::span<const uint8_t> bytes) { return update(bytes.data(), bytes.size()); }
  Sha256& update(std::string_view s) { return update(s.data(), s.size()); }
  Sha256& update_u64(uint64_t v);  // 8 little-endian bytes

  // A named field: "\0<name>\0<size>\0" + the bytes.
  Sha256& field(std::string_view name, const void* data, size_t size);
  Sha256& field(std::string_view name, std::string_view value) { return field(name, value.data(), value.size()); }
  Sha256& field(std::string_view name, std::span<const uint8_t> value) {
    return field(name, value.data(), value.size());
  }
  Sha256& field(std::string_view name, uint64_t value);  // as its decimal text

  // When non-null, each field() appends "name: value\n" to *transcript (long or
  // binary values summarized by size and digest). Not owned.
  void set_debug(std::string* transcript) { m_debug = transcript; }

  Digest finish();
  std::string finish_hex();

 private:
  void* m_ctx;  // EVP_MD_CTX*, opaque so OpenSSL headers stay private
  bool m_finished = false;
  std::string* m_debug = nullptr;
};

Digest sha256(const void* data, size_t size);
inline Digest sha256(std::span<const uint8_t> bytes) { return sha256(bytes.data(), bytes.size()); }
inline Digest sha256(std::string_view text) { return sha256(text.data(), text.size()); }

std::string to_hex(std::span<const uint8_t> bytes);  // lowercase
inline std::string to_hex(const Digest& d) { return to_hex(std::span<const uint8_t>(d)); }
inline std::string sha256_hex(std::span<const uint8_t> bytes) { return to_hex(sha256(bytes)); }
inline std::string sha256_hex(std::string_view text) { return to_hex(sha256(text)); }

}  // namespace kiln

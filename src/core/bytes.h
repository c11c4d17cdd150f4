// Little-endian binary writer/reader for kiln's own formats (engine files,
// cache entries). The reader checks every length against what is left, so a
// truncated or hostile file ends in kiln::Error(Corrupt), never a wild read.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kiln/error.h"

namespace kiln {

class ByteWriter {
 public:
  template <typename T>
  void put(T v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    m_bytes.insert(m_bytes.end(), p, p + sizeof(T));  // x86-64 and aarch64 are little-endian
  }
  void put_bytes(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    m_bytes.insert(m_bytes.end(), p, p + n);
  }
  void put_str(std::string_view s) {
    put<uint32_t>(static_cast<uint32_t>(s.size()));
    put_bytes(s.data(), s.size());
  }
  std::vector<uint8_t>& bytes() { return m_bytes; }
  size_t size() const { return m_bytes.size(); }

 private:
  std::vector<uint8_t> m_bytes;
};

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size, std::string what)
      : m_data(data), m_size(size), m_what(std::move(what)) {}

  template <typename T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, take(sizeof(T)), sizeof(T));
    return v;
  }
  const uint8_t* take(size_t n) {
    if (n > m_size - m_pos) fail("truncated (needs " + std::to_string(n) + " bytes at offset " + std::to_string(m_pos) + ")");
    const uint8_t* p = m_data + m_pos;
    m_pos += n;
    return p;
  }
  std::string get_str(size_t max_len = 1u << 20) {
    const uint32_t n = get<uint32_t>();
    if (n > max_len) fail("string length " + std::to_string(n) + " is implausible");
    const uint8_t* p = take(n);
    return std::string(reinterpret_cast<const char*>(p), n);
  }
  // A count of items each at least `min_item_bytes` long: bounded by what is left.
  uint64_t get_count(size_t min_item_bytes) {
    const uint64_t n = get<uint64_t>();
    if (min_item_bytes && n > remaining() / min_item_bytes) fail("count " + std::to_string(n) + " exceeds the data");
    return n;
  }
  size_t remaining() const { return m_size - m_pos; }
  size_t pos() const { return m_pos; }
  [[noreturn]] void fail(const std::string& why) const { throw Error(ErrorCode::Corrupt, m_what + ": " + why); }

 private:
  const uint8_t* m_data;
  size_t m_size;
  size_t m_pos = 0;
  std::string m_what;
};

}  // namespace kiln

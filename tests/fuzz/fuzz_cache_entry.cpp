// libFuzzer target: engine-cache entries (src/cache/cache_entry.h) as a
// cache backend hands them to kiln: frame check, then (with the checksum
// recomputed, so mutations get past it) unpack_entry and the engine inside,
// read as compile() reads it (no engine checksum: the entry's covers it).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "cache/cache_entry.h"
#include "core/sha256.h"
#include "engine/format.h"
#include "kiln/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  // The key the entry claims (header: magic 8, version 4, key_size 4, key).
  std::string key;
  if (size >= 16) {
    uint32_t key_size = 0;
    std::memcpy(&key_size, data + 12, 4);
    if (key_size <= size - 16) key.assign(reinterpret_cast<const char*>(data + 16), key_size);
  }
  try {
    const kiln::cache::EntryFrame f = kiln::cache::check_entry_frame(bytes, key);
    // Recompute the checksum: SHA-256 of the header before it, then the payload.
    const size_t checksum_at = f.header_size - 32;
    kiln::Sha256 h;
    h.update(bytes.data(), checksum_at);
    h.update(bytes.data() + f.header_size, bytes.size() - f.header_size);
    const auto digest = h.finish();
    std::memcpy(bytes.data() + checksum_at, digest.data(), digest.size());
    const kiln::CacheEntry e = kiln::cache::unpack_entry(bytes, key);
    kiln::engine::read_engine(e.engine.data(), e.engine.size(), "fuzz entry", /*verify_checksum=*/false);
  } catch (const kiln::Error&) {
  }
  return 0;
}

// The engine-cache entry: what kiln stores in any EngineCache backend.
//
// Format (all integers little-endian):
//
//   entry       := header payload
//   header      := magic         8 bytes  "KILNCE\r\n"
//                  version       u32      k_entry_format_version
//                  key_size      u32      1..k_max_key_size
//                  key           key_size bytes: the cache key the entry was saved
//                                under, so another key's blob in its place is caught
//                  meta_size     u64
//                  engine_size   u64
//                  checksum      32 bytes: SHA-256 of (the header bytes before the
//                                checksum) ‖ payload
//   payload     := meta engine
//   meta        := names(input_names) names(output_names)
//                  u64 count, input_spec × count
//                  u64 count, weight × count
//                  flags         u32: bit 0 needs_output_allocator; others must be 0
//   engine      := engine_size bytes, opaque (the serialized engine)
//   names       := u64 count, str × count
//   str         := u32 size, size bytes
//   input_spec  := str name, i32 dtype, shape min, shape opt, shape max
//   weight      := str name, i32 dtype, shape
//   shape       := u64 rank (≤ 64), i64 × rank
//
// The entry's size is exactly header + meta_size + engine_size: trailing bytes
// are corruption too. Every mismatch — magic, version, key, sizes, checksum,
// meta structure — is kiln::Error(Corrupt); callers treat Corrupt as a miss.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/engine_cache.h"
#include "kiln/error.h"

namespace kiln::cache {

inline constexpr uint8_t k_entry_magic[8] = {'K', 'I', 'L', 'N', 'C', 'E', '\r', '\n'};
inline constexpr uint32_t k_entry_format_version = 1;
inline constexpr uint32_t k_max_key_size = 256;

std::vector<uint8_t> pack_entry(const CacheEntry& entry, std::string_view hash);

// The header fields, after a structural check that costs no hashing: magic,
// version, key == expected_hash, sizes add up to bytes.size(). Throws Corrupt.
// Backends use it to turn garbage into a miss cheaply; it does not replace
// unpack_entry's checksum.
struct EntryFrame {
  size_t header_size = 0;
  uint64_t meta_size = 0;
  uint64_t engine_size = 0;
};
EntryFrame check_entry_frame(std::span<const uint8_t> bytes, std::string_view expected_hash);

// The key an entry's header says it was saved under (magic, version and key
// size checked, nothing else). Throws Corrupt.
std::string entry_key(std::span<const uint8_t> bytes);

// Full verification (frame + checksum + meta structure) and decoding. Throws Corrupt.
CacheEntry unpack_entry(std::span<const uint8_t> bytes, std::string_view expected_hash);

// For the builder: cache.load + unpack_entry. A corrupt value is logged,
// discarded (cache.discard) and reported as a miss; an exception from a custom
// backend is logged and is a miss too.
std::optional<CacheEntry> load_entry(EngineCache& cache, const std::string& hash);
// pack_entry + cache.save; an exception from a custom backend is logged, not thrown.
void save_entry(EngineCache& cache, const std::string& hash, const CacheEntry& entry);

// Key syntax the disk cache accepts: 1..128 characters of [0-9A-Za-z_-].
bool is_valid_cache_key(std::string_view hash);

}  // namespace kiln::cache

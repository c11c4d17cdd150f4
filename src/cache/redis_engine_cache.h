// Internals of RedisEngineCache (declared in kiln/engine_cache.h).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kiln/engine_cache.h"

namespace kiln::cache {

// "kiln:engine:{hash}"
inline std::string redis_key(std::string_view hash) { return std::string(RedisEngineCache::k_key_prefix) + std::string(hash); }

// Each call gets `timeout` plus 1 s per this many bytes moved so far (sent or
// received), so that a large value on a slow but working link gets through,
// while a server that stops reading or answering ends the call within about
// `timeout`. 32 MiB/s (~270 Mbit/s) is below any link Redis would be used on
// for engine blobs, and high enough that the few MB a hung server's socket
// buffers take add little (4 MiB: +125 ms).
inline constexpr uint64_t k_redis_min_bytes_per_second = uint64_t{32} << 20;

}  // namespace kiln::cache

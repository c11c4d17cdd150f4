// Internals of RedisEngineCache (declared in kiln/engine_cache.h).
#pragma once

#include <csignal>
#include <string>
#include <string_view>

#include "kiln/engine_cache.h"

namespace kiln::cache {

// "kiln:engine:{hash}"
inline std::string redis_key(std::string_view hash) { return std::string(RedisEngineCache::k_key_prefix) + std::string(hash); }

// hiredis writes with write(): a peer that reset the connection would raise
// SIGPIPE and kill the process. This blocks SIGPIPE in the calling thread for
// its lifetime and swallows one raised meanwhile (unless one was already pending).
class SigpipeGuard {
 public:
  SigpipeGuard();
  ~SigpipeGuard();
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t m_old_mask;
  bool m_was_pending;
};

}  // namespace kiln::cache

#include "cache/redis_engine_cache.h"

#include <hiredis/hiredis.h>
#include <pthread.h>

#include <memory>
#include <mutex>
#include <vector>

#include "cache/cache_entry.h"
#include "core/log.h"
#include "kiln/engine_cache.h"
#include "kiln/error.h"

namespace kiln {

namespace cache {

SigpipeGuard::SigpipeGuard() {
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  m_was_pending = sigismember(&pending, SIGPIPE) == 1;
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &m_old_mask);
}

SigpipeGuard::~SigpipeGuard() {
  if (!m_was_pending) {
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) == 1) {
      sigset_t pipe_only;
      sigemptyset(&pipe_only);
      sigaddset(&pipe_only, SIGPIPE);
      const timespec zero{0, 0};
      sigtimedwait(&pipe_only, nullptr, &zero);
    }
  }
  pthread_sigmask(SIG_SETMASK, &m_old_mask, nullptr);
}

}  // namespace cache

namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

struct RedisEngineCache::Impl {
  std::string host;
  int port;
  std::chrono::milliseconds timeout;
  std::mutex mutex;  // guards ctx and healthy; one command at a time on the connection
  redisContext* ctx = nullptr;
  bool healthy = true;  // warn once per outage, not on every call
  std::atomic<uint64_t> hits{0}, misses{0}, errors{0}, saves{0};

  std::string where() const { return "redis " + host + ":" + std::to_string(port); }

  void drop() {
    if (ctx) redisFree(ctx);
    ctx = nullptr;
  }

  void fail(const std::string& what) {
    ++errors;
    if (healthy) log_warning("engine cache: " + where() + ": " + what + " (treated as a miss)");
    else log_debug("engine cache: " + where() + ": " + what);
    healthy = false;
  }

  bool connect() {
    if (ctx) return true;
    ctx = redisConnectWithTimeout(host.c_str(), port, to_timeval(timeout));
    if (!ctx) {
      fail("cannot allocate a connection");
      return false;
    }
    if (ctx->err || redisSetTimeout(ctx, to_timeval(timeout)) != REDIS_OK) {
      fail(std::string("cannot connect: ") + ctx->errstr);
      drop();
      return false;
    }
    return true;
  }

  // Runs one command; nullptr (connection dropped, error counted) on a
  // transport failure. Error replies are returned for the caller to judge.
  Reply run(const std::vector<std::string_view>& args) {
    if (!connect()) return nullptr;
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (auto a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    cache::SigpipeGuard guard;
    Reply reply(static_cast<redisReply*>(redisCommandArgv(ctx, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!reply) {
      fail(std::string(args[0]) + " failed: " + (ctx->errstr[0] ? ctx->errstr : "no reply"));
      drop();  // the stream state is unknown: reconnect on the next call
      return nullptr;
    }
    return reply;
  }

  void ok() {
    if (!healthy) log_info("engine cache: " + where() + " reachable again");
    healthy = true;
  }
};

RedisEngineCache::RedisEngineCache(std::string host, int port, std::chrono::milliseconds timeout)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->host = std::move(host);
  m_impl->port = port;
  m_impl->timeout = timeout;
}

RedisEngineCache::~RedisEngineCache() { m_impl->drop(); }

void RedisEngineCache::save(const std::string& hash, const std::vector<uint8_t>& blob) {
  try {
    cache::check_entry_frame(blob, hash);
  } catch (const Error& e) {
    log_warning("engine cache: not saving a malformed entry: " + e.message());
    ++m_impl->errors;
    return;
  }
  const std::string key = cache::redis_key(hash);
  std::lock_guard lock(m_impl->mutex);
  Reply r = m_impl->run({"SET", key, std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size())});
  if (!r) return;
  if (r->type != REDIS_REPLY_STATUS) {
    m_impl->fail("SET " + key + " answered " + (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "an unexpected reply"));
    return;
  }
  ++m_impl->saves;
  m_impl->ok();
}

std::optional<std::vector<uint8_t>> RedisEngineCache::load(const std::string& hash) {
  const std::string key = cache::redis_key(hash);
  std::lock_guard lock(m_impl->mutex);
  Reply r = m_impl->run({"GET", key});
  if (!r) {
    ++m_impl->misses;
    return std::nullopt;
  }
  if (r->type == REDIS_REPLY_NIL) {
    m_impl->ok();
    ++m_impl->misses;
    return std::nullopt;
  }
  if (r->type != REDIS_REPLY_STRING) {
    m_impl->fail("GET " + key + " answered " + (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "a non-string reply"));
    ++m_impl->misses;
    return std::nullopt;
  }
  std::vector<uint8_t> bytes(reinterpret_cast<const uint8_t*>(r->str), reinterpret_cast<const uint8_t*>(r->str) + r->len);
  r.reset();
  try {
    cache::check_entry_frame(bytes, hash);
  } catch (const Error& e) {
    // A server is reachable, but the value is not ours: count it, and always warn.
    ++m_impl->errors;
    ++m_impl->misses;
    log_warning("engine cache: " + m_impl->where() + " key " + key + ": " + e.message() + "; treating as a miss");
    return std::nullopt;
  }
  m_impl->ok();
  ++m_impl->hits;
  return bytes;
}

void RedisEngineCache::discard(const std::string& hash) {
  const std::string key = cache::redis_key(hash);
  std::lock_guard lock(m_impl->mutex);
  ++m_impl->errors;
  m_impl->run({"DEL", key});
}

uint64_t RedisEngineCache::errors() const { return m_impl->errors; }

EngineCacheStats RedisEngineCache::stats() const {
  EngineCacheStats s;
  s.hits = m_impl->hits;
  s.misses = m_impl->misses;
  s.errors = m_impl->errors;
  s.saves = m_impl->saves;
  return s;
}

}  // namespace kiln

#include "cache/redis_engine_cache.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstdio>
#include <memory>
#include <mutex>
#include <vector>

#include "cache/cache_entry.h"
#include "core/atomic_file.h"
#include "core/log.h"
#include "kiln/engine_cache.h"
#include "kiln/error.h"

namespace kiln {

namespace {

using Clock = std::chrono::steady_clock;

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

timeval to_timeval(Clock::duration d) {
  const auto us = std::max<int64_t>(std::chrono::duration_cast<std::chrono::microseconds>(d).count(), 1000);
  timeval tv;
  tv.tv_sec = static_cast<time_t>(us / 1'000'000);
  tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
  return tv;
}

std::string seconds_str(std::chrono::milliseconds ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(ms.count()) / 1000);
  return buf;
}

// Waits until `fd` is ready for `events` or `deadline` passes (false).
bool wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left, 60'000)));
    if (n > 0) return true;  // ready, or an error the next send/recv reports
    if (n < 0 && errno != EINTR) return false;
  }
}

}  // namespace

// The connection is made by hiredis; commands are written and replies read
// here, with poll() against one deadline per call (hiredis' blocking calls
// would give each partial write and read a timeout of its own).
struct RedisEngineCache::Impl {
  std::string host;
  int port;
  std::chrono::milliseconds timeout, retry_after;
  std::mutex mutex;  // guards everything below but the counters; one command at a time
  redisContext* ctx = nullptr;
  bool breaker_open = false;    // after a transport failure: no calls until retry_at
  Clock::time_point retry_at{};
  bool reply_warned = false;    // error replies: warn once until a call succeeds
  std::atomic<uint64_t> hits{0}, misses{0}, errors{0}, saves{0}, skipped{0};

  std::string where() const { return "redis " + host + ":" + std::to_string(port); }

  void drop() {
    if (ctx) redisFree(ctx);
    ctx = nullptr;
  }

  // Whether a call may go to the server now: the breaker is closed, or its
  // pause is over (this call probes). Counts a skipped call otherwise.
  bool may_call() {
    if (!breaker_open || Clock::now() >= retry_at) return true;
    ++skipped;
    return false;
  }

  // Connecting, sending or reading failed (down, refused, timed out, reset,
  // garbled): the stream state is unknown, so the connection goes, and the
  // breaker opens — one warning per outage, debug lines for failed probes.
  void transport_failure(const std::string& what) {
    ++errors;
    drop();
    retry_at = Clock::now() + retry_after;
    if (!breaker_open)
      log_warning("engine cache: " + where() + ": " + what + "; treated as a miss, and not calling it for " +
                  seconds_str(retry_after));
    else
      log_debug("engine cache: " + where() + ": " + what + "; still unreachable, next try in " +
                seconds_str(retry_after));
    breaker_open = true;
  }

  // The server answered, but not what was asked for (an error reply such as
  // WRONGTYPE): the connection is fine, the breaker stays closed.
  void reply_failure(const std::string& what) {
    ++errors;
    if (!reply_warned) log_warning("engine cache: " + where() + ": " + what + " (treated as a miss)");
    else log_debug("engine cache: " + where() + ": " + what);
    reply_warned = true;
  }

  void ok() { reply_warned = false; }

  Clock::time_point deadline(Clock::time_point start, uint64_t moved) const {
    const double seconds = static_cast<double>(moved) / static_cast<double>(cache::k_redis_min_bytes_per_second);
    return start + timeout + std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
  }

  bool connect(Clock::time_point start) {
    if (ctx) return true;
    ctx = redisConnectWithTimeout(host.c_str(), port, to_timeval(deadline(start, 0) - Clock::now()));
    if (!ctx) {
      transport_failure("cannot allocate a connection");
      return false;
    }
    if (ctx->err) {
      transport_failure(std::string("cannot connect: ") + ctx->errstr);
      return false;
    }
    return true;
  }

  // One command and its reply, bounded by one deadline (connecting included).
  // nullptr on a transport failure (counted, breaker opened); error replies
  // are returned for the caller to judge.
  Reply run(const std::vector<std::string_view>& args) {
    const auto start = Clock::now();
    for (int attempt = 0;; ++attempt) {
      const bool reused = ctx != nullptr;
      if (!connect(start)) return nullptr;
      std::string failure;
      bool closed = false;
      if (Reply r = exchange(args, start, failure, closed)) {
        // A warning like the line that opened it, so the pair shows together.
        if (breaker_open) log_warning("engine cache: " + where() + " answers again; calls resume");
        breaker_open = false;
        return r;
      }
      // A connection kept from an earlier call may have been closed while idle
      // (server timeout, proxy): once, a fresh one within the same deadline.
      // GET, SET and DEL are safe to send twice.
      if (reused && closed && attempt == 0) {
        drop();
        continue;
      }
      transport_failure(failure);
      return nullptr;
    }
  }

  // Sends the command on ctx and reads its reply by `start`'s deadline.
  // nullptr and `failure` otherwise; `closed` when the peer closed or reset
  // the connection before any byte of a reply.
  Reply exchange(const std::vector<std::string_view>& args, Clock::time_point start, std::string& failure,
                 bool& closed) {
    const std::string cmd(args[0]);
    const auto elapsed_ms = [&] {
      return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
    };
    const auto is_reset = [](int err) { return err == EPIPE || err == ECONNRESET; };
    // RESP: *<argc>\r\n then $<len>\r\n<bytes>\r\n per argument, sent without
    // copying the arguments (a SET's value may be hundreds of MB).
    std::vector<std::string> heads;
    heads.reserve(args.size() + 1);
    heads.push_back("*" + std::to_string(args.size()) + "\r\n");
    for (auto a : args) heads.push_back("$" + std::to_string(a.size()) + "\r\n");
    static const char crlf[] = "\r\n";
    std::vector<iovec> iov;
    iov.push_back({heads[0].data(), heads[0].size()});
    uint64_t total = heads[0].size();
    for (size_t i = 0; i < args.size(); ++i) {
      iov.push_back({heads[i + 1].data(), heads[i + 1].size()});
      iov.push_back({const_cast<char*>(args[i].data()), args[i].size()});
      iov.push_back({const_cast<char*>(crlf), 2});
      total += heads[i + 1].size() + args[i].size() + 2;
    }
    uint64_t sent = 0;
    size_t first = 0;
    while (sent < total) {
      if (!wait_for(ctx->fd, POLLOUT, deadline(start, sent))) {
        failure = cmd + " timed out after " + elapsed_ms() + " ms, " + std::to_string(sent) + " of " +
                  std::to_string(total) + " bytes sent";
        return nullptr;
      }
      msghdr msg{};
      msg.msg_iov = iov.data() + first;
      msg.msg_iovlen = std::min<size_t>(iov.size() - first, 64);
      // MSG_NOSIGNAL: a peer that reset the connection must not raise SIGPIPE.
      const ssize_t n = ::sendmsg(ctx->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) continue;
        failure = cmd + " failed: " + errno_string(err);
        closed = is_reset(err);
        return nullptr;
      }
      sent += static_cast<uint64_t>(n);
      for (size_t left = static_cast<size_t>(n); left > 0;) {  // drop what went out
        const size_t take = std::min(left, iov[first].iov_len);
        iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + take;
        iov[first].iov_len -= take;
        left -= take;
        if (iov[first].iov_len == 0) ++first;
      }
    }
    std::vector<char> buf(1 << 20);
    uint64_t received = 0;
    for (;;) {
      void* reply = nullptr;
      if (redisReaderGetReply(ctx->reader, &reply) != REDIS_OK) {
        failure = cmd + " failed: protocol error (" + std::string(ctx->reader->errstr) + ")";
        return nullptr;
      }
      if (reply) return Reply(static_cast<redisReply*>(reply));
      if (!wait_for(ctx->fd, POLLIN, deadline(start, sent + received))) {
        failure = cmd + " timed out after " + elapsed_ms() + " ms, " + (received ? "reply incomplete" : "no reply");
        return nullptr;
      }
      const ssize_t n = ::recv(ctx->fd, buf.data(), buf.size(), MSG_DONTWAIT);
      const int err = errno;
      if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR)) continue;
      if (n <= 0) {
        failure = cmd + " failed: " + (n == 0 ? std::string("connection closed by the server") : errno_string(err));
        closed = received == 0 && (n == 0 || is_reset(err));
        return nullptr;
      }
      received += static_cast<uint64_t>(n);
      if (redisReaderFeed(ctx->reader, buf.data(), static_cast<size_t>(n)) != REDIS_OK) {
        failure = cmd + " failed: cannot buffer the reply";
        return nullptr;
      }
    }
  }
};

RedisEngineCache::RedisEngineCache(std::string host, int port, std::chrono::milliseconds timeout,
                                   std::chrono::milliseconds retry_after)
    : m_impl(std::make_unique<Impl>()) {
  m_impl->host = std::move(host);
  m_impl->port = port;
  m_impl->timeout = timeout;
  m_impl->retry_after = retry_after;
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
  if (!m_impl->may_call()) return;
  Reply r = m_impl->run({"SET", key, std::string_view(reinterpret_cast<const char*>(blob.data()), blob.size())});
  if (!r) return;
  if (r->type != REDIS_REPLY_STATUS) {
    m_impl->reply_failure("SET " + key + " answered " +
                          (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "an unexpected reply"));
    return;
  }
  ++m_impl->saves;
  m_impl->ok();
}

std::optional<std::vector<uint8_t>> RedisEngineCache::load(const std::string& hash) {
  const std::string key = cache::redis_key(hash);
  std::lock_guard lock(m_impl->mutex);
  if (!m_impl->may_call()) {
    ++m_impl->misses;
    return std::nullopt;
  }
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
    m_impl->reply_failure("GET " + key + " answered " +
                          (r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len) : "a non-string reply"));
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
  if (m_impl->may_call()) m_impl->run({"DEL", key});
}

uint64_t RedisEngineCache::errors() const { return m_impl->errors; }

EngineCacheStats RedisEngineCache::stats() const {
  EngineCacheStats s;
  s.hits = m_impl->hits;
  s.misses = m_impl->misses;
  s.errors = m_impl->errors;
  s.saves = m_impl->saves;
  s.skipped = m_impl->skipped;
  return s;
}

}  // namespace kiln

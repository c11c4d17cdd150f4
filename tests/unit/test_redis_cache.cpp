// RedisEngineCache against a real redis-server started per test on a free
// port (skipped when /usr/bin/redis-server is missing). Every failure — server
// killed, port closed, server stopped (SIGSTOP) past the timeout, garbage or
// wrong-typed values — must be a miss or a no-op plus a counted error, within
// about the configured timeout, and never an exception or a SIGPIPE death.
// After a transport failure the circuit breaker skips calls for retry_after
// (deadlines and the breaker against fake servers: test_redis_deadline.cpp).
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <thread>

#include "cache/redis_engine_cache.h"
#include "cache_test_util.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using test::key_of;

constexpr const char* k_redis_server = "/usr/bin/redis-server";

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(s);
    return -1;
  }
  ::close(s);
  return ntohs(addr.sin_port);
}

// A redis-server child process on 127.0.0.1:port, without persistence.
class RedisServer {
 public:
  ~RedisServer() { kill(); }

  bool start(int port) {
    m_port = port;
    fflush(nullptr);
    m_pid = ::fork();
    if (m_pid == 0) {
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string p = std::to_string(port);
      ::execl(k_redis_server, "redis-server", "--port", p.c_str(), "--bind", "127.0.0.1", "--save", "",
              "--appendonly", "no", "--daemonize", "no", "--dir", m_dir.path().c_str(), "--loglevel", "warning",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Ready when it answers PING; give up after 5 s or if it exited (port taken).
    const auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (::waitpid(m_pid, nullptr, WNOHANG) == m_pid) {
        m_pid = -1;
        return false;
      }
      if (redisReply* r = command({"PING"})) {
        const bool ok = r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (ok) return true;
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    kill();
    return false;
  }

  bool start_on_free_port() {
    for (int attempt = 0; attempt < 5; ++attempt)
      if (start(free_port())) return true;
    return false;
  }

  void kill() {
    if (m_pid <= 0) return;
    ::kill(m_pid, SIGCONT);
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
  }
  void pause() { ::kill(m_pid, SIGSTOP); }
  void resume() { ::kill(m_pid, SIGCONT); }
  int port() const { return m_port; }

  // One command on a fresh direct connection (the test's own client); nullptr on failure.
  redisReply* command(const std::vector<std::string>& args) {
    timeval tv{1, 0};
    redisContext* c = redisConnectWithTimeout("127.0.0.1", m_port, tv);
    if (!c || c->err) {
      if (c) redisFree(c);
      return nullptr;
    }
    redisSetTimeout(c, tv);
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
    redisFree(c);
    return r;
  }
  void run(const std::vector<std::string>& args) {
    redisReply* r = command(args);
    ASSERT_NE(r, nullptr);
    ASSERT_NE(r->type, REDIS_REPLY_ERROR) << r->str;
    freeReplyObject(r);
  }

 private:
  test::TempDir m_dir;
  pid_t m_pid = -1;
  int m_port = 0;
};

class RedisCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access(k_redis_server, X_OK) != 0) GTEST_SKIP() << k_redis_server << " is not installed";
    ASSERT_TRUE(m_server.start_on_free_port()) << "could not start redis-server";
  }
  static std::vector<uint8_t> blob(const std::string& key, uint64_t seed, size_t size = 2000) {
    return cache::pack_entry(test::make_entry(seed, size), key);
  }
  RedisServer m_server;
  test::LogCapture m_log;
};

// Runs f and returns how long it took.
template <typename F>
Clock::duration timed(F&& f) {
  const auto start = Clock::now();
  f();
  return Clock::now() - start;
}

TEST_F(RedisCacheTest, HitAndMiss) {
  RedisEngineCache cache("127.0.0.1", m_server.port(), milliseconds(1000));
  const std::string key = key_of("r1");
  EXPECT_EQ(cache.load(key), std::nullopt);
  const auto b = blob(key, 1);
  cache.save(key, b);
  EXPECT_EQ(cache.load(key), b);
  EXPECT_EQ(cache::load_entry(cache, key), test::make_entry(1, 2000));
  // Stored under the documented key.
  redisReply* r = m_server.command({"STRLEN", std::string("kiln:engine:") + key});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->integer, static_cast<long long>(b.size()));
  freeReplyObject(r);
  const EngineCacheStats s = cache.stats();
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.saves, 1u);
  EXPECT_EQ(cache.errors(), 0u);
}

TEST_F(RedisCacheTest, LargeValuesRoundTrip) {
  RedisEngineCache cache("127.0.0.1", m_server.port(), milliseconds(2000));
  const std::string key = key_of("big");
  const auto b = blob(key, 2, 8 << 20);
  cache.save(key, b);
  EXPECT_EQ(cache.load(key), b);
  EXPECT_EQ(cache.errors(), 0u);
}

TEST_F(RedisCacheTest, TieredLoadFillsTheDiskAndSaveWritesBoth) {
  test::TempDir dir;
  DiskEngineCache disk(dir.path());
  RedisEngineCache redis("127.0.0.1", m_server.port(), milliseconds(1000));
  TieredEngineCache tiered(disk, redis);
  const std::string key = key_of("tier");
  const auto b = blob(key, 3);
  redis.save(key, b);  // only the far tier has it
  EXPECT_FALSE(disk.load(key));
  EXPECT_EQ(tiered.load(key), b);
  EXPECT_EQ(disk.load(key), b) << "a Redis hit fills the disk";
  // Now the disk answers without asking Redis.
  const uint64_t redis_hits = redis.stats().hits;
  EXPECT_EQ(tiered.load(key), b);
  EXPECT_EQ(redis.stats().hits, redis_hits);
  // save goes to both tiers.
  const std::string key2 = key_of("tier2");
  tiered.save(key2, blob(key2, 4));
  EXPECT_TRUE(disk.load(key2));
  EXPECT_TRUE(redis.load(key2));
  // A miss everywhere.
  EXPECT_FALSE(tiered.load(key_of("none")));
  // With Redis gone the disk tier still serves, and misses stay misses.
  m_server.kill();
  EXPECT_EQ(tiered.load(key2), disk.load(key2));
  EXPECT_FALSE(tiered.load(key_of("none")));
  EXPECT_NO_THROW(tiered.save(key_of("t3"), blob(key_of("t3"), 5)));
  EXPECT_TRUE(disk.load(key_of("t3")));
  EXPECT_GE(redis.errors(), 1u);
}

TEST_F(RedisCacheTest, ServerKilledThenRestarted) {
  const milliseconds timeout(500), retry_after(300);
  RedisEngineCache cache("127.0.0.1", m_server.port(), timeout, retry_after);
  const std::string key = key_of("restart");
  cache.save(key, blob(key, 6));
  ASSERT_TRUE(cache.load(key));
  const int port = m_server.port();
  m_server.kill();
  // The open connection is dead. A large save on it writes into a reset
  // connection, which raises SIGPIPE: it must not kill the process.
  const auto big = blob(key, 7, 4 << 20);
  EXPECT_LT(timed([&] { cache.save(key, big); }), timeout + milliseconds(300));
  EXPECT_EQ(cache.errors(), 1u);
  // The breaker is open: no calls, no cost.
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  EXPECT_EQ(cache.stats().skipped, 2u);
  EXPECT_TRUE(m_log.contains("treated as a miss")) << m_log.all();

  // Restarted (empty: no persistence): the first call after retry_after
  // reconnects by itself.
  ASSERT_TRUE(m_server.start(port));
  std::this_thread::sleep_for(retry_after);
  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.errors(), 1u) << "a plain miss is not an error";
  EXPECT_TRUE(m_log.contains("answers again; calls resume")) << m_log.all();
  cache.save(key, blob(key, 8));
  EXPECT_EQ(cache.load(key), blob(key, 8));
}

TEST_F(RedisCacheTest, ClosedPortIsAFastMiss) {
  const int port = free_port();
  RedisEngineCache cache("127.0.0.1", port, milliseconds(1000));
  const std::string key = key_of("closed");
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(500));
  EXPECT_LT(timed([&] { cache.save(key, blob(key, 1)); }), milliseconds(500));
  EXPECT_EQ(cache.errors(), 1u);
  EXPECT_EQ(cache.stats().skipped, 1u);
  EXPECT_EQ(cache::load_entry(cache, key), std::nullopt);
  // One warning per outage, not one per call.
  size_t warnings = 0;
  for (const auto& l : m_log.lines()) warnings += l.find("cannot connect") != std::string::npos;
  EXPECT_EQ(warnings, 1u) << m_log.all();
}

TEST_F(RedisCacheTest, StoppedServerCostsOneTimeoutThenTheBreakerSkipsCalls) {
  const milliseconds timeout(300), retry_after(500);
  RedisEngineCache cache("127.0.0.1", m_server.port(), timeout, retry_after);
  const std::string key = key_of("stopped");
  cache.save(key, blob(key, 9));
  ASSERT_TRUE(cache.load(key));
  m_server.pause();  // SIGSTOP: connections are accepted by the kernel, never answered
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), timeout + milliseconds(200));
  const auto big = blob(key, 10, 4 << 20);
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  EXPECT_LT(timed([&] { cache.save(key, big); }), milliseconds(50));
  EXPECT_LT(timed([&] { cache.discard(key); }), milliseconds(50));
  EXPECT_EQ(cache.stats().skipped, 3u);
  // The probe after retry_after: still stopped, one more deadline (a fresh
  // connection: connect + command within it), and the breaker stays open.
  std::this_thread::sleep_for(retry_after);
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), timeout + milliseconds(200));
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  m_server.resume();
  // Commands that timed out on our side may still sit in the server's socket
  // buffers and run once it resumes (that is Redis, not us): let them drain.
  std::this_thread::sleep_for(retry_after);
  // Back: the next calls work again.
  const auto b = blob(key, 11);
  cache.save(key, b);
  EXPECT_EQ(cache.load(key), b);
  size_t opened = 0, closed = 0;
  for (const auto& l : m_log.lines()) {
    opened += l.find("not calling it for 0.5 s") != std::string::npos;
    closed += l.find("answers again; calls resume") != std::string::npos;
  }
  EXPECT_EQ(opened, 1u) << m_log.all();
  EXPECT_EQ(closed, 1u) << m_log.all();
}

TEST_F(RedisCacheTest, GarbageForeignAndWrongTypedValuesAreMisses) {
  RedisEngineCache cache("127.0.0.1", m_server.port(), milliseconds(1000));
  const std::string key = key_of("garbage");
  const std::string rkey = std::string("kiln:engine:") + key;
  m_server.run({"SET", rkey, "not an engine at all"});
  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.errors(), 1u);
  // Another key's (valid) entry under this key.
  const auto other = blob(key_of("other"), 1);
  m_server.run({"SET", rkey, std::string(other.begin(), other.end())});
  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.errors(), 2u);
  // A damaged payload passes the frame check; load_entry's checksum catches
  // it and discards the value from Redis.
  auto damaged = blob(key, 2);
  damaged[damaged.size() - 5] ^= 0x40;
  m_server.run({"SET", rkey, std::string(damaged.begin(), damaged.end())});
  EXPECT_EQ(cache::load_entry(cache, key), std::nullopt);
  redisReply* r = m_server.command({"EXISTS", rkey});
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->integer, 0) << "discard() deletes the bad value";
  freeReplyObject(r);
  // A list under the key: GET answers WRONGTYPE.
  m_server.run({"LPUSH", rkey, "x"});
  EXPECT_FALSE(cache.load(key));
  EXPECT_GE(cache.errors(), 4u);
  // save overwrites whatever is there.
  cache.save(key, blob(key, 3));
  EXPECT_EQ(cache::load_entry(cache, key), test::make_entry(3, 2000));
  EXPECT_TRUE(m_log.contains("WRONGTYPE")) << m_log.all();
}

TEST_F(RedisCacheTest, ConcurrentCallersShareOneConnection) {
  RedisEngineCache cache("127.0.0.1", m_server.port(), milliseconds(2000));
  std::vector<std::thread> threads;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string key = key_of("c" + std::to_string((t * 7 + i) % 10));
        if (i % 3 == 0) cache.save(key, blob(key, i, 500));
        else if (auto b = cache.load(key); b && !cache::load_entry(cache, key)) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(cache.errors(), 0u);
}

}  // namespace
}  // namespace kiln

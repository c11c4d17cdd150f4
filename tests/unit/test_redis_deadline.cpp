// RedisEngineCache against fake servers in this process (no redis-server
// needed): one that accepts and never reads, one that reads a trickle and
// never answers, one that trickles its reply. Each call must end within one
// deadline (not one timeout per partial write or read), and after a failure
// the circuit breaker must stop calling the server for a while.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
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

// A server socket on 127.0.0.1 served by a thread. What it does with each
// connection is the behaviour; it closes everything after `lifetime` so that a
// client without deadlines fails this test in seconds instead of hanging.
class FakeServer {
 public:
  enum class Behaviour {
    Silent,         // accepts, never reads, never answers
    SlowReader,     // reads 256 KiB every 50 ms (5 MiB/s), never answers
    TrickleReply,   // reads the request, answers "$1000000\r\n" then a byte every 100 ms
    NilThenClose,   // answers one command with nil, then closes (an idle timeout, quickly)
  };

  explicit FakeServer(Behaviour b, milliseconds lifetime = milliseconds(10000)) : m_behaviour(b) {
    m_listen = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(m_listen, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(m_listen, 16) != 0 ||
        ::getsockname(m_listen, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      throw std::runtime_error("fake server: cannot listen");
    m_port = ntohs(addr.sin_port);
    m_thread = std::thread([this, lifetime] { serve(Clock::now() + lifetime); });
  }
  ~FakeServer() {
    m_stop = true;
    m_thread.join();
    ::close(m_listen);
  }
  int port() const { return m_port; }
  int connections() const { return m_connections; }

 private:
  void serve(Clock::time_point end) {
    std::vector<int> clients;
    std::vector<char> buf(256 * 1024);
    auto next_step = Clock::now();
    while (!m_stop && Clock::now() < end) {
      pollfd p{m_listen, POLLIN, 0};
      if (::poll(&p, 1, 10) == 1) {
        const int c = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0 && m_behaviour == Behaviour::NilThenClose) {
          ++m_connections;
          pollfd r{c, POLLIN, 0};
          if (::poll(&r, 1, 1000) == 1) ::recv(c, buf.data(), buf.size(), 0);
          ::send(c, "$-1\r\n", 5, MSG_NOSIGNAL);
          ::close(c);
        } else if (c >= 0) {
          clients.push_back(c);
          ++m_connections;
          if (m_behaviour == Behaviour::TrickleReply) {
            ::recv(c, buf.data(), buf.size(), MSG_DONTWAIT);  // the GET (whatever came so far)
            ::send(c, "$1000000\r\n", 10, MSG_NOSIGNAL);
          }
        }
      }
      if (Clock::now() < next_step) continue;
      for (int c : clients) {
        if (m_behaviour == Behaviour::SlowReader) ::recv(c, buf.data(), buf.size(), MSG_DONTWAIT);
        if (m_behaviour == Behaviour::TrickleReply) ::send(c, "A", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      }
      next_step = Clock::now() + milliseconds(m_behaviour == Behaviour::SlowReader ? 50 : 100);
    }
    for (int c : clients) ::close(c);
  }

  Behaviour m_behaviour;
  int m_listen = -1;
  int m_port = 0;
  std::atomic<bool> m_stop{false};
  std::atomic<int> m_connections{0};
  std::thread m_thread;
};

std::vector<uint8_t> blob(const std::string& key, uint64_t seed, size_t size) {
  return cache::pack_entry(test::make_entry(seed, size), key);
}

template <typename F>
milliseconds timed(F&& f) {
  const auto start = Clock::now();
  f();
  return std::chrono::duration_cast<milliseconds>(Clock::now() - start);
}

size_t warnings_containing(const test::LogCapture& log, std::string_view needle) {
  size_t n = 0;
  for (const auto& l : log.lines()) n += l.find(needle) != std::string::npos;
  return n;
}

// The review's cold run against a hung server: GET, a second GET, then a SET
// of a 10 MB entry cost one timeout in all, and one connection.
TEST(RedisDeadline, AColdRunAgainstAHungServerCostsAboutOneTimeout) {
  FakeServer server(FakeServer::Behaviour::Silent);
  test::LogCapture log;
  const milliseconds timeout(300);
  test::TempDir dir;
  DiskEngineCache disk(dir.path());
  RedisEngineCache redis("127.0.0.1", server.port(), timeout);
  TieredEngineCache tiered(disk, redis);
  const std::string key = key_of("cold");
  const auto big = blob(key, 1, 10 << 20);
  const milliseconds spent = timed([&] {
    EXPECT_FALSE(tiered.load(key));
    EXPECT_FALSE(tiered.load(key));
    tiered.save(key, big);
  });
  EXPECT_GE(spent, timeout - milliseconds(20));
  EXPECT_LT(spent, timeout + milliseconds(400)) << "one deadline, then the breaker skips the other calls";
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(redis.errors(), 1u);
  EXPECT_EQ(redis.stats().skipped, 2u);
  EXPECT_TRUE(disk.load(key)) << "the disk tier still saved it";
  EXPECT_EQ(warnings_containing(log, "redis 127.0.0.1"), 1u) << log.all();
  EXPECT_EQ(warnings_containing(log, "treated as a miss, and not calling it for 30 s"), 1u) << log.all();
}

TEST(RedisDeadline, TheBreakerProbesAgainAfterItsPause) {
  FakeServer server(FakeServer::Behaviour::Silent);
  test::LogCapture log;
  const milliseconds timeout(200), retry_after(600);
  RedisEngineCache cache("127.0.0.1", server.port(), timeout, retry_after);
  const std::string key = key_of("probe");
  EXPECT_FALSE(cache.load(key));  // fails: opens
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  EXPECT_LT(timed([&] { cache.save(key, blob(key, 1, 1000)); }), milliseconds(50));
  EXPECT_LT(timed([&] { cache.discard(key); }), milliseconds(50));
  EXPECT_EQ(server.connections(), 1);
  EXPECT_EQ(cache.stats().skipped, 3u);
  std::this_thread::sleep_for(retry_after);
  EXPECT_FALSE(cache.load(key));  // the probe: fails again, stays open, no second warning
  EXPECT_EQ(server.connections(), 2);
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key)); }), milliseconds(50));
  EXPECT_EQ(warnings_containing(log, "not calling it for 0.6 s"), 1u) << log.all();
  EXPECT_EQ(log.lines().size(), 1u) << log.all();
}

// A SET into a server that does not read: the kernel takes a few MB, then
// nothing moves. One deadline, not one timeout per partial write.
TEST(RedisDeadline, ASetIntoAServerThatDoesNotReadEndsWithinOneDeadline) {
  FakeServer server(FakeServer::Behaviour::Silent);
  const milliseconds timeout(300);
  RedisEngineCache cache("127.0.0.1", server.port(), timeout);
  const std::string key = key_of("not-reading");
  const auto big = blob(key, 2, 32 << 20);
  // timeout + what the kernel buffered (a few MB) at 32 MiB/s.
  EXPECT_LT(timed([&] { cache.save(key, big); }), milliseconds(800));
  EXPECT_EQ(cache.errors(), 1u);
}

// A server that reads, but slowly (5 MiB/s): each partial write makes
// progress, so a per-write timeout never fires; the SET's deadline does.
TEST(RedisDeadline, ASetIntoASlowReaderEndsWithinOneDeadline) {
  FakeServer server(FakeServer::Behaviour::SlowReader);
  const milliseconds timeout(300);
  RedisEngineCache cache("127.0.0.1", server.port(), timeout);
  const std::string key = key_of("slow-reader");
  const auto big = blob(key, 3, 48 << 20);
  EXPECT_LT(timed([&] { cache.save(key, big); }), milliseconds(1200));
  EXPECT_EQ(cache.errors(), 1u);
  EXPECT_EQ(cache.stats().saves, 0u);
}

// A reply that arrives a byte at a time: each read makes progress.
TEST(RedisDeadline, AGetWhoseReplyTricklesEndsWithinOneDeadline) {
  FakeServer server(FakeServer::Behaviour::TrickleReply);
  const milliseconds timeout(300);
  RedisEngineCache cache("127.0.0.1", server.port(), timeout);
  EXPECT_LT(timed([&] { EXPECT_FALSE(cache.load(key_of("trickle"))); }), milliseconds(800));
  EXPECT_EQ(cache.errors(), 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

// A connection the server (or a proxy) closed while idle is not an outage:
// the call retries once on a fresh connection, and the breaker stays closed.
TEST(RedisDeadline, AConnectionClosedWhileIdleIsReopenedNotAnOutage) {
  FakeServer server(FakeServer::Behaviour::NilThenClose);
  test::LogCapture log;
  RedisEngineCache cache("127.0.0.1", server.port(), milliseconds(1000));
  for (int i = 0; i < 3; ++i) {
    std::this_thread::sleep_for(milliseconds(50));  // let the close arrive
    EXPECT_FALSE(cache.load(key_of("idle")));
  }
  EXPECT_EQ(server.connections(), 3);
  EXPECT_EQ(cache.errors(), 0u);
  EXPECT_EQ(cache.stats().skipped, 0u);
  EXPECT_EQ(cache.stats().misses, 3u);
  EXPECT_TRUE(log.lines().empty()) << log.all();
}

}  // namespace
}  // namespace kiln

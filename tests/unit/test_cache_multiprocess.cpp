// Several processes on one DiskEngineCache directory, with random SIGKILLs.
//
// Each phase forks workers that run 200 random ops (save / load / build under
// the build lock / remove / purge) over a small set of keys, while the parent
// SIGKILLs workers at random moments and starts replacements. Workers report
// what they do through a pipe (fixed 16-byte records: atomic writes). Then,
// with everything idle, the parent checks:
//   - no process ever read a corrupt entry (unpack + content regenerated from
//     the seed stored in the entry), and no I/O error or build-lock timeout
//     happened (a killed lock holder must not block anyone);
//   - every stored entry is intact and was written by a save that started;
//   - phase "evicting": blob bytes within the limit plus one entry; leftover
//     temp files at most one per kill;
//   - phase "keeping" (limit never reached, no remove/purge): every key whose
//     save completed is loadable.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <map>
#include <set>

#include "cache/disk_engine_cache.h"
#include "cache_test_util.h"
#include "core/atomic_file.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int k_workers = 4;
constexpr int k_ops = 200;
constexpr int k_keys = 24;

enum RecordType : uint32_t { Started = 1, Saved, Corrupt, IoError, LockTimeout, EvictStart, EvictDone };
struct Record {
  uint32_t type;
  uint32_t key;
  uint64_t seed;
};
static_assert(sizeof(Record) == 16);

std::string key_name(uint32_t k) { return test::key_of("mp-key-" + std::to_string(k)); }
size_t engine_size_for(uint64_t seed) { return 6000 + (seed * 2654435761u) % 8000; }

struct Phase {
  uint64_t size_limit;
  bool evict_ops;  // workers also remove/purge
  int kills;
};

void report(int fd, RecordType type, uint32_t key, uint64_t seed) {
  const Record r{type, key, seed};
  // A short write cannot happen for 16 bytes on a pipe (PIPE_BUF); EINTR can.
  while (::write(fd, &r, sizeof r) < 0 && errno == EINTR) {
  }
}

// True when `bytes` (loaded for key k) is an intact entry with the content its
// seed implies.
bool verify(const std::vector<uint8_t>& bytes, uint32_t k, uint64_t* seed_out) {
  try {
    const CacheEntry e = cache::unpack_entry(bytes, key_name(k));
    const int64_t seed = test::seed_of(e);
    if (seed < 0) return false;
    if (seed_out) *seed_out = static_cast<uint64_t>(seed);
    return e == test::make_entry(static_cast<uint64_t>(seed), engine_size_for(static_cast<uint64_t>(seed)));
  } catch (const Error&) {
    return false;
  }
}

[[noreturn]] void worker(const fs::path& dir, const Phase& phase, uint32_t id, int fd) {
  std::mt19937_64 rng(0x5eed0000u + id);
  DiskEngineCache cache(dir, phase.size_limit);
  uint64_t errors = 0;
  auto check_errors = [&](uint32_t k) {
    const uint64_t now = cache.stats().errors;
    if (now != errors) report(fd, IoError, k, now - errors);
    errors = now;
  };
  auto load_and_check = [&](uint32_t k) {
    const auto bytes = cache.load(key_name(k));
    if (bytes && !verify(*bytes, k, nullptr)) report(fd, Corrupt, k, 0);
    check_errors(k);
    return bytes.has_value();
  };
  auto save = [&](uint32_t k, uint64_t seed) {
    const auto blob = cache::pack_entry(test::make_entry(seed, engine_size_for(seed)), key_name(k));
    report(fd, Started, k, seed);
    const uint64_t saves = cache.stats().saves;
    cache.save(key_name(k), blob);
    if (cache.stats().saves == saves + 1) report(fd, Saved, k, seed);
    check_errors(k);
  };
  for (uint32_t i = 0; i < k_ops; ++i) {
    const uint32_t k = static_cast<uint32_t>(rng() % k_keys);
    const uint64_t seed = (uint64_t{id} << 20) | i;
    const int op = static_cast<int>(rng() % 10);
    if (op < 4) {
      save(k, seed);
    } else if (op < 8) {
      load_and_check(k);
    } else if (op == 8) {  // build once: lock, re-check, save
      auto lock = cache.lock_for_build(key_name(k), std::chrono::seconds(3));
      if (!lock) report(fd, LockTimeout, k, 0);
      if (!load_and_check(k)) save(k, seed);
    } else if (phase.evict_ops) {
      report(fd, EvictStart, k, 0);
      if (rng() % 2) cache.remove(key_name(k));
      else cache.purge(rng() % 8);
      report(fd, EvictDone, k, 0);
    } else {
      load_and_check(k);
    }
  }
  ::_exit(0);
}

struct PhaseResult {
  std::vector<Record> records;
  int kills = 0;
  int bad_exits = 0;
  bool timed_out = false;
};

PhaseResult run_phase(const fs::path& dir, const Phase& phase) {
  PhaseResult result;
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe");
  ::fcntl(fds[0], F_SETFL, O_NONBLOCK);
  std::set<pid_t> alive, killed;
  uint32_t next_id = 0;
  auto spawn = [&] {
    fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      worker(dir, phase, next_id, fds[1]);
    }
    ++next_id;
    alive.insert(pid);
  };
  std::string pending;
  auto drain = [&] {
    char buf[4096];
    for (;;) {
      const ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      pending.append(buf, static_cast<size_t>(n));
    }
    const size_t whole = pending.size() / sizeof(Record);
    for (size_t i = 0; i < whole; ++i) {
      Record r;
      std::memcpy(&r, pending.data() + i * sizeof(Record), sizeof r);
      result.records.push_back(r);
    }
    pending.erase(0, whole * sizeof(Record));
  };

  for (int i = 0; i < k_workers; ++i) spawn();
  std::mt19937 rng(4242);
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int kills_left = phase.kills;
  while (!alive.empty()) {
    pollfd p{fds[0], POLLIN, 0};
    ::poll(&p, 1, 5 + static_cast<int>(rng() % 40));
    drain();
    int status = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &status, WNOHANG)) > 0;) {
      alive.erase(pid);
      const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
      if (!clean && !killed.count(pid)) ++result.bad_exits;  // a crash we did not cause
    }
    if (Clock::now() > deadline) {
      for (pid_t pid : alive) ::kill(pid, SIGKILL);
      result.timed_out = true;
    }
    if (kills_left > 0 && !alive.empty() && rng() % 2 == 0) {
      auto it = alive.begin();
      std::advance(it, rng() % alive.size());
      ::kill(*it, SIGKILL);
      killed.insert(*it);
      --kills_left;
      ++result.kills;
      spawn();  // a replacement keeps k_workers busy
    }
  }
  ::close(fds[1]);
  drain();
  ::close(fds[0]);
  return result;
}

struct Verdict {
  std::map<uint32_t, std::set<uint64_t>> started;
  std::set<uint32_t> saved_keys;
  int corrupt = 0, io_errors = 0, lock_timeouts = 0;
};

Verdict tally(const PhaseResult& r) {
  Verdict v;
  std::map<uint32_t, size_t> counts;
  for (const Record& rec : r.records) ++counts[rec.type];
  std::printf("records %zu: started %zu saved %zu evict %zu; kills %d\n", r.records.size(), counts[Started],
              counts[Saved], counts[EvictStart], r.kills);
  for (const Record& rec : r.records) {
    switch (rec.type) {
      case Started: v.started[rec.key].insert(rec.seed); break;
      case Saved: v.saved_keys.insert(rec.key); break;
      case Corrupt: ++v.corrupt; break;
      case IoError: ++v.io_errors; break;
      case LockTimeout: ++v.lock_timeouts; break;
      default: break;
    }
  }
  return v;
}

// Every stored entry is intact and came from a save that started.
void check_stored_entries(const fs::path& dir, uint64_t limit, const Verdict& v) {
  DiskEngineCache cache(dir, limit);
  for (const EngineCacheItem& item : cache.list()) {
    uint32_t k = k_keys;
    for (uint32_t i = 0; i < k_keys; ++i)
      if (key_name(i) == item.hash) k = i;
    ASSERT_LT(k, static_cast<uint32_t>(k_keys)) << "unknown entry " << item.hash;
    const auto bytes = cache.load(item.hash);
    ASSERT_TRUE(bytes) << item.hash;
    uint64_t seed = 0;
    EXPECT_TRUE(verify(*bytes, k, &seed)) << "stored entry of key " << k << " is damaged";
    EXPECT_TRUE(v.started.count(k) && v.started.at(k).count(seed))
        << "entry of key " << k << " holds seed " << seed << " that no save wrote";
  }
  // No build lock is left held by a killed worker.
  for (uint32_t k = 0; k < k_keys; ++k)
    EXPECT_NE(cache.lock_for_build(key_name(k), std::chrono::milliseconds(200)), nullptr) << "key " << k;
}

size_t temp_files_under(const fs::path& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().filename().string().rfind(k_temp_prefix, 0) == 0) ++n;
  return n;
}

TEST(DiskCacheMultiProcess, EvictingUnderSigkill) {
  test::TempDir dir;
  const Phase phase{/*size_limit=*/120 * 1024, /*evict_ops=*/true, /*kills=*/10};
  const auto start = Clock::now();
  const PhaseResult r = run_phase(dir.path(), phase);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.bad_exits, 0);
  const Verdict v = tally(r);
  EXPECT_EQ(v.corrupt, 0);
  EXPECT_EQ(v.io_errors, 0);
  EXPECT_EQ(v.lock_timeouts, 0);
  EXPECT_GT(v.saved_keys.size(), 10u) << "the workload did not run";
  check_stored_entries(dir.path(), phase.size_limit, v);

  uint64_t total = 0;
  for (const auto& item : DiskEngineCache(dir.path(), phase.size_limit).list()) total += item.size;
  const uint64_t max_entry = cache::pack_entry(test::make_entry(0, 14000), key_name(0)).size();
  EXPECT_LE(total, phase.size_limit + max_entry);
  EXPECT_LE(temp_files_under(dir.path()), static_cast<size_t>(r.kills));
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(20));
}

TEST(DiskCacheMultiProcess, CompletedSavesSurviveSigkillWhenNothingIsEvicted) {
  test::TempDir dir;
  const Phase phase{/*size_limit=*/uint64_t{1} << 30, /*evict_ops=*/false, /*kills=*/10};
  const PhaseResult r = run_phase(dir.path(), phase);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.bad_exits, 0);
  const Verdict v = tally(r);
  EXPECT_EQ(v.corrupt, 0);
  EXPECT_EQ(v.io_errors, 0);
  EXPECT_EQ(v.lock_timeouts, 0);
  check_stored_entries(dir.path(), phase.size_limit, v);
  DiskEngineCache cache(dir.path(), phase.size_limit);
  for (uint32_t k : v.saved_keys) EXPECT_TRUE(cache.load(key_name(k))) << "completed save of key " << k << " lost";
  EXPECT_EQ(cache.stats().evictions, 0u);
}

}  // namespace
}  // namespace kiln

// DiskEngineCache: save/load, LRU touch and eviction, the size limit, stale
// temp files, remove/purge/list/stats, malformed files, build locks, and
// failing file systems (not a directory, read-only, full) — a save never throws
// for those and a later load is a miss.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "cache/disk_engine_cache.h"
#include "cache_test_util.h"
#include "core/atomic_file.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using cache::pack_entry;
using test::key_of;
using test::make_entry;

std::vector<uint8_t> blob_for(const std::string& key, uint64_t seed, size_t engine_size) {
  return pack_entry(make_entry(seed, engine_size), key);
}

size_t count_temp_files(const fs::path& root) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename().string().rfind(k_temp_prefix, 0) == 0) ++n;
  return n;
}

TEST(DiskCache, SaveThenLoadRoundTrips) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("a");
  EXPECT_EQ(cache.load(key), std::nullopt);
  const auto blob = blob_for(key, 1, 3000);
  cache.save(key, blob);
  EXPECT_TRUE(fs::is_regular_file(dir.path() / key / "blob.bin"));
  const auto back = cache.load(key);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, blob);
  EXPECT_EQ(cache::unpack_entry(*back, key), make_entry(1, 3000));
  // Saving again replaces.
  const auto blob2 = blob_for(key, 2, 10);
  cache.save(key, blob2);
  EXPECT_EQ(cache.load(key), blob2);
  const EngineCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 1u);
  EXPECT_EQ(s.bytes, blob2.size());
  EXPECT_EQ(s.hits, 2u);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_EQ(s.saves, 2u);
  EXPECT_EQ(count_temp_files(dir.path()), 0u);
}

TEST(DiskCache, ASecondObjectOnTheSameDirectorySeesEntries) {
  test::TempDir dir;
  const std::string key = key_of("shared");
  DiskEngineCache(dir.path()).save(key, blob_for(key, 3, 100));
  DiskEngineCache other(dir.path());
  EXPECT_TRUE(other.load(key));
}

TEST(DiskCache, AHitTouchesTheMtime) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("touch");
  cache.save(key, blob_for(key, 1, 100));
  const fs::path blob = dir.path() / key / "blob.bin";
  test::set_mtime(blob, 3600);
  ASSERT_LT(test::mtime_of(blob), ::time(nullptr) - 3000);
  ASSERT_TRUE(cache.load(key));
  EXPECT_GE(test::mtime_of(blob), ::time(nullptr) - 5);
  // A miss touches nothing and creates nothing.
  EXPECT_FALSE(cache.load(key_of("absent")));
  EXPECT_FALSE(fs::exists(dir.path() / key_of("absent")));
}

TEST(DiskCache, EvictsLeastRecentlyUsedToStayUnderTheLimit) {
  test::TempDir dir;
  const std::string a = key_of("A"), b = key_of("B"), c = key_of("C"), d = key_of("D");
  const size_t one = blob_for(a, 1, 1000).size();  // all four blobs have this size
  DiskEngineCache cache(dir.path(), 3 * one + one / 2);  // room for three
  cache.save(a, blob_for(a, 1, 1000));
  cache.save(b, blob_for(b, 2, 1000));
  cache.save(c, blob_for(c, 3, 1000));
  // Explicit ages (the clock may not tick between saves): A oldest, then B, C.
  test::set_mtime(dir.path() / a / "blob.bin", 300);
  test::set_mtime(dir.path() / b / "blob.bin", 200);
  test::set_mtime(dir.path() / c / "blob.bin", 100);
  ASSERT_TRUE(cache.load(a));  // A is now the most recently used
  cache.save(d, blob_for(d, 4, 1000));
  EXPECT_TRUE(fs::exists(dir.path() / a / "blob.bin"));
  EXPECT_FALSE(fs::exists(dir.path() / b)) << "B was least recently used";
  EXPECT_TRUE(fs::exists(dir.path() / c / "blob.bin"));
  EXPECT_TRUE(fs::exists(dir.path() / d / "blob.bin"));
  const EngineCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes, 3 * one);
  EXPECT_EQ(s.evictions, 1u);
  EXPECT_LE(s.bytes, cache.size_limit());
}

TEST(DiskCache, OneEntryLargerThanTheLimitEvictsSeveral) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path(), 10000);
  for (int i = 0; i < 8; ++i) {
    const std::string k = key_of("small" + std::to_string(i));
    cache.save(k, blob_for(k, i, 700));
    test::set_mtime(dir.path() / k / "blob.bin", 1000 - i);
  }
  const std::string big = key_of("big");
  cache.save(big, blob_for(big, 9, 7000));
  const auto items = cache.list();
  uint64_t total = 0;
  for (const auto& it : items) total += it.size;
  EXPECT_LE(total, 10000u);
  ASSERT_FALSE(items.empty());
  EXPECT_EQ(items.front().hash, big);
  // The survivors are the most recent small ones.
  for (const auto& it : items)
    if (it.hash != big) {
      EXPECT_TRUE(fs::exists(dir.path() / it.hash / "blob.bin"));
    }
  EXPECT_TRUE(std::any_of(items.begin(), items.end(), [&](auto& i) { return i.hash == key_of("small7"); }));
  EXPECT_FALSE(std::any_of(items.begin(), items.end(), [&](auto& i) { return i.hash == key_of("small0"); }));
}

TEST(DiskCache, AnEntryLargerThanTheWholeLimitIsNotCachedAndWarns) {
  test::TempDir dir;
  test::LogCapture log;
  DiskEngineCache cache(dir.path(), 1000);
  const std::string keep = key_of("keep"), big = key_of("big");
  cache.save(keep, blob_for(keep, 1, 100));
  cache.save(big, blob_for(big, 2, 5000));
  EXPECT_FALSE(fs::exists(dir.path() / big));
  EXPECT_FALSE(cache.load(big));
  EXPECT_TRUE(cache.load(keep)) << "an oversize save must not evict what is there";
  EXPECT_TRUE(log.contains("larger than the whole cache limit")) << log.all();
  EXPECT_TRUE(log.contains(big)) << log.all();
}

TEST(DiskCache, StaleTempFilesAndEmptyEntryDirsAreCleanedOnOpen) {
  test::TempDir dir;
  const std::string key = key_of("live");
  DiskEngineCache(dir.path()).save(key, blob_for(key, 1, 100));
  // A dead writer's temp file next to a live entry, a young temp file (maybe a
  // live writer), and an entry directory holding only an old temp file.
  const fs::path stale = dir.path() / key / (std::string(k_temp_prefix) + "blob.bin-1-2-3");
  const fs::path young = dir.path() / key / (std::string(k_temp_prefix) + "blob.bin-4-5-6");
  const fs::path orphan_dir = dir.path() / key_of("orphan");
  const fs::path orphan = orphan_dir / (std::string(k_temp_prefix) + "blob.bin-7-8-9");
  fs::create_directories(orphan_dir);
  for (const auto& p : {stale, young, orphan}) std::ofstream(p) << "partial";
  test::set_mtime(stale, 3600);
  test::set_mtime(orphan, 3600);
  test::set_mtime(orphan_dir, 3600);
  DiskEngineCache cache(dir.path());
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(young));
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_FALSE(fs::exists(orphan_dir));
  EXPECT_TRUE(cache.load(key));
  EXPECT_EQ(cache.list().size(), 1u);
}

TEST(DiskCache, StaleTempFilesAreCleanedDuringEviction) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("k");
  cache.save(key, blob_for(key, 1, 100));
  const fs::path stale = dir.path() / key / (std::string(k_temp_prefix) + "blob.bin-1-2-3");
  std::ofstream(stale) << "partial";
  test::set_mtime(stale, 3600);
  const std::string other = key_of("other");
  cache.save(other, blob_for(other, 2, 100));  // every save runs the eviction scan
  EXPECT_FALSE(fs::exists(stale));
}

TEST(DiskCache, RemovePurgeAndList) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  std::vector<std::string> keys;
  for (int i = 0; i < 5; ++i) {
    keys.push_back(key_of("k" + std::to_string(i)));
    cache.save(keys.back(), blob_for(keys.back(), i, 100 + i));
    test::set_mtime(dir.path() / keys.back() / "blob.bin", 500 - 100 * i);  // k4 newest
  }
  auto items = cache.list();
  ASSERT_EQ(items.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(items[i].hash, keys[4 - i]) << "most recently used first";
    EXPECT_EQ(items[i].size, fs::file_size(dir.path() / keys[4 - i] / "blob.bin"));
  }
  EXPECT_GT(items[0].mtime, items[4].mtime);
  EXPECT_TRUE(cache.remove(keys[4]));
  EXPECT_FALSE(cache.remove(keys[4]));
  EXPECT_FALSE(fs::exists(dir.path() / keys[4]));
  EXPECT_EQ(cache.purge(2), 2u);  // keeps k3, k2
  items = cache.list();
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].hash, keys[3]);
  EXPECT_EQ(items[1].hash, keys[2]);
  EXPECT_EQ(cache.purge(0), 2u);
  EXPECT_TRUE(cache.list().empty());
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.stats().bytes, 0u);
}

TEST(DiskCache, MalformedFilesAreMissesAndAreRemoved) {
  test::TempDir dir;
  test::LogCapture log;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("m");
  const fs::path blob = dir.path() / key / "blob.bin";
  const auto good = blob_for(key, 1, 1000);
  auto write_raw = [&](const std::vector<uint8_t>& bytes) {
    fs::create_directories(blob.parent_path());
    std::ofstream(blob, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  };
  const std::vector<std::vector<uint8_t>> bad = {
      {},                                                      // empty
      std::vector<uint8_t>(good.begin(), good.begin() + 500),  // truncated
      blob_for(key_of("another"), 1, 1000),                    // another key's entry
      std::vector<uint8_t>(1000, 0x5a),                        // garbage
  };
  uint64_t errors = 0;
  for (const auto& bytes : bad) {
    write_raw(bytes);
    EXPECT_FALSE(cache.load(key));
    EXPECT_EQ(cache.stats().errors, ++errors);
    EXPECT_FALSE(fs::exists(blob)) << "a malformed entry is dropped so the rebuild replaces it";
  }
  // A payload bit flip passes the frame check; unpack (load_entry) catches it
  // and discards the entry.
  auto flipped = good;
  flipped[good.size() - 10] ^= 4;
  write_raw(flipped);
  EXPECT_EQ(cache::load_entry(cache, key), std::nullopt);
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_EQ(cache.stats().errors, errors + 1);
  // save() refuses bytes that are not an entry for the key.
  cache.save(key, std::vector<uint8_t>(100, 1));
  EXPECT_FALSE(fs::exists(blob));
  EXPECT_FALSE(log.lines().empty());
}

TEST(DiskCache, InvalidKeysAreRejected) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  for (const std::string& bad : std::vector<std::string>{"", "..", "../escape", "a/b", std::string(200, 'f')}) {
    EXPECT_THROW(cache.load(bad), Error) << bad;
    EXPECT_THROW(cache.save(bad, {1, 2, 3}), Error) << bad;
    EXPECT_THROW(cache.remove(bad), Error) << bad;
  }
  EXPECT_FALSE(fs::exists(dir.path().parent_path() / "escape"));
}

TEST(DiskCache, DefaultDirFollowsXdg) {
  const char* old_xdg = std::getenv("XDG_CACHE_HOME");
  const std::string saved = old_xdg ? old_xdg : "";
  ::setenv("XDG_CACHE_HOME", "/some/where", 1);
  EXPECT_EQ(default_cache_dir(), fs::path("/some/where/kiln"));
  ::setenv("XDG_CACHE_HOME", "relative/ignored", 1);
  ::setenv("HOME", std::getenv("HOME") ? std::getenv("HOME") : "/root", 1);
  EXPECT_EQ(default_cache_dir(), fs::path(std::getenv("HOME")) / ".cache" / "kiln");
  if (old_xdg) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  else ::unsetenv("XDG_CACHE_HOME");
}

// ---- failing file systems ---------------------------------------------------

// The cache dir sits under a regular file: every mkdir/open fails with ENOTDIR,
// whatever our privileges (root ignores chmod 0555).
TEST(DiskCache, UnusableDirectoryNeverThrows) {
  test::TempDir dir;
  test::LogCapture log;
  const fs::path file = dir.path() / "file";
  std::ofstream(file) << "x";
  DiskEngineCache cache(file / "cache");
  const std::string key = key_of("k");
  EXPECT_NO_THROW(cache.save(key, blob_for(key, 1, 100)));
  EXPECT_FALSE(cache.load(key));
  EXPECT_EQ(cache.stats().errors, 1u);
  EXPECT_EQ(cache.stats().entries, 0u);
  EXPECT_EQ(cache.lock_for_build(key, std::chrono::milliseconds(10)), nullptr);
  EXPECT_TRUE(log.contains("cannot")) << log.all();
}

// Runs `body` in a forked child and returns its exit code (or 128+signal).
// Used where the test changes process-wide state (mount namespace, rlimits).
int run_in_child(const std::function<int()>& body) {
  fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 100;
    try {
      rc = body();
    } catch (const std::exception& e) {
      fprintf(stderr, "child threw: %s\n", e.what());
    }
    fflush(nullptr);
    ::_exit(rc);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

constexpr int k_skip = 77;

// A child in its own mount namespace, with a tmpfs mounted at `where`.
int with_private_tmpfs(const fs::path& where, const char* options, const std::function<int()>& body) {
  return run_in_child([&] {
    if (::unshare(CLONE_NEWNS) != 0) return k_skip;
    if (::mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return k_skip;
    if (::mount("tmpfs", where.c_str(), "tmpfs", 0, options) != 0) return k_skip;
    return body();
  });
}

// Exit codes: 0 ok; 1.. which check failed.
int check_failed_save(DiskEngineCache& cache, const std::string& key, const std::vector<uint8_t>& blob) {
  try {
    cache.save(key, blob);
  } catch (...) {
    return 1;
  }
  if (cache.stats().errors != 1) return 2;
  if (cache.load(key)) return 3;
  if (count_temp_files(cache.dir()) != 0) return 4;
  return 0;
}

TEST(DiskCache, ReadOnlyFileSystemSaveFailsQuietly) {
  test::TempDir dir;
  const fs::path mnt = dir.path() / "ro";
  fs::create_directories(mnt);
  const int rc = with_private_tmpfs(mnt, "size=1m", [&] {
    DiskEngineCache cache(mnt / "cache");  // created while writable
    if (::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) != 0) return k_skip;
    test::LogCapture log;
    const std::string key = key_of("ro");
    const int r = check_failed_save(cache, key, blob_for(key, 1, 100));
    if (r) return r;
    if (!log.contains("Read-only file system")) return 5;
    return 0;
  });
  if (rc == k_skip) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(rc, 0);
}

TEST(DiskCache, FullFileSystemSaveFailsQuietlyAndLeavesNoTempFile) {
  test::TempDir dir;
  const fs::path mnt = dir.path() / "full";
  fs::create_directories(mnt);
  const int rc = with_private_tmpfs(mnt, "size=64k", [&] {
    DiskEngineCache cache(mnt / "cache");
    test::LogCapture log;
    const std::string key = key_of("full");
    const int r = check_failed_save(cache, key, blob_for(key, 1, 256 * 1024));
    if (r) return r;
    if (!log.contains("No space left on device")) return 5;
    // Room is given back: a small entry still fits afterwards.
    const std::string small = key_of("small");
    cache.save(small, blob_for(small, 2, 100));
    if (!cache.load(small)) return 6;
    return 0;
  });
  if (rc == k_skip) GTEST_SKIP() << "cannot mount a tmpfs here (needs CAP_SYS_ADMIN)";
  EXPECT_EQ(rc, 0);
}

// Works without privileges: the file size rlimit makes write() fail (EFBIG)
// part way through, exercising the same failure path as a full disk.
TEST(DiskCache, WriteFailurePartWayThroughNeverThrows) {
  test::TempDir dir;
  const int rc = run_in_child([&] {
    DiskEngineCache cache(dir.path());
    test::LogCapture log;
    ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit{};
    ::getrlimit(RLIMIT_FSIZE, &limit);
    limit.rlim_cur = 4096;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) return k_skip;
    const std::string key = key_of("efbig");
    const int r = check_failed_save(cache, key, blob_for(key, 1, 100000));
    if (r) return r;
    if (!log.contains("too large")) return 5;
    return 0;
  });
  if (rc == k_skip) GTEST_SKIP() << "cannot set RLIMIT_FSIZE";
  EXPECT_EQ(rc, 0);
}

// ---- build locks ----------------------------------------------------------

TEST(DiskCache, BuildLockExcludesOtherHoldersUntilReleased) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("lock");
  auto first = cache.lock_for_build(key, std::chrono::milliseconds(0));
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->hash(), key);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(cache.lock_for_build(key, std::chrono::milliseconds(150)), nullptr);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(140));
  // Another key is independent.
  EXPECT_NE(cache.lock_for_build(key_of("other"), std::chrono::milliseconds(0)), nullptr);
  // A waiter gets the lock as soon as it is released.
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    first.reset();
  });
  const auto wait_start = std::chrono::steady_clock::now();
  auto second = cache.lock_for_build(key, std::chrono::seconds(5));
  releaser.join();
  EXPECT_NE(second, nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - wait_start, std::chrono::seconds(2));
  second.reset();
  EXPECT_FALSE(fs::exists(cache::lock_path(dir.path(), key))) << "released locks leave no file";
}

TEST(DiskCache, BuildLockOfAKilledProcessIsReleased) {
  test::TempDir dir;
  const std::string key = key_of("crash");
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    DiskEngineCache cache(dir.path());
    auto lock = cache.lock_for_build(key, std::chrono::seconds(5));
    const char c = lock ? 1 : 0;
    if (::write(ready[1], &c, 1) != 1) ::_exit(1);
    ::pause();  // holds the lock until killed
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 1);
  DiskEngineCache cache(dir.path());
  EXPECT_EQ(cache.lock_for_build(key, std::chrono::milliseconds(50)), nullptr) << "the child holds it";
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_NE(cache.lock_for_build(key, std::chrono::seconds(5)), nullptr);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST(DiskCache, TieredCacheLocksThroughItsDiskTier) {
  test::TempDir dir;
  DiskEngineCache disk(dir.path());
  class NoLock : public EngineCache {
   public:
    void save(const std::string&, const std::vector<uint8_t>&) override {}
    std::optional<std::vector<uint8_t>> load(const std::string&) override { return std::nullopt; }
  } remote;
  EXPECT_EQ(remote.lock_for_build(key_of("t"), std::chrono::milliseconds(0)), nullptr) << "default: no lock";
  TieredEngineCache tiered(remote, disk);
  auto lock = tiered.lock_for_build(key_of("t"), std::chrono::milliseconds(0));
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(disk.lock_for_build(key_of("t"), std::chrono::milliseconds(20)), nullptr);
}

TEST(DiskCache, OnlyOneOfSeveralThreadsBuilds) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const std::string key = key_of("once");
  std::atomic<int> builds{0}, hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      DiskEngineCache mine(dir.path());  // as separate processes would
      if (cache::load_entry(mine, key)) { ++hits; return; }
      auto lock = mine.lock_for_build(key, std::chrono::seconds(10));
      if (cache::load_entry(mine, key)) { ++hits; return; }
      ++builds;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // "building"
      cache::save_entry(mine, key, make_entry(t, 200));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(builds.load(), 1);
  EXPECT_EQ(hits.load(), 5);
}

}  // namespace
}  // namespace kiln

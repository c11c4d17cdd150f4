// DiskEngineCache and the temp files of saves: a writer killed mid-save
// leaves `<key>/.kiln-tmp-blob.bin-<pid>-<n>-<rand>`. stats() counts them;
// a save's eviction, purge() and remove_stale_temp_files() remove those whose
// writer is gone (PID gone, file unlocked, untouched for
// k_dead_writer_temp_age); they count toward the size limit.
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <fstream>
#include <functional>

#include "cache/disk_engine_cache.h"
#include "cache_test_util.h"
#include "core/atomic_file.h"

namespace kiln {
namespace {

namespace fs = std::filesystem;
using test::key_of;

std::vector<uint8_t> blob_for(const std::string& key, uint64_t seed, size_t engine_size) {
  return cache::pack_entry(test::make_entry(seed, engine_size), key);
}

std::vector<fs::path> temp_files(const fs::path& root) {
  std::vector<fs::path> found;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename().string().rfind(k_temp_prefix, 0) == 0) found.push_back(e.path());
  return found;
}

// A PID that no longer exists: a child that exited and was reaped.
pid_t dead_pid() {
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  ::waitpid(pid, nullptr, 0);
  return pid;
}

// A temp file as write_file_atomic names it, of `bytes` bytes, `age` seconds old.
fs::path plant_temp(const fs::path& dir, pid_t writer, size_t bytes, time_t age) {
  fs::create_directories(dir);
  const fs::path p = dir / (std::string(k_temp_prefix) + "blob.bin-" + std::to_string(writer) + "-0-12345");
  std::ofstream(p, std::ios::binary) << std::string(bytes, 'x');
  test::set_mtime(p, age);
  return p;
}

TEST(DiskCacheTemp, WriterPidIsReadFromTheName) {
  EXPECT_EQ(temp_file_writer_pid(".kiln-tmp-blob.bin-4242-0-99"), 4242);
  EXPECT_EQ(temp_file_writer_pid(".kiln-tmp-a-b-c-17-3-1"), 17);  // a stem holding '-'
  EXPECT_EQ(temp_file_writer_pid(".kiln-tmp--17-3-1"), 17);
  EXPECT_EQ(temp_file_writer_pid(unique_temp_path("/x", "blob.bin").filename().string()), ::getpid());
  for (const char* bad : {"blob.bin", ".kiln-tmp-blob.bin", ".kiln-tmp-blob.bin-1-2", ".kiln-tmp-blob.bin-x-2-3",
                          ".kiln-tmp-blob.bin-0-2-3", ".kiln-tmp-blob.bin-12345678901-2-3", ".kiln-tmp-17-3-1"})
    EXPECT_EQ(temp_file_writer_pid(bad), -1) << bad;
}

// The review's case: a process killed while writing a big entry (here by
// SIGXFSZ when the file reaches RLIMIT_FSIZE, i.e. mid-write like a SIGKILL).
TEST(DiskCacheTemp, AKilledWritersTempFileIsCountedThenPurged) {
  test::TempDir dir;
  const std::string key = key_of("killed");
  constexpr rlim_t k_written = 64 * 1024;
  fflush(nullptr);
  const pid_t child = ::fork();
  if (child == 0) {
    rlimit none{0, 0};
    ::setrlimit(RLIMIT_CORE, &none);
    rlimit fsize{k_written, k_written};
    ::setrlimit(RLIMIT_FSIZE, &fsize);
    DiskEngineCache(dir.path()).save(key, blob_for(key, 1, 1 << 20));
    ::_exit(0);  // not reached: SIGXFSZ ends the write
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ) << "status " << status;
  const auto left = temp_files(dir.path());
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].parent_path().filename(), key);
  EXPECT_EQ(temp_file_writer_pid(left[0].filename().string()), child);

  DiskEngineCache cache(dir.path());
  EngineCacheStats s = cache.stats();
  EXPECT_EQ(s.entries, 0u);
  EXPECT_EQ(s.temp_files, 1u);
  EXPECT_EQ(s.temp_bytes, k_written);
  // Just written: could still be a live writer elsewhere (see atomic_file.h).
  EXPECT_EQ(cache.purge(0), 0u);
  EXPECT_TRUE(fs::exists(left[0]));
  // Untouched for longer than k_dead_writer_temp_age, long before k_stale_temp_age.
  test::set_mtime(left[0], k_dead_writer_temp_age.count() + 5);
  EXPECT_EQ(cache.purge(0), 0u);
  EXPECT_FALSE(fs::exists(left[0]));
  EXPECT_FALSE(fs::exists(dir.path() / key)) << "the emptied entry directory goes too";
  s = cache.stats();
  EXPECT_EQ(s.temp_files, 0u);
  EXPECT_EQ(s.temp_bytes, 0u);
}

TEST(DiskCacheTemp, OnlyTempFilesOfGoneWritersAreRemoved) {
  test::TempDir dir;
  DiskEngineCache cache(dir.path());
  const time_t old = k_dead_writer_temp_age.count() + 30;  // and well under k_stale_temp_age
  const pid_t gone = dead_pid();
  const fs::path dead = plant_temp(dir.path() / key_of("a"), gone, 1000, old);
  const fs::path young = plant_temp(dir.path() / key_of("b"), dead_pid(), 2000, 0);
  const fs::path alive = plant_temp(dir.path() / key_of("c"), ::getpid(), 3000, old);
  const fs::path in_root = plant_temp(dir.path(), dead_pid(), 400, old);  // a timing cache save
  // A writer in another PID namespace: its PID means nothing here, but it
  // holds the lock write_file_atomic takes.
  const fs::path locked = plant_temp(dir.path() / key_of("d"), dead_pid(), 5000, old);
  const int fd = ::open(locked.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::flock(fd, LOCK_EX), 0);

  EngineCacheStats s = cache.stats();
  EXPECT_EQ(s.temp_files, 5u);
  EXPECT_EQ(s.temp_bytes, 11400u);
  const RemovedTempFiles r = cache.remove_stale_temp_files();
  EXPECT_EQ(r.files, 2u);
  EXPECT_EQ(r.bytes, 1400u);
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(in_root));
  EXPECT_TRUE(fs::exists(young));
  EXPECT_TRUE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(locked));
  s = cache.stats();
  EXPECT_EQ(s.temp_files, 3u);
  EXPECT_EQ(s.temp_bytes, 10000u);

  ::close(fd);  // the "writer" died
  EXPECT_EQ(cache.remove_stale_temp_files().files, 1u);
  EXPECT_FALSE(fs::exists(locked));
  // Past k_stale_temp_age every temp file goes, whatever its PID says.
  test::set_mtime(alive, DiskEngineCache::k_stale_temp_age.count() + 1);
  EXPECT_EQ(cache.remove_stale_temp_files().files, 1u);
  EXPECT_FALSE(fs::exists(alive));
  EXPECT_TRUE(fs::exists(young));
}

TEST(DiskCacheTemp, ASaveRemovesTempFilesOfGoneWritersAndOpeningLeavesThemToStats) {
  test::TempDir dir;
  const std::string key = key_of("k");
  DiskEngineCache(dir.path()).save(key, blob_for(key, 1, 100));
  const fs::path dead = plant_temp(dir.path() / key, dead_pid(), 100, k_dead_writer_temp_age.count() + 5);
  const fs::path manifest = plant_temp(dir.path() / ".manifests", dead_pid(), 100, k_dead_writer_temp_age.count() + 5);
  DiskEngineCache cache(dir.path());
  EXPECT_TRUE(fs::exists(dead));
  EXPECT_EQ(cache.stats().temp_files, 2u);
  const std::string other = key_of("other");
  cache.save(other, blob_for(other, 2, 100));  // its eviction scan cleans up
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(manifest));
  EXPECT_EQ(cache.stats().temp_files, 0u);
  EXPECT_TRUE(cache.load(key));
}

TEST(DiskCacheTemp, TempFilesCountTowardTheSizeLimit) {
  test::TempDir dir;
  const std::string a = key_of("a"), b = key_of("b"), c = key_of("c");
  const auto blob_a = blob_for(a, 1, 3000), blob_b = blob_for(b, 2, 3000), blob_c = blob_for(c, 3, 3000);
  const uint64_t entry = blob_a.size();
  // Room for four entries; a temp file whose writer may be alive (our own PID)
  // takes the room of one and a half.
  DiskEngineCache cache(dir.path(), 4 * entry + 100);
  plant_temp(dir.path() / key_of("busy"), ::getpid(), entry + entry / 2, 0);
  cache.save(a, blob_a);
  test::set_mtime(dir.path() / a / "blob.bin", 30);
  cache.save(b, blob_b);
  EXPECT_TRUE(fs::exists(dir.path() / a / "blob.bin")) << "a, b and the temp file fit";
  test::set_mtime(dir.path() / b / "blob.bin", 20);
  cache.save(c, blob_c);
  EXPECT_FALSE(fs::exists(dir.path() / a / "blob.bin")) << "least recently used, evicted";
  EXPECT_TRUE(fs::exists(dir.path() / b / "blob.bin"));
  EXPECT_TRUE(fs::exists(dir.path() / c / "blob.bin"));
  EXPECT_EQ(cache.stats().evictions, 1u);
  uint64_t on_disk = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir.path()))
    if (e.is_regular_file()) on_disk += e.file_size();
  EXPECT_LE(on_disk, cache.size_limit());
}

TEST(DiskCacheTemp, TheEntryJustSavedStaysWhenTempFilesAloneFillTheLimit) {
  test::TempDir dir;
  const std::string a = key_of("a");
  const auto blob_a = blob_for(a, 1, 3000);
  DiskEngineCache cache(dir.path(), 2 * blob_a.size());
  plant_temp(dir.path() / key_of("busy"), ::getpid(), 3 * blob_a.size(), 0);
  cache.save(a, blob_a);
  EXPECT_TRUE(cache.load(a)) << "another writer's temp file must not evict the entry it sits beside";
}

}  // namespace
}  // namespace kiln

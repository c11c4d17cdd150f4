#include "cache/disk_engine_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

#include "cache/cache_entry.h"
#include "core/atomic_file.h"
#include "core/check.h"
#include "core/log.h"
#include "kiln/engine_cache.h"
#include "kiln/error.h"

namespace kiln {

namespace fs = std::filesystem;

namespace cache {

namespace {

int64_t mtime_ns_of(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

std::vector<DiskEntry> scan_entries(const fs::path& root, bool cleanup, std::chrono::seconds stale_age,
                                    TempFiles* temps, bool dead_writers) {
  std::vector<DiskEntry> entries;
  TempFiles seen;
  const bool look_for_temps = cleanup || temps;
  if (look_for_temps) {  // the timing cache's and the manifests' saves
    seen += scan_temp_files(root, cleanup, stale_age, dead_writers);
    seen += scan_temp_files(root / ".manifests", cleanup, stale_age, dead_writers);
  }
  std::error_code ec;
  fs::directory_iterator it(root, ec);
  if (ec) return entries;
  const time_t now = ::time(nullptr);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (!is_valid_cache_key(name)) continue;  // ".locks", stray files
    struct stat st;
    if (::stat((it->path() / k_blob_name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      entries.push_back({name, static_cast<uint64_t>(st.st_size), mtime_ns_of(st)});
      if (look_for_temps) seen += scan_temp_files(it->path(), cleanup, stale_age, dead_writers);
      continue;
    }
    if (!look_for_temps) continue;
    // No blob: a save in progress, or one that died. The age is taken before
    // removing stale temp files (which makes the directory look fresh). rmdir
    // only succeeds when empty, so a live writer's temp file keeps the
    // directory; a writer between its mkdir and its temp file retries (save).
    const bool old = ::stat(it->path().c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
                     now - st.st_mtime >= stale_age.count();
    const TempFiles here = scan_temp_files(it->path(), cleanup, stale_age, dead_writers);
    seen += here;
    if (cleanup && (old || here.removed) && here.kept == 0) ::rmdir(it->path().c_str());
  }
  if (temps) *temps += seen;
  return entries;
}

bool remove_entry_files(const fs::path& root, std::string_view hash) {
  const bool removed = ::unlink(blob_path(root, hash).c_str()) == 0;
  ::rmdir(entry_dir(root, hash).c_str());  // ENOTEMPTY: a writer is busy there; fine
  return removed;
}

}  // namespace cache

namespace {

void check_key(const std::string& hash) {
  check(cache::is_valid_cache_key(hash), ErrorCode::InvalidArgument,
        "invalid engine cache key '" + hash.substr(0, 200) + "' (expected 1..128 characters of [0-9A-Za-z_-])");
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", v, units[u]);
  return buf;
}

}  // namespace

fs::path default_cache_dir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  if (xdg && *xdg == '/') return fs::path(xdg) / "kiln";  // the XDG spec ignores relative paths
  const char* home = std::getenv("HOME");
  if (home && *home) return fs::path(home) / ".cache" / "kiln";
  std::error_code ec;
  fs::path tmp = fs::temp_directory_path(ec);
  if (ec) tmp = "/tmp";
  return tmp / ("kiln-cache-" + std::to_string(::getuid()));
}

DiskEngineCache::DiskEngineCache(fs::path dir, uint64_t size_limit) : m_dir(std::move(dir)), m_size_limit(size_limit) {
  std::error_code ec;
  fs::create_directories(m_dir, ec);
  if (ec) {
    log_warning("engine cache: cannot create " + m_dir.string() + ": " + ec.message() + "; caching disabled");
    return;
  }
  // Opening removes what is old only; temp files of dead writers stay visible
  // to stats() until a save's eviction, purge or verify removes them.
  cache::scan_entries(m_dir, /*cleanup=*/true, k_stale_temp_age, nullptr, /*dead_writers=*/false);
  cache::remove_unheld_lock_files(m_dir);
}

void DiskEngineCache::save(const std::string& hash, const std::vector<uint8_t>& blob) {
  check_key(hash);
  if (blob.size() > m_size_limit) {
    log_warning("engine cache: engine " + hash + " is " + human_bytes(blob.size()) +
                ", larger than the whole cache limit (" + human_bytes(m_size_limit) + ") of " + m_dir.string() +
                "; not cached");
    return;
  }
  try {
    cache::check_entry_frame(blob, hash);
  } catch (const Error& e) {
    log_warning("engine cache: not saving a malformed entry: " + e.message());
    ++m_errors;
    return;
  }
  const fs::path dir = cache::entry_dir(m_dir, hash);
  for (int attempt = 0;; ++attempt) {
    try {
      if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        const int err = errno;
        throw Error(ErrorCode::IO, "cannot create " + dir.string() + ": " + errno_string(err));
      }
      write_file_atomic(cache::blob_path(m_dir, hash), blob);
      ++m_saves;
      break;
    } catch (const Error& e) {
      // Another process's eviction may have removed the (empty) entry directory
      // between our mkdir and our temp file: try again.
      std::error_code ec;
      if (attempt < 3 && fs::is_directory(m_dir, ec) && !fs::exists(dir, ec)) continue;
      log_warning("engine cache: cannot save " + hash + ": " + e.message());
      ++m_errors;
      return;
    }
  }
  evict(hash);
}

std::optional<std::vector<uint8_t>> DiskEngineCache::load(const std::string& hash) {
  check_key(hash);
  const fs::path path = cache::blob_path(m_dir, hash);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err != ENOENT && err != ENOTDIR) {
      log_warning("engine cache: cannot open " + path.string() + ": " + errno_string(err));
      ++m_errors;
    }
    ++m_misses;
    return std::nullopt;
  }
  std::vector<uint8_t> bytes;
  std::string failure;
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    failure = "cannot stat: " + errno_string(errno);
  } else {
    bytes.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
      const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failure = "cannot read: " + errno_string(errno);
        break;
      }
      if (n == 0) {
        failure = "file shrank while reading";
        break;
      }
      got += static_cast<size_t>(n);
    }
  }
  if (failure.empty()) {
    try {
      cache::check_entry_frame(bytes, hash);
    } catch (const Error& e) {
      failure = e.message();
      // Drop it so the rebuild replaces it — unless a writer already renamed a
      // new file into place since we opened ours.
      struct stat now;
      if (::stat(path.c_str(), &now) == 0 && now.st_ino == st.st_ino && now.st_dev == st.st_dev)
        cache::remove_entry_files(m_dir, hash);
    }
  }
  if (!failure.empty()) {
    ::close(fd);
    log_warning("engine cache: " + path.string() + ": " + failure + "; treating as a miss");
    ++m_errors;
    ++m_misses;
    return std::nullopt;
  }
  ::futimens(fd, nullptr);  // LRU: a hit is a use. Fails harmlessly on a read-only cache.
  ::close(fd);
  ++m_hits;
  return bytes;
}

void DiskEngineCache::discard(const std::string& hash) {
  check_key(hash);
  ++m_errors;
  cache::remove_entry_files(m_dir, hash);
}

bool DiskEngineCache::remove(const std::string& hash) {
  check_key(hash);
  return cache::remove_entry_files(m_dir, hash);
}

std::vector<EngineCacheItem> DiskEngineCache::list() const {
  std::vector<cache::DiskEntry> entries = cache::scan_entries(m_dir, false, k_stale_temp_age);
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.mtime_ns != b.mtime_ns ? a.mtime_ns > b.mtime_ns : a.hash < b.hash;
  });
  std::vector<EngineCacheItem> items;
  items.reserve(entries.size());
  for (const auto& e : entries) {
    const auto since_epoch = std::chrono::nanoseconds(e.mtime_ns);
    items.push_back({e.hash, e.size,
                     std::chrono::system_clock::time_point(
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(since_epoch))});
  }
  return items;
}

size_t DiskEngineCache::purge(size_t keep_n) {
  remove_stale_temp_files();
  const std::vector<EngineCacheItem> items = list();
  size_t removed = 0;
  for (size_t i = keep_n; i < items.size(); ++i) removed += cache::remove_entry_files(m_dir, items[i].hash);
  return removed;
}

RemovedTempFiles DiskEngineCache::remove_stale_temp_files() {
  TempFiles t;
  cache::scan_entries(m_dir, /*cleanup=*/true, k_stale_temp_age, &t);
  return {t.removed, t.removed_bytes};
}

EngineCacheStats DiskEngineCache::stats() const {
  EngineCacheStats s;
  TempFiles temps;
  for (const auto& e : cache::scan_entries(m_dir, false, k_stale_temp_age, &temps)) {
    ++s.entries;
    s.bytes += e.size;
  }
  s.temp_files = temps.kept;
  s.temp_bytes = temps.kept_bytes;
  s.hits = m_hits;
  s.misses = m_misses;
  s.errors = m_errors;
  s.saves = m_saves;
  s.evictions = m_evictions;
  return s;
}

void DiskEngineCache::evict(const std::string& just_saved) {
  // Temp files left after the cleanup count toward the limit: a live writer's
  // becomes an entry soon, and one whose writer may be alive (a recycled PID)
  // waits for k_stale_temp_age, taking disk space all the while.
  TempFiles temps;
  std::vector<cache::DiskEntry> entries = cache::scan_entries(m_dir, /*cleanup=*/true, k_stale_temp_age, &temps);
  uint64_t total = temps.kept_bytes;
  for (const auto& e : entries) total += e.size;
  if (total <= m_size_limit) return;
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a.mtime_ns < b.mtime_ns; });
  for (const auto& e : entries) {
    if (total <= m_size_limit) break;
    // The entry just saved stays even when other writers' temp files push the
    // total over: their own saves evict in turn once they are entries.
    if (e.hash == just_saved) continue;
    // Re-check: a hit or a save since the scan makes it no longer least recently
    // used, and it must not go.
    struct stat st;
    const fs::path blob = cache::blob_path(m_dir, e.hash);
    if (::stat(blob.c_str(), &st) != 0) {
      total -= e.size;  // another process evicted it
      continue;
    }
    if (static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec != e.mtime_ns) {
      total = total - e.size + static_cast<uint64_t>(st.st_size);
      continue;
    }
    if (cache::remove_entry_files(m_dir, e.hash)) ++m_evictions;
    total -= e.size;
  }
}

std::unique_ptr<BuildLock> DiskEngineCache::lock_for_build(const std::string& hash,
                                                           std::chrono::milliseconds timeout) {
  check_key(hash);
  const fs::path path = cache::lock_path(m_dir, hash);
  const int fd = cache::acquire_lock_file(path, timeout);
  if (fd < 0) {
    const int err = errno;
    if (err == EWOULDBLOCK)
      log_info("engine cache: build lock of " + hash + " still held after " + std::to_string(timeout.count()) +
               " ms; building without it");
    else
      log_warning("engine cache: cannot create build lock " + path.string() + ": " + errno_string(err));
    return nullptr;
  }
  return std::unique_ptr<BuildLock>(new BuildLock(fd, path, hash));
}

}  // namespace kiln

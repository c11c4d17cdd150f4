// Engine caches: where built engines are kept between runs, keyed by the
// SHA-256 hex key of everything an engine depends on (graph, weights digest,
// input specs, engine-invariant build settings, environment fingerprint).
//
// EngineCache is the interface a custom backend implements. It stores opaque
// bytes: kiln packs an engine and its metadata (CacheEntry) into a
// self-checking entry before save — magic, format version, the key itself,
// section sizes, SHA-256 checksum (grammar in src/cache/cache_entry.h) — and
// verifies it after load. A corrupt, truncated, stale-format or foreign value is
// therefore just a miss (the engine is rebuilt and saved again), never a crash,
// whatever the backend does with the bytes.
//
// Built-in backends:
//   DiskEngineCache    {dir}/{hash}/blob.bin, LRU by mtime, size limit, shared by processes
//   RedisEngineCache   keys "kiln:engine:{hash}", timeouts, failures are misses
//   TieredEngineCache  fastest first (disk, then Redis); a far hit fills the near tiers
//
// A cache never makes a build fail: backends swallow I/O and network errors
// (counted in stats, logged as warnings). Exceptions are kept for API misuse
// (an invalid key: kiln::Error(InvalidArgument)).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

// ---- the interface ---------------------------------------------------------

// Held while one process builds the engine of a key; released by the destructor
// (and by the kernel if the process dies: flock()), so there are no stale locks.
class BuildLock {
 public:
  ~BuildLock();
  BuildLock(const BuildLock&) = delete;
  BuildLock& operator=(const BuildLock&) = delete;
  const std::string& hash() const { return m_hash; }

 private:
  friend class DiskEngineCache;
  BuildLock(int fd, std::filesystem::path path, std::string hash);
  int m_fd;
  std::filesystem::path m_path;
  std::string m_hash;
};

// Threading: kiln may call one EngineCache from several threads at once; the
// built-in backends are thread-safe and custom ones must be too.
class EngineCache {
 public:
  virtual ~EngineCache();

  // Stores `blob` under `hash`, replacing any previous value. Best effort: on
  // failure a backend should log and return rather than throw (kiln catches and
  // logs exceptions from custom backends anyway).
  virtual void save(const std::string& hash, const std::vector<uint8_t>& blob) = 0;

  // The bytes last saved under `hash`, or nullopt on a miss (absent, unreachable).
  virtual std::optional<std::vector<uint8_t>> load(const std::string& hash) = 0;

  // kiln calls this when the bytes load(hash) returned failed verification, so
  // the backend can drop them. Default: nothing (the rebuild's save overwrites).
  virtual void discard(const std::string& /*hash*/) {}

  // Optional: blocks until this caller may build `hash` while other builders of
  // it wait (see DiskEngineCache), or `timeout` passes. nullptr: no lock (the
  // default) — concurrent builders then duplicate work, nothing worse.
  virtual std::unique_ptr<BuildLock> lock_for_build(const std::string& /*hash*/,
                                                    std::chrono::milliseconds /*timeout*/) {
    return nullptr;
  }

  // Optional: a directory on this machine where kiln may keep small files of
  // its own beside the entries (compile_file's direct-mode manifests, which
  // make warm starts skip reading the model). nullopt (the default): none, and
  // compile_file always reads the model.
  virtual std::optional<std::filesystem::path> local_dir() const { return std::nullopt; }
};

// ---- what an entry holds ---------------------------------------------------

// One input's optimization profile as the engine was built for it.
struct CacheInputSpec {
  std::string name;
  DataType dtype = DataType::Undefined;
  Shape min, opt, max;
  bool operator==(const CacheInputSpec&) const = default;
};

// A weight the engine expects (for weightless engines: what a refit must provide).
struct CacheWeightInfo {
  std::string name;
  DataType dtype = DataType::Undefined;
  Shape shape;
  bool operator==(const CacheWeightInfo&) const = default;
};

// An engine plus the metadata needed to use it without deserializing it first.
// Packed/verified by kiln (src/cache/cache_entry.h: pack_entry / unpack_entry /
// load_entry / save_entry), never by a backend.
struct CacheEntry {
  std::vector<uint8_t> engine;  // the serialized engine, opaque here
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
  std::vector<CacheInputSpec> input_specs;
  std::vector<CacheWeightInfo> weights;
  bool needs_output_allocator = false;  // some output shape depends on data
  bool operator==(const CacheEntry&) const = default;
};

struct EngineCacheStats {
  uint64_t entries = 0;  // stored entries (disk: a directory scan; Redis: not known, 0)
  uint64_t bytes = 0;    // their total size
  // Disk: temp files of saves in progress, or left by killed writers and not
  // yet removed (they count toward the size limit too).
  uint64_t temp_files = 0;
  uint64_t temp_bytes = 0;
  // Counted by this object since it was made (not shared between processes):
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t errors = 0;     // failed I/O, unreachable server, malformed stored value
  uint64_t saves = 0;      // entries written
  uint64_t evictions = 0;  // entries removed to stay under the size limit
  uint64_t skipped = 0;    // Redis: calls not made while its circuit breaker was open
};

// What DiskEngineCache::remove_stale_temp_files() removed.
struct RemovedTempFiles {
  uint64_t files = 0;
  uint64_t bytes = 0;
};

struct EngineCacheItem {
  std::string hash;
  uint64_t size = 0;
  std::chrono::system_clock::time_point mtime;  // last save or hit
};

// ---- disk ------------------------------------------------------------------

// $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln, else <tmp>/kiln-cache-<uid>.
std::filesystem::path default_cache_dir();

// Layout: {dir}/{hash}/blob.bin, plus {dir}/.locks/{hash}.lock while a build
// lock is held. Keys are 1..128 characters of [0-9A-Za-z_-] (hex SHA-256 in
// practice); anything else is kiln::Error(InvalidArgument).
//
// - save: blob written to a unique temp file in the entry directory, fsync'd
//   and renamed over blob.bin (atomic). Then entries are evicted, least recently
//   used (oldest mtime) first, until the total — entries plus the temp files
//   left in the cache — is within the size limit (the entry just saved is never
//   evicted for other writers' temp files). A blob larger than the whole limit
//   is not stored (warning). I/O failures (ENOSPC,
//   EROFS, EACCES, ...) log a warning and count an error; save never throws for
//   them, and leaves no temp file behind.
// - load: reads blob.bin; checks its frame (magic, format version, key, sizes —
//   not the checksum, which the caller's unpack_entry verifies); a malformed
//   file is removed and counted as an error + miss. A hit touches the mtime.
// - Several processes and threads may share one directory: readers see whole
//   files only (rename), concurrent evictions tolerate each other (ENOENT is
//   fine). Temp files left by writers that died (e.g. SIGKILLed) count toward
//   the size limit and in stats() until removed: during eviction (after every
//   save), by purge and by remove_stale_temp_files() (`kiln cache verify`)
//   once their writer is known gone — its PID (in the name) no longer exists,
//   nobody holds the file's lock, and it was not modified for
//   k_dead_writer_temp_age (10 s; why each guard: src/core/atomic_file.h) —
//   and by any of these or by opening a cache once older than k_stale_temp_age.
//
// Build-once pattern (one process builds a key, the others wait and load):
//   if (auto hit = load_entry(cache, h)) return *hit;
//   auto lock = cache.lock_for_build(h, std::chrono::minutes(10));
//   if (auto hit = load_entry(cache, h)) return *hit;  // built while we waited
//   ... build ...; save_entry(cache, h, entry);         // lock released after
class DiskEngineCache final : public EngineCache {
 public:
  static constexpr uint64_t k_default_size_limit = uint64_t{5} << 30;  // 5 GiB
  static constexpr std::chrono::seconds k_stale_temp_age{600};

  // Creates `dir` if needed. An unusable directory is not an error here: it is
  // logged, and saves then fail (counted) and loads miss.
  explicit DiskEngineCache(std::filesystem::path dir = default_cache_dir(),
                           uint64_t size_limit = k_default_size_limit);

  void save(const std::string& hash, const std::vector<uint8_t>& blob) override;
  std::optional<std::vector<uint8_t>> load(const std::string& hash) override;
  void discard(const std::string& hash) override;  // remove + count an error

  bool remove(const std::string& hash);  // true when an entry was removed
  std::vector<EngineCacheItem> list() const;  // most recently used first
  // Keeps the keep_n most recently used entries (and removes stale temp
  // files); returns how many entries went.
  size_t purge(size_t keep_n);
  RemovedTempFiles remove_stale_temp_files();  // of writers known gone, or old (see above)
  EngineCacheStats stats() const;

  // Blocks until this process holds the build lock of `hash` or `timeout`
  // passes. nullptr on timeout or when the lock file cannot be created (e.g. a
  // read-only cache): the caller then builds anyway — saves are atomic, so a
  // duplicate build only costs time. Locks exclude other processes and other
  // DiskEngineCache objects; within one process they also exclude other threads.
  std::unique_ptr<BuildLock> lock_for_build(const std::string& hash, std::chrono::milliseconds timeout) override;

  const std::filesystem::path& dir() const { return m_dir; }
  std::optional<std::filesystem::path> local_dir() const override { return m_dir; }
  uint64_t size_limit() const { return m_size_limit; }

 private:
  void evict(const std::string& just_saved);
  std::filesystem::path m_dir;
  uint64_t m_size_limit;
  std::atomic<uint64_t> m_hits{0}, m_misses{0}, m_errors{0}, m_saves{0}, m_evictions{0};
};

// ---- Redis -----------------------------------------------------------------

// Values under "kiln:engine:{hash}" on one Redis server (one connection,
// serialized by a mutex). Any failure — server down, refused, timed out, reset,
// error reply (e.g. WRONGTYPE), a value that is not a well-framed entry for the
// key — is a miss or a no-op plus a counted error, never an exception.
// Eviction is left to the server (configure maxmemory-policy allkeys-lru).
//
// - Deadline: each call (connecting if needed, sending the command, reading
//   the reply) has one deadline: `timeout`, plus 1 s per 32 MiB moved so far,
//   so that a large value on a slow but working link gets through.
// - Circuit breaker: a transport failure (cannot connect, timed out, reset,
//   garbled reply) drops the connection and opens the breaker: for
//   `retry_after` this object makes no calls at all (loads are misses, saves
//   and discards no-ops, counted in stats().skipped). The first call after that
//   probes the server; a whole reply closes the breaker. One warning when it
//   opens ("... not calling it for 30 s") and one when it closes ("... answers
//   again; calls resume"); failed probes log at debug level. Error replies and
//   foreign values leave it closed: the server works.
// - Worst case while the server is down, hung or garbled: one deadline per
//   `retry_after` per object (so per process, with the CLI's one cache). A
//   deadline is `timeout` when no byte moves (hung server), `timeout` + a few
//   hundred ms for a SET into a server that stops reading (what its socket
//   buffers take, at 32 MiB/s), and never more than `timeout` + n / 32 MiB/s for
//   a call that moves n bytes. A cold `kiln run` (GET, GET, SET) against a hung
//   server costs about one timeout, not three plus one per partial write.
//   Callers on other threads wait for the mutex meanwhile, then skip.
class RedisEngineCache final : public EngineCache {
 public:
  static constexpr const char* k_key_prefix = "kiln:engine:";

  RedisEngineCache(std::string host = "127.0.0.1", int port = 6379,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(1000),
                   std::chrono::milliseconds retry_after = std::chrono::seconds(30));
  ~RedisEngineCache() override;

  void save(const std::string& hash, const std::vector<uint8_t>& blob) override;
  std::optional<std::vector<uint8_t>> load(const std::string& hash) override;
  void discard(const std::string& hash) override;  // DEL + count an error

  uint64_t errors() const;
  EngineCacheStats stats() const;  // entries/bytes are 0: not tracked; skipped: calls the breaker held back

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

// ---- tiers -----------------------------------------------------------------

// Tiers fastest first, e.g. {&disk, &redis}; not owned, they must outlive this.
// load tries each tier in order; a hit in tier i is saved into tiers 0..i-1.
// save and discard go to every tier (a tier that throws is logged and skipped).
// lock_for_build is the first tier's lock that is not nullptr (the disk's).
class TieredEngineCache final : public EngineCache {
 public:
  explicit TieredEngineCache(std::vector<EngineCache*> tiers);
  TieredEngineCache(EngineCache& near, EngineCache& far) : TieredEngineCache({&near, &far}) {}

  void save(const std::string& hash, const std::vector<uint8_t>& blob) override;
  std::optional<std::vector<uint8_t>> load(const std::string& hash) override;
  void discard(const std::string& hash) override;
  std::unique_ptr<BuildLock> lock_for_build(const std::string& hash, std::chrono::milliseconds timeout) override;
  // The first tier's that has one (the disk's in front of Redis).
  std::optional<std::filesystem::path> local_dir() const override;

 private:
  std::vector<EngineCache*> m_tiers;
};

}  // namespace kiln

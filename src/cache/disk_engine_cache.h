// Internals of DiskEngineCache (declared in kiln/engine_cache.h): the directory
// layout and the file operations on it, shared with the build lock and tests.
//
//   {root}/{hash}/blob.bin            one entry (a packed CacheEntry)
//   {root}/{hash}/.kiln-tmp-*         a save in progress (or left by a dead writer)
//   {root}/.locks/{hash}.lock         a build lock, flock()ed while held
//   {root}/.kiln-tmp-*, {root}/.manifests/.kiln-tmp-*   the same for the timing
//                                     cache and compile_file's manifests
//
// Every operation tolerates another process doing the same thing at the same
// time: ENOENT on unlink/rmdir/stat means someone else got there first.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/atomic_file.h"

namespace kiln::cache {

inline constexpr const char* k_blob_name = "blob.bin";
inline constexpr const char* k_locks_dir = ".locks";

inline std::filesystem::path entry_dir(const std::filesystem::path& root, std::string_view hash) {
  return root / std::string(hash);
}
inline std::filesystem::path blob_path(const std::filesystem::path& root, std::string_view hash) {
  return entry_dir(root, hash) / k_blob_name;
}
inline std::filesystem::path lock_path(const std::filesystem::path& root, std::string_view hash) {
  return root / k_locks_dir / (std::string(hash) + ".lock");
}

struct DiskEntry {
  std::string hash;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// Entries that have a blob, in directory order. With `cleanup`, stale temp
// files (older than `stale_age`, or with `dead_writers` of a writer known gone:
// core/atomic_file.h) and empty entry directories are removed on the way.
// `temps`, when given, counts the temp files anywhere in the cache (removed,
// and left).
std::vector<DiskEntry> scan_entries(const std::filesystem::path& root, bool cleanup,
                                    std::chrono::seconds stale_age, TempFiles* temps = nullptr,
                                    bool dead_writers = true);

// Removes the blob and (if then empty) the entry directory. True when this call
// removed the blob; false when it was already gone.
bool remove_entry_files(const std::filesystem::path& root, std::string_view hash);

// Build locks (see build_lock.cpp). acquire returns a locked fd whose file is
// still linked at `path`, or -1 on timeout/failure (errno says which: EWOULDBLOCK
// for a timeout).
int acquire_lock_file(const std::filesystem::path& path, std::chrono::milliseconds timeout);
void release_lock_file(int fd, const std::filesystem::path& path);
// Removes lock files nobody holds (their holders died). Never throws.
size_t remove_unheld_lock_files(const std::filesystem::path& root);

}  // namespace kiln::cache

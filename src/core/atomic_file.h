// Crash-safe file writes: write a unique temp file next to the target, fsync,
// rename over the target (atomic on POSIX), fsync the directory. Readers see
// either the old file or the new one, never a partial one; a crash leaves at
// most a temp file (named k_temp_prefix*), which remove_stale_temp_files()
// cleans up later.
//
// When is a temp file stale (its writer gone)? Either it is older than the
// caller's max_age (any writer would have finished long ago), or all of:
//  - the PID in its name no longer exists (kill(pid, 0) fails with ESRCH). A
//    dead writer's PID that was recycled reads as alive: the file then waits
//    for max_age, which is safe. Recycling cannot make a live writer's file
//    look dead: a name is unique to the process that made it, and the
//    process now holding that PID writes files of its own;
//  - nobody holds the flock() that write_file_atomic keeps on it while
//    writing. This covers a live writer whose PID means nothing here: another
//    PID namespace (containers sharing one cache volume) or an older kiln;
//  - it was not modified for k_dead_writer_temp_age. This covers the instant
//    between creating the file and locking it, and file systems where the
//    lock is not shared (some NFS setups): a writer updates the mtime with
//    every chunk it writes. If all three guards are fooled (a writer on
//    another host, stuck in fsync for longer than that), the writer's rename
//    fails and its save is a counted error — never a damaged entry.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace kiln {

inline constexpr std::string_view k_temp_prefix = ".kiln-tmp-";

// "strerror(err)" without the thread-safety trap of strerror().
std::string errno_string(int err);

// A fresh name "<dir>/.kiln-tmp-<stem>-<pid>-<n>-<random>" (the file is not created).
std::filesystem::path unique_temp_path(const std::filesystem::path& dir, std::string_view stem);

// Atomically replaces `path` with `bytes` (see above). The directory must exist.
// Throws kiln::Error(IO) naming the file and the OS error (ENOSPC, EROFS, ...);
// the temp file is removed on failure.
void write_file_atomic(const std::filesystem::path& path, std::span<const uint8_t> bytes);

// Far longer than a live writer goes without touching its file (one write()
// per 64 MiB), short enough that a crash loop does not pile up files.
inline constexpr std::chrono::seconds k_dead_writer_temp_age{10};

// The PID that unique_temp_path() put in a temp file's name, or -1.
long temp_file_writer_pid(std::string_view file_name);

// Temp files (k_temp_prefix*) directly in a directory: those removed as stale
// (see above) and those left (a live writer's, or one not yet known stale).
struct TempFiles {
  size_t removed = 0, kept = 0;
  uint64_t removed_bytes = 0, kept_bytes = 0;
  TempFiles& operator+=(const TempFiles& o) {
    removed += o.removed, kept += o.kept, removed_bytes += o.removed_bytes, kept_bytes += o.kept_bytes;
    return *this;
  }
};

// Counts the temp files in `dir` and, with `remove`, removes the stale ones:
// older than `max_age`, or (with `dead_writers`) of a writer known gone (see
// above). Never throws.
TempFiles scan_temp_files(const std::filesystem::path& dir, bool remove, std::chrono::seconds max_age,
                          bool dead_writers = true);

// scan_temp_files(dir, true, max_age, false).removed: the age rule only.
size_t remove_stale_temp_files(const std::filesystem::path& dir, std::chrono::seconds max_age);

}  // namespace kiln

// Crash-safe file writes: write a unique temp file next to the target, fsync,
// rename over the target (atomic on POSIX), fsync the directory. Readers see
// either the old file or the new one, never a partial one; a crash leaves at
// most a temp file (named k_temp_prefix*), which remove_stale_temp_files()
// cleans up later.
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

// Removes temp files (k_temp_prefix*) directly in `dir` whose mtime is older than
// `max_age` — leftovers of writers that died. Younger ones may belong to a live
// writer and stay. Never throws; returns how many were removed.
size_t remove_stale_temp_files(const std::filesystem::path& dir, std::chrono::seconds max_age);

}  // namespace kiln

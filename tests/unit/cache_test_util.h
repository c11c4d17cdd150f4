// Helpers shared by the engine/timing cache tests: temp directories, log
// capture, deterministic entries.
#pragma once

#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "cache/cache_entry.h"
#include "core/log.h"
#include "core/sha256.h"
#include "log_capture.h"
#include "kiln/engine_cache.h"

namespace kiln::test {

// A fresh directory under $TMPDIR (or /tmp), removed with its contents.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln-cache-test-XXXXXX").string();
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    m_path = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(m_path, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(m_path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return m_path; }

 private:
  std::filesystem::path m_path;
};


// A key that looks like a real one: hex SHA-256 of a label.
inline std::string key_of(const std::string& label) { return sha256_hex(label); }

// A deterministic entry whose engine bytes follow from `seed`; the seed is also
// stored in the metadata so a reader can regenerate and compare independently.
inline CacheEntry make_entry(uint64_t seed, size_t engine_size) {
  CacheEntry e;
  std::mt19937_64 rng(seed);
  e.engine.resize(engine_size);
  for (auto& b : e.engine) b = static_cast<uint8_t>(rng());
  e.input_names = {"seed:" + std::to_string(seed), "mask"};
  e.output_names = {"logits"};
  e.input_specs = {{"seed:" + std::to_string(seed), DataType::Float32, {1, 3, 8, 8}, {4, 3, 8, 8}, {16, 3, 8, 8}},
                   {"mask", DataType::Bool, {1}, {1}, {1}}};
  e.weights = {{"conv.weight", DataType::Float16, {16, 3, 3, 3}}, {"fc.bias", DataType::Float32, {10}}};
  e.needs_output_allocator = (seed & 1) != 0;
  return e;
}

// The seed make_entry() put in an entry (or -1).
inline int64_t seed_of(const CacheEntry& e) {
  if (e.input_names.empty() || e.input_names[0].rfind("seed:", 0) != 0) return -1;
  return std::stoll(e.input_names[0].substr(5));
}

inline void set_mtime(const std::filesystem::path& path, time_t seconds_ago) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = ::time(nullptr) - seconds_ago;
  times[0].tv_nsec = times[1].tv_nsec = 0;
  ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

inline time_t mtime_of(const std::filesystem::path& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return 0;
  return st.st_mtime;
}

}  // namespace kiln::test

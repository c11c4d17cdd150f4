// TimingCache: measured run times of kernel candidates, so a build does not
// re-time what an earlier build on the same device already timed.
//
// Keyed by (kernel signature, device): the signature names the op and everything
// that changes which candidate wins (shapes, dtypes, attributes, layout); the
// device string names the hardware ("cuda sm_90 NVIDIA H100", "cpu avx512").
// Each key holds the candidates timed for it, in milliseconds.
//
// Stored as JSON:
//   {"format": "kiln-timing-cache", "version": 1,
//    "entries": [{"kernel": "...", "device": "...", "timings": {"candidate": ms, ...}}, ...]}
//
// Threading: all methods are thread-safe (a reader/writer lock inside).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

struct TimingMeasurement {
  std::string candidate;
  double ms = 0;
  bool operator==(const TimingMeasurement&) const = default;
};

class TimingCache {
 public:
  TimingCache() = default;
  TimingCache(const TimingCache& other);
  TimingCache& operator=(const TimingCache& other);

  // The candidates timed for (kernel, device), fastest first (ties by name);
  // empty when none were.
  std::vector<TimingMeasurement> lookup(const std::string& kernel, const std::string& device) const;
  // The fastest candidate, if any was timed.
  std::optional<TimingMeasurement> best(const std::string& kernel, const std::string& device) const;

  // Stores a measurement. When the candidate already has one, the smaller time
  // is kept: timings are best-of-N, and noise only ever makes them larger.
  // ms must be finite and >= 0 (kiln::Error(InvalidArgument) otherwise).
  void record(const std::string& kernel, const std::string& device, const std::string& candidate, double ms);

  // Union of both caches; where both timed a candidate, the faster time wins.
  void merge(const TimingCache& other);

  size_t size() const;  // number of (kernel, device) keys
  bool empty() const { return size() == 0; }
  void clear();

  // Writes atomically (temp file + rename): readers see the old or the new file.
  // Throws kiln::Error(IO) when the file cannot be written.
  void save(const std::filesystem::path& path) const;
  // Replaces the contents with the file's. A missing file (silently) or an
  // unreadable/corrupt one (with a warning) leaves the cache empty and returns
  // false; never throws for the file's contents.
  bool load(const std::filesystem::path& path);

  std::string to_json() const;
  // Parses to_json() output; throws kiln::Error(Corrupt) naming `what` on anything malformed.
  static TimingCache from_json(const std::string& text, const std::string& what = "timing cache");

 private:
  using Key = std::pair<std::string, std::string>;  // (kernel, device)
  using Timings = std::map<std::string, double>;    // candidate → ms
  mutable std::shared_mutex m_mutex;
  std::map<Key, Timings> m_entries;
};

}  // namespace kiln

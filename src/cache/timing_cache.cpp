#include "kiln/timing_cache.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/atomic_file.h"
#include "core/check.h"
#include "core/log.h"
#include "kiln/error.h"

namespace kiln {

namespace {

constexpr const char* k_format = "kiln-timing-cache";
constexpr int k_version = 1;

bool valid_time(double ms) { return std::isfinite(ms) && ms >= 0; }

void keep_min(std::map<std::string, double>& timings, const std::string& candidate, double ms) {
  auto [it, inserted] = timings.emplace(candidate, ms);
  if (!inserted) it->second = std::min(it->second, ms);
}

}  // namespace

TimingCache::TimingCache(const TimingCache& other) {
  std::shared_lock lock(other.m_mutex);
  m_entries = other.m_entries;
}

TimingCache& TimingCache::operator=(const TimingCache& other) {
  if (this == &other) return *this;
  std::map<Key, Timings> copy;
  {
    std::shared_lock lock(other.m_mutex);
    copy = other.m_entries;
  }
  std::unique_lock lock(m_mutex);
  m_entries = std::move(copy);
  return *this;
}

std::vector<TimingMeasurement> TimingCache::lookup(const std::string& kernel, const std::string& device) const {
  std::vector<TimingMeasurement> out;
  {
    std::shared_lock lock(m_mutex);
    auto it = m_entries.find({kernel, device});
    if (it == m_entries.end()) return out;
    for (const auto& [candidate, ms] : it->second) out.push_back({candidate, ms});
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.ms < b.ms; });
  return out;  // ties keep map (name) order
}

std::optional<TimingMeasurement> TimingCache::best(const std::string& kernel, const std::string& device) const {
  std::vector<TimingMeasurement> all = lookup(kernel, device);
  if (all.empty()) return std::nullopt;
  return all.front();
}

void TimingCache::record(const std::string& kernel, const std::string& device, const std::string& candidate,
                         double ms) {
  check(valid_time(ms), ErrorCode::InvalidArgument,
        "timing cache: time " + std::to_string(ms) + " ms for candidate '" + candidate + "' of kernel '" + kernel +
            "' is not a finite non-negative number");
  std::unique_lock lock(m_mutex);
  keep_min(m_entries[{kernel, device}], candidate, ms);
}

void TimingCache::merge(const TimingCache& other) {
  if (this == &other) return;
  std::map<Key, Timings> theirs;
  {
    std::shared_lock lock(other.m_mutex);  // snapshot: never hold both locks (no lock-order deadlock)
    theirs = other.m_entries;
  }
  std::unique_lock lock(m_mutex);
  for (const auto& [key, timings] : theirs) {
    Timings& mine = m_entries[key];
    for (const auto& [candidate, ms] : timings) keep_min(mine, candidate, ms);
  }
}

size_t TimingCache::size() const {
  std::shared_lock lock(m_mutex);
  return m_entries.size();
}

void TimingCache::clear() {
  std::unique_lock lock(m_mutex);
  m_entries.clear();
}

std::string TimingCache::to_json() const {
  nlohmann::json entries = nlohmann::json::array();
  {
    std::shared_lock lock(m_mutex);
    for (const auto& [key, timings] : m_entries) {
      nlohmann::json t = nlohmann::json::object();
      for (const auto& [candidate, ms] : timings) t[candidate] = ms;
      entries.push_back({{"kernel", key.first}, {"device", key.second}, {"timings", std::move(t)}});
    }
  }
  const nlohmann::json doc = {{"format", k_format}, {"version", k_version}, {"entries", std::move(entries)}};
  try {
    return doc.dump(1);
  } catch (const nlohmann::json::exception& e) {
    throw Error(ErrorCode::InvalidArgument, std::string("timing cache: a name is not valid UTF-8: ") + e.what());
  }
}

TimingCache TimingCache::from_json(const std::string& text, const std::string& what) {
  auto fail = [&](const std::string& why) -> void { throw Error(ErrorCode::Corrupt, what + ": " + why); };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("not JSON: ") + e.what());
  }
  TimingCache cache;
  try {
  if (!doc.is_object() || !doc.contains("format") || doc["format"] != k_format) fail("not a kiln timing cache");
  if (!doc.contains("version") || doc["version"] != k_version)
    fail("unsupported version " + (doc.contains("version") ? doc["version"].dump() : std::string("(none)")));
  if (!doc.contains("entries") || !doc["entries"].is_array()) fail("no \"entries\" array");
  for (const auto& e : doc["entries"]) {
    if (!e.is_object() || !e.contains("kernel") || !e["kernel"].is_string() || !e.contains("device") ||
        !e["device"].is_string() || !e.contains("timings") || !e["timings"].is_object())
      fail("malformed entry " + e.dump().substr(0, 200));
    Timings& timings = cache.m_entries[{e["kernel"].get<std::string>(), e["device"].get<std::string>()}];
    for (const auto& [candidate, ms] : e["timings"].items()) {
      if (!ms.is_number() || !valid_time(ms.get<double>()))
        fail("bad time for candidate '" + candidate + "': " + ms.dump());
      keep_min(timings, candidate, ms.get<double>());
    }
  }
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("malformed: ") + e.what());
  }
  return cache;
}

void TimingCache::save(const std::filesystem::path& path) const {
  const std::string text = to_json();
  write_file_atomic(path, std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

bool TimingCache::load(const std::filesystem::path& path) {
  std::map<Key, Timings> loaded;
  bool ok = false;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::error_code ec;
    if (std::filesystem::exists(path, ec)) log_warning("timing cache: cannot read " + path.string() + "; starting empty");
  } else {
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) {
      log_warning("timing cache: cannot read " + path.string() + "; starting empty");
    } else {
      try {
        TimingCache parsed = from_json(text.str(), "timing cache " + path.string());
        loaded = std::move(parsed.m_entries);
        ok = true;
      } catch (const Error& e) {
        log_warning(e.message() + "; starting empty");
      }
    }
  }
  std::unique_lock lock(m_mutex);
  m_entries = std::move(loaded);
  return ok;
}

}  // namespace kiln

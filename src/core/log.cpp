#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

namespace kiln {

namespace {

LogLevel level_from_env() {
  const char* env = std::getenv("KILN_LOG_LEVEL");
  if (!env) return LogLevel::Warning;
  const std::string v(env);
  if (v == "debug" || v == "0") return LogLevel::Debug;
  if (v == "info" || v == "1") return LogLevel::Info;
  if (v == "warning" || v == "warn" || v == "2") return LogLevel::Warning;
  if (v == "error" || v == "3") return LogLevel::Error;
  if (v == "off" || v == "none" || v == "4") return LogLevel::Off;
  return LogLevel::Warning;
}

std::atomic<int>& level_ref() {
  static std::atomic<int> level{static_cast<int>(level_from_env())};
  return level;
}

struct SinkState {
  std::mutex mutex;
  LogSink sink;
};
SinkState& sink_state() {
  static SinkState state;
  return state;
}

const char* level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Info: return "info";
    case LogLevel::Warning: return "warning";
    case LogLevel::Error: return "error";
    case LogLevel::Off: return "off";
  }
  return "?";
}

}  // namespace

LogLevel log_level() { return static_cast<LogLevel>(level_ref().load(std::memory_order_relaxed)); }

void set_log_level(LogLevel level) { level_ref().store(static_cast<int>(level), std::memory_order_relaxed); }

LogSink set_log_sink(LogSink sink) {
  SinkState& s = sink_state();
  std::lock_guard lock(s.mutex);
  std::swap(s.sink, sink);
  return sink;
}

void log_message(LogLevel level, std::string_view message) {
  if (level == LogLevel::Off || level < log_level()) return;
  SinkState& s = sink_state();
  std::lock_guard lock(s.mutex);  // also keeps concurrent lines from interleaving
  if (s.sink) {
    s.sink(level, message);
    return;
  }
  std::fprintf(stderr, "kiln [%s] %.*s\n", level_name(level), static_cast<int>(message.size()), message.data());
}

}  // namespace kiln

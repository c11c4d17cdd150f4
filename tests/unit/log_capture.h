// LogCapture: the messages kiln logs while it is alive (at or above the
// current level: warnings and worse unless a test lowers it).
#pragma once

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/log.h"

namespace kiln::test {

class LogCapture {
 public:
  LogCapture() {
    m_previous = set_log_sink([this](LogLevel level, std::string_view msg) {
      std::lock_guard lock(m_mutex);
      m_lines.emplace_back(msg);
    });
  }
  ~LogCapture() { set_log_sink(m_previous); }
  std::vector<std::string> lines() const {
    std::lock_guard lock(m_mutex);
    return m_lines;
  }
  bool contains(std::string_view needle) const {
    for (const auto& l : lines())
      if (l.find(needle) != std::string::npos) return true;
    return false;
  }
  std::string all() const {
    std::string s;
    for (const auto& l : lines()) s += l + "\n";
    return s;
  }

 private:
  LogSink m_previous;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_lines;
};

}  // namespace kiln::test

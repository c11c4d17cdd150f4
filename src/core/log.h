// Minimal logging: messages at or above the current level go to the sink
// (stderr by default) as "kiln [warning] message".
//
// The level starts from the environment variable KILN_LOG_LEVEL
// (debug | info | warning | error | off, or 0..4; default warning) and can be
// changed with set_log_level(). Tests and embedders can capture messages with
// set_log_sink(). All functions are thread-safe.
#pragma once

#include <functional>
#include <string_view>

namespace kiln {

enum class LogLevel { Debug = 0, Info = 1, Warning = 2, Error = 3, Off = 4 };

using LogSink = std::function<void(LogLevel, std::string_view message)>;

LogLevel log_level();
void set_log_level(LogLevel level);
// Replaces the sink (an empty function restores stderr); returns the previous one.
LogSink set_log_sink(LogSink sink);

void log_message(LogLevel level, std::string_view message);
inline void log_debug(std::string_view message) { log_message(LogLevel::Debug, message); }
inline void log_info(std::string_view message) { log_message(LogLevel::Info, message); }
inline void log_warning(std::string_view message) { log_message(LogLevel::Warning, message); }

}  // namespace kiln

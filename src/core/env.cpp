#include "core/env.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <string>

namespace kiln {

std::optional<bool> env_switch(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  std::string s(v);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  return std::nullopt;
}

std::string env_switches(std::initializer_list<const char*> names) {
  std::string out;
  for (const char* n : names)
    if (const std::optional<bool> v = env_switch(n)) out += std::string(" ") + n + (*v ? "=1" : "=0");
  return out;
}

}  // namespace kiln

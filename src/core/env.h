// Boolean switches read from the environment (KILN_AUTO_CUDA_GRAPHS, the
// speed switches compared in docs/PERFORMANCE.md), read one way everywhere.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>

namespace kiln {

// The variable `name` as a switch: 1/true/yes/on → true, 0/false/no/off →
// false (any case); unset, empty or anything else → none, so a typo never
// flips a default.
std::optional<bool> env_switch(const char* name);

// env_switch(name), or `fallback` where it says nothing.
inline bool env_flag(const char* name, bool fallback) { return env_switch(name).value_or(fallback); }

// " NAME=1" or " NAME=0" for each of `names` that is set as a switch, in
// order; "" when none is: the switches a fingerprint or timing key holds.
std::string env_switches(std::initializer_list<const char*> names);

}  // namespace kiln

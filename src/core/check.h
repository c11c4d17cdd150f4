// Internal precondition checks that throw kiln::Error (not part of the API).
#pragma once

#include <string>

#include "kiln/error.h"

namespace kiln {

// Throws kiln::Error(code, message) when cond is false.
inline void check(bool cond, ErrorCode code, const std::string& message) {
  if (!cond) throw Error(code, message);
}

}  // namespace kiln

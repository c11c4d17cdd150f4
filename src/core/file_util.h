// Whole-file reads with kiln::Error naming the path (atomic writes: core/atomic_file.h).
#pragma once

#include <cstdint>
#include <string>

#include "kiln/error.h"

namespace kiln {

// Reads a regular file whole. `what` names the file's role in messages
// ("model", "engine"). Missing, unreadable, a directory, a FIFO or any other
// non-regular file → Error(IO); larger than `max_bytes` → Error(oversize_code)
// with `oversize_hint` appended to the message.
std::string read_file(const std::string& path, const std::string& what, uint64_t max_bytes,
                      ErrorCode oversize_code = ErrorCode::IO, const std::string& oversize_hint = "");

}  // namespace kiln

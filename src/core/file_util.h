// Whole-file reads with kiln::Error(IO) naming the path (atomic writes: core/atomic_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiln {

// Refuses directories and non-regular files; `max_bytes` guards against
// reading something absurd by mistake.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes = uint64_t{1} << 40);
std::string read_text_file(const std::string& path);

}  // namespace kiln

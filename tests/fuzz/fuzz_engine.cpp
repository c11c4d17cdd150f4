// libFuzzer target: engine deserialization (src/engine/format.h). The first
// byte picks whether the SHA-256 is checked: mostly not, so that mutations
// reach the payload parser, the graph reader and the memory-plan check (what
// a forged engine with a recomputed checksum, or an entry from a shared cache,
// reaches: the cache reads engines without their own checksum).
#include <cstddef>
#include <cstdint>

#include "engine/format.h"
#include "kiln/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool verify_checksum = data[0] == 0xff;
  try {
    kiln::engine::read_engine(data + 1, size - 1, "fuzz.kiln", verify_checksum);
  } catch (const kiln::Error&) {
  }
  return 0;
}

// libFuzzer target: ONNX import (protobuf parse, IR conversion, validation
// with shape inference) of arbitrary bytes. Any kiln::Error is a clean
// refusal; a crash, a sanitizer report, a leak or another exception is a bug.
#include <cstddef>
#include <cstdint>
#include <string>

#include "kiln/error.h"
#include "onnx/import.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // No base directory: external data is refused, so no file is ever read.
    kiln::onnx::import_bytes(std::string(reinterpret_cast<const char*>(data), size), "", "fuzz.onnx");
  } catch (const kiln::Error&) {
  }
  return 0;
}

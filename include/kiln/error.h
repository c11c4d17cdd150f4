// kiln::Error — the one exception type kiln throws for anything a user can cause.
// Errors carry a code and a message naming the file, node or tensor; context is
// prepended on the way up (IREE-style) so the final message reads outer → inner.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace kiln {

enum class ErrorCode {
  InvalidModel,     // the ONNX file is malformed or inconsistent
  Unsupported,      // valid ONNX that kiln cannot run (op, opset, dtype)
  InvalidArgument,  // bad API/CLI usage: wrong input name, shape, dtype
  Incompatible,     // engine built for another backend/device/format version
  OutOfMemory,
  IO,               // file system or network failure
  Cuda,             // CUDA / cuDNN / cuBLAS failure
  Corrupt,          // checksum or structure mismatch in an engine or cache entry
  Internal,         // a kiln bug: an invariant did not hold
};

std::string_view to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, std::string message);

  ErrorCode code() const noexcept { return m_code; }
  // The message without the "[code] " prefix that what() carries.
  const std::string& message() const noexcept { return m_message; }

  // Returns a copy whose message is "context: message" — used when rethrowing
  // from an outer layer that knows the file or node.
  Error with_context(std::string_view context) const;

 private:
  ErrorCode m_code;
  std::string m_message;
};

}  // namespace kiln

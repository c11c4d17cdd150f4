#include "kiln/error.h"

namespace kiln {

std::string_view to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidModel: return "invalid model";
    case ErrorCode::Unsupported: return "unsupported";
    case ErrorCode::InvalidArgument: return "invalid argument";
    case ErrorCode::Incompatible: return "incompatible";
    case ErrorCode::OutOfMemory: return "out of memory";
    case ErrorCode::IO: return "I/O";
    case ErrorCode::Cuda: return "CUDA";
    case ErrorCode::Corrupt: return "corrupt";
    case ErrorCode::Internal: return "internal";
  }
  return "unknown";
}

Error::Error(ErrorCode code, std::string message)
    : std::runtime_error("[" + std::string(to_string(code)) + "] " + message),
      m_code(code),
      m_message(std::move(message)) {}

Error Error::with_context(std::string_view context) const {
  return Error(m_code, std::string(context) + ": " + m_message);
}

}  // namespace kiln

"""kiln errors raised from Python code, alike those the C++ side raises."""
from __future__ import annotations

from . import _kiln
from ._kiln import ErrorCode

_CLASSES = {
    ErrorCode.InvalidModel: (_kiln.InvalidModelError, "invalid model"),
    ErrorCode.Unsupported: (_kiln.UnsupportedError, "unsupported"),
    ErrorCode.InvalidArgument: (_kiln.InvalidArgumentError, "invalid argument"),
    ErrorCode.Incompatible: (_kiln.IncompatibleError, "incompatible"),
    ErrorCode.OutOfMemory: (_kiln.OutOfMemoryError, "out of memory"),
    ErrorCode.IO: (_kiln.IOFailureError, "I/O"),
    ErrorCode.Cuda: (_kiln.CudaError, "CUDA"),
    ErrorCode.Corrupt: (_kiln.CorruptError, "corrupt"),
    ErrorCode.Internal: (_kiln.InternalError, "internal"),
}


def make_error(code: ErrorCode, message: str) -> _kiln.Error:
    """The exception kiln's C++ side would raise for (code, message)."""
    cls, text = _CLASSES[code]
    err = cls(f"[{text}] {message}")
    err.code = code
    err.message = message
    return err

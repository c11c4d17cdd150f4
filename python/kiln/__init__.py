"""kiln: an inference engine for ONNX models (C++20/CUDA), from Python.

    >>> import kiln
    >>> engine = kiln.compile("resnet50.onnx", device="cuda:0")   # built once, then from the cache
    >>> session = kiln.Session(engine)
    >>> outputs = session.run({"input": batch})                     # {name: numpy array}
    >>> model = kiln.models.load("models/packages/ppocr_v4")        # a model package: predict(image)
    >>> print(model.predict("receipt.png").text)

Importing needs no GPU. See docs/PYTHON.md.
"""
from . import _kiln
from ._kiln import (
    BuildConfig,
    CorruptError,
    CudaError,
    Engine,
    Error,
    ErrorCode,
    IncompatibleError,
    InternalError,
    InvalidArgumentError,
    InvalidModelError,
    IOFailureError,
    Model,
    OutOfMemoryError,
    OutputAllocator,
    Tensor,
    TensorInfo,
    TensorSpec,
    TimingCache,
    UnsupportedError,
    as_tensor,
    cuda_available,
    default_cache_dir,
    set_log_level,
)
from .caches import (
    DEFAULT_ENGINE_CACHE_SIZE,
    BaseEngineCache,
    CacheEntry,
    DiskEngineCache,
    RedisEngineCache,
    TieredEngineCache,
)
from .graphs import GraphCache, GraphKey, establish_graph_cache
from .session import CompileResult, Session, ShapeRange, build_engine, compile, compile_with_result, default_device
from . import runtime  # noqa: E402  (after Session, which it wraps)
from . import models  # noqa: E402  (task-level models: kiln.models.load(path).predict(image))

__version__ = getattr(_kiln, "__version__", "0")
cuda_built: bool = _kiln.cuda_built

__all__ = [
    "BaseEngineCache", "BuildConfig", "CacheEntry", "CompileResult", "CorruptError", "CudaError",
    "DEFAULT_ENGINE_CACHE_SIZE", "DiskEngineCache", "Engine", "Error", "ErrorCode", "GraphCache", "GraphKey",
    "IOFailureError", "IncompatibleError", "InternalError", "InvalidArgumentError", "InvalidModelError", "Model",
    "OutOfMemoryError", "OutputAllocator", "RedisEngineCache", "Session", "ShapeRange", "Tensor", "TensorInfo",
    "TensorSpec", "TieredEngineCache", "TimingCache", "UnsupportedError", "as_tensor", "build_engine", "compile",
    "compile_with_result", "cuda_available", "cuda_built", "default_cache_dir", "default_device",
    "establish_graph_cache", "models", "runtime", "set_log_level",
]

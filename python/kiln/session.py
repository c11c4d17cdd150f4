"""Compiling models into engines (through an engine cache) and running them."""
from __future__ import annotations

import os
import threading
import warnings
from typing import Any, Dict, Iterable, Mapping, NamedTuple, Optional, Sequence, Union

from . import _kiln
from ._errors import make_error
from ._kiln import BuildConfig, Engine, ErrorCode, Model, OutputAllocator, TimingCache
from .caches import DiskEngineCache, native_cache
from .graphs import GraphCache

PathLike = Union[str, "os.PathLike[str]"]


class ShapeRange(NamedTuple):
    """An input's optimization profile: any shape between min and max, planned for opt."""

    min: Sequence[int]
    opt: Sequence[int]
    max: Sequence[int]


class CompileResult(NamedTuple):
    engine: Engine
    cache_hit: bool
    key: str  # the engine-cache key (hex SHA-256)
    seconds: float  # building or loading


def default_device() -> str:
    """"cuda:0" when kiln has a CUDA backend and a GPU, else "cpu"."""
    return "cuda:0" if _kiln.cuda_available() else "cpu"


def _shape(s: Any) -> list:
    return [int(d) for d in s]


def _profile(spec: Any) -> tuple:
    """(min, opt, max) from a ShapeRange, a torch_tensorrt.Input-like object
    (min_shape/opt_shape/max_shape), a (min, opt, max) triple or one static shape."""
    if hasattr(spec, "min_shape"):
        return _shape(spec.min_shape), _shape(spec.opt_shape), _shape(spec.max_shape)
    spec = list(spec)
    if len(spec) == 3 and all(isinstance(s, (list, tuple)) for s in spec):
        return tuple(_shape(s) for s in spec)
    return _shape(spec), _shape(spec), _shape(spec)


def _build_config(device: Optional[str] = None, precision: str = "fp32",
                  profiles: Optional[Mapping[str, Any]] = None, optimization_level: int = 3,
                  weight_streaming: bool = False, strip_engine_weights: bool = False,
                  cpu_threads: int = 0) -> BuildConfig:
    c = BuildConfig()
    c.device = str(device) if device is not None else default_device()
    c.precision = str(precision).replace("torch.", "")
    c.profiles = {name: _profile(spec) for name, spec in (profiles or {}).items()}
    c.optimization_level = optimization_level
    c.weight_streaming = weight_streaming
    c.weightless = strip_engine_weights
    c.cpu_threads = cpu_threads
    return c


_default_caches: Dict[str, DiskEngineCache] = {}


def _default_cache() -> DiskEngineCache:
    d = str(_kiln.default_cache_dir())
    if d not in _default_caches:
        _default_caches[d] = DiskEngineCache(d)
    return _default_caches[d]


def compile_with_result(model_or_path: Union[Model, PathLike], *, device: Optional[str] = None,
                        precision: str = "fp32", profiles: Optional[Mapping[str, Any]] = None,
                        cache_built_engines: bool = True, reuse_cached_engines: bool = True,
                        engine_cache: Any = None, timing_cache_path: Optional[PathLike] = None,
                        strip_engine_weights: bool = False, optimization_level: int = 3,
                        weight_streaming: bool = False, cpu_threads: int = 0,
                        lock_timeout: float = 600.0) -> CompileResult:
    """kiln.compile, also saying whether the cache served it, its key and the time taken."""
    config = _build_config(device, precision, profiles, optimization_level, weight_streaming,
                           strip_engine_weights, cpu_threads)
    cache = None
    if cache_built_engines or reuse_cached_engines:
        cache = native_cache(engine_cache if engine_cache is not None else _default_cache())
    timing = None
    if timing_cache_path is not None:
        timing = TimingCache()
        timing.load(os.fspath(timing_cache_path))
    target = model_or_path if isinstance(model_or_path, Model) else os.fspath(model_or_path)
    engine, hit, key, seconds = _kiln.compile(target, config, cache, reuse_cached_engines, cache_built_engines,
                                              timing, lock_timeout)
    if timing is not None and not hit:
        try:
            timing.save(os.fspath(timing_cache_path))
        except _kiln.Error as e:  # the engine stands; only the timings are lost
            warnings.warn(f"kiln: timing cache not saved: {e.message}", RuntimeWarning, stacklevel=2)
    return CompileResult(engine, hit, key, seconds)


def compile(model_or_path: Union[Model, PathLike], *, device: Optional[str] = None, precision: str = "fp32",
            profiles: Optional[Mapping[str, Any]] = None, cache_built_engines: bool = True,
            reuse_cached_engines: bool = True, engine_cache: Any = None,
            timing_cache_path: Optional[PathLike] = None, strip_engine_weights: bool = False,
            optimization_level: int = 3, weight_streaming: bool = False, cpu_threads: int = 0,
            lock_timeout: float = 600.0) -> Engine:
    """Builds the engine of an ONNX model, or loads it from an engine cache.

    Args:
        model_or_path: a kiln.Model or an ONNX file (a file's warm start skips
            reading the model when the cache has a local directory).
        device: "cpu", "cuda" or "cuda:N"; None: "cuda:0" with a GPU, else "cpu".
        precision: "fp32", "fp16" or "bf16".
        profiles: input name -> (min, opt, max) shapes, a kiln.ShapeRange, a
            torch_tensorrt.Input-like object, or one static shape.
        cache_built_engines: store a built engine in the cache.
        reuse_cached_engines: load the engine from the cache when it is there.
        engine_cache: a kiln cache or any BaseEngineCache subclass; None: the
            default DiskEngineCache (``~/.cache/kiln``, 5 GiB).
        timing_cache_path: a JSON file of kernel timings read before and written
            after a build (None: timings are not kept).
        strip_engine_weights: cache the engine without weights (refit from the
            model on load).
        weight_streaming: build for Session weight streaming (runtime.weight_streaming).

    Examples:
        >>> import kiln
        >>> engine = kiln.compile("resnet50.onnx", device="cuda:0", precision="fp16",
        ...                       profiles={"input": ((1, 3, 224, 224), (8, 3, 224, 224), (32, 3, 224, 224))},
        ...                       cache_built_engines=True, reuse_cached_engines=True,
        ...                       engine_cache=kiln.DiskEngineCache("/tmp/kiln_engines", 1 << 30))
        >>> session = kiln.Session(engine)
        >>> outputs = session.run({"input": batch})
    """
    return compile_with_result(model_or_path, device=device, precision=precision, profiles=profiles,
                               cache_built_engines=cache_built_engines, reuse_cached_engines=reuse_cached_engines,
                               engine_cache=engine_cache, timing_cache_path=timing_cache_path,
                               strip_engine_weights=strip_engine_weights, optimization_level=optimization_level,
                               weight_streaming=weight_streaming, cpu_threads=cpu_threads,
                               lock_timeout=lock_timeout).engine


def build_engine(model: Union[Model, PathLike], *, timing_cache: Optional[TimingCache] = None,
                 **build_options: Any) -> Engine:
    """Builds an engine without any cache (same build options as kiln.compile)."""
    if not isinstance(model, Model):
        model = Model.load(os.fspath(model))
    return _kiln.build_engine(model, _build_config(**build_options), timing_cache)


def _to_torch(t: Any) -> Any:
    """A torch tensor over a kiln.Tensor's memory (DLPack; older torch lacks
    bool there, so numpy on the host, __cuda_array_interface__ on a GPU)."""
    import torch

    try:
        return torch.from_dlpack(t)
    except (RuntimeError, TypeError):
        if t.device == "cpu":
            return torch.from_numpy(t.numpy())
        return torch.as_tensor(t, device=t.device)


class Session:
    """Runs an Engine on one device. Inputs: numpy arrays, kiln.Tensor, and any
    DLPack or ``__cuda_array_interface__`` object (torch, CuPy); device memory
    is read in place. Runs of one Session are serialized (the GIL is released
    meanwhile); for parallel serving make one Session per thread over one Engine.

    Args:
        engine: the kiln.Engine.
        device: "" = the engine's device kind, index 0; "cuda:1" another GPU.
        threads: CPU kernel threads (-1: as built, 0: all cores).
        graph_cache: a kiln.GraphCache (CUDA graphs, one per input shape); see
            establish_graph_cache. One cache serves one engine's Sessions.
        batch_buckets: pad the batch up to the next of these sizes so variable
            batches share a few graphs.
        capture_shapes: input shapes ({name: shape}) captured at creation.
        pre_allocated_outputs: reuse output buffers per shape (overwritten by the
            next run; copy what you keep).
        output_allocator: a kiln.OutputAllocator for data-dependent outputs.

    Settings fixed when kiln makes its C++ Session (graph_cache,
    pre_allocated_outputs, output_allocator) are changed by kiln.runtime's
    context managers by making a new C++ Session over the same Engine: the
    weights are shared, per-shape state is rebuilt on the next run, and a
    graph cache of this Session starts empty.
    """

    def __init__(self, engine: Engine, *, device: str = "", threads: int = -1, max_shape_plans: int = 8,
                 profile: bool = False, time_runs: bool = False, graph_cache: Optional[GraphCache] = None,
                 batch_buckets: Iterable[int] = (), capture_shapes: Iterable[Mapping[str, Sequence[int]]] = (),
                 pre_allocated_outputs: bool = False, output_allocator: Optional[OutputAllocator] = None) -> None:
        if not isinstance(engine, Engine):
            raise TypeError(f"Session needs a kiln.Engine, got {type(engine).__name__}")
        self._engine = engine
        self._input_dtypes: Dict[str, str] = {s.name: s.dtype for s in engine.inputs}
        self._lock = threading.Lock()
        self._options: Dict[str, Any] = dict(
            device=device, threads=threads, max_shape_plans=max_shape_plans, profile=profile, time_runs=time_runs,
            graph_cache=graph_cache, batch_buckets=[int(b) for b in batch_buckets],
            capture_shapes=[{k: _shape(v) for k, v in s.items()} for s in capture_shapes],
            pre_allocated_outputs=pre_allocated_outputs, output_allocator=output_allocator)
        self._native = self._make()

    def _make(self) -> Any:
        o = dict(self._options)
        cache = o.pop("graph_cache")
        return _kiln.NativeSession(self._engine, graph_cache=cache._attach(self) if cache is not None else None, **o)

    def _reconfigure(self, **changes: Any) -> Dict[str, Any]:
        """Applies SessionOptions changes by making a new C++ Session; returns the previous values."""
        with self._lock:
            previous = {k: self._options[k] for k in changes}
            self._options.update(changes)
            try:
                self._native = self._make()
            except BaseException:
                self._options.update(previous)
                raise
            return previous

    def run(self, inputs: Any, *, disable_cuda_graphs: bool = False, outputs_on_device: bool = False,
            output: str = "numpy") -> Dict[str, Any]:
        """Runs the engine; returns {output name: value} in the engine's output order.

        Args:
            inputs: {input name: array}; a lone array for a one-input engine.
            disable_cuda_graphs: run this call without the graph cache.
            outputs_on_device: leave outputs in the device's memory.
            output: "numpy" (host arrays; bfloat16 stays a kiln.Tensor), "tensor"
                (kiln.Tensor, DLPack-capable, wherever the outputs are) or
                "torch" (torch tensors through DLPack, no copy).
        """
        if output not in ("numpy", "tensor", "torch"):
            raise ValueError(f"output='{output}': 'numpy', 'tensor' or 'torch'")
        if not isinstance(inputs, Mapping):
            names = list(self._input_dtypes)
            if len(names) != 1:
                raise make_error(ErrorCode.InvalidArgument,
                                 f"the engine has {len(names)} inputs ({', '.join(names)}): pass a dict")
            inputs = {names[0]: inputs}
        inputs = {k: self._from_python(k, v) for k, v in inputs.items()}
        out = self._native.run(inputs, disable_cuda_graphs, outputs_on_device, output == "numpy")
        if output == "torch":
            out = {k: _to_torch(v) for k, v in out.items()}
        return out

    __call__ = run

    def _from_python(self, name: str, value: Any) -> Any:
        """Lists and scalars as arrays of the input's dtype (numpy would guess float64/int64)."""
        if isinstance(value, (list, tuple, int, float, bool)):
            import numpy

            dtype = self._input_dtypes.get(name)
            return numpy.asarray(value, dtype=dtype if dtype not in (None, "bfloat16") else None)
        return value

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def device(self) -> str:
        return self._native.device

    @property
    def inputs(self) -> list:
        return self._engine.inputs

    @property
    def outputs(self) -> list:
        return self._engine.outputs

    @property
    def graph_cache(self) -> Optional[GraphCache]:
        return self._options["graph_cache"]

    @property
    def pre_allocated_outputs(self) -> bool:
        return self._options["pre_allocated_outputs"]

    @property
    def output_allocator(self) -> Optional[OutputAllocator]:
        return self._options["output_allocator"]

    def stats(self) -> Dict[str, Any]:
        """Contexts, device bytes, runs, last run's timing, graph runs (answers while a run is in flight)."""
        return self._native.stats()

    def profile(self) -> list:
        """Per-node times of the last profiled input shape (Session(profile=True))."""
        return self._native.profile()

    def reset_profile(self) -> None:
        self._native.reset_profile()

    def set_weight_streaming_budget(self, nbytes: int) -> None:
        """Device bytes the weights may take (-1: all resident); engine built with weight_streaming=True."""
        self._native.set_weight_streaming_budget(int(nbytes))

    def weight_streaming_budget(self) -> int:
        return self._native.weight_streaming_budget()

    def streamable_weights_bytes(self) -> int:
        return self._native.streamable_weights_bytes()

    def __repr__(self) -> str:
        return f"kiln.Session({self._engine!r}, device={self.device})"

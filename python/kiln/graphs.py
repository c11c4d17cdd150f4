"""CUDA-graph caches, with the names inference_models' TRTCudaGraphCache has."""
from __future__ import annotations

from typing import Any, List, NamedTuple, Optional, Sequence, Tuple

from . import _kiln


class GraphKey(NamedTuple):
    """An entry's key. For a one-input engine, ``(shape, dtype, device)`` as the
    seeds have it (``((1, 3, 224, 224), "float32", "cuda:0")``); for n inputs,
    ``shape`` and ``dtype`` are tuples of n, in the engine's input order."""

    shape: Tuple[Any, ...]
    dtype: Any
    device: str


_DTYPE_ALIASES = {"float": "float32", "half": "float16", "double": "float64", "long": "int64", "int": "int32",
                  "short": "int16", "bool_": "bool"}


def _dtype_name(dtype: Any) -> str:
    """kiln's name for a dtype given as a string, numpy dtype or torch dtype."""
    if isinstance(dtype, str):
        name = dtype
    elif type(dtype).__module__ == "torch":
        name = str(dtype)
    else:
        import numpy

        name = numpy.dtype(dtype).name
    name = name[len("torch."):] if name.startswith("torch.") else name
    return _DTYPE_ALIASES.get(name, name)


def _parts(key: Sequence[Any]) -> Tuple[List[List[int]], List[str], str]:
    shape, dtype, device = key
    shape = tuple(shape)
    if all(isinstance(d, int) for d in shape):  # one input, the seeds' form
        shapes, dtypes = [list(shape)], [dtype]
    else:
        shapes = [list(s) for s in shape]
        dtypes = list(dtype) if isinstance(dtype, (tuple, list)) else [dtype] * len(shapes)
    return shapes, [_dtype_name(d) for d in dtypes], str(device)


def _key(raw: Tuple[Any, Any, str]) -> GraphKey:
    shapes, dtypes, device = raw
    if len(shapes) == 1:
        return GraphKey(tuple(shapes[0]), dtypes[0], device)
    return GraphKey(tuple(tuple(s) for s in shapes), tuple(dtypes), device)


class GraphCache:
    """LRU cache of captured CUDA graphs for one engine's Sessions, keyed by the inputs'
    ``(shape, dtype, device)``. Each entry owns an execution context (kernels,
    arenas with fixed input and output buffers, a stream) and its graphs; a
    miss runs, captures and stores, a hit copies in, replays and copies out.
    On the CPU an entry is the prepared plan, so the API behaves the same.
    Thread-safe. One cache serves one engine's Sessions (entries per device).

    Args:
        capacity: entries kept; the least recently used go first.
        max_bytes: optional device-memory budget of the entries together (0: none).

    Examples:
        >>> import kiln
        >>> cache = kiln.GraphCache(capacity=16)
        >>> session = kiln.Session(engine, graph_cache=cache)
        >>> session.run({"images": batch})         # captured once per input shape
        >>> cache.get_current_size()
        1
        >>> for shape, dtype, device in cache.list_keys():
        ...     print(f"Cached: shape={shape}, dtype={dtype}")
        >>> cache.purge(n_oldest=4)                # or cache.purge() for all
    """

    def __init__(self, capacity: int = 8, max_bytes: int = 0) -> None:
        self._native = _kiln.NativeGraphCache(capacity, max_bytes)

    @classmethod
    def _wrap(cls, native: Any) -> "GraphCache":
        cache = cls.__new__(cls)
        cache._native = native
        return cache

    def _attach(self, session: Any) -> Any:
        """The native cache for `session` (kiln binds a cache to one engine, so
        a Session remade over the same Engine keeps its entries)."""
        return self._native

    @property
    def capacity(self) -> int:
        return self._native.capacity

    @property
    def max_bytes(self) -> int:
        return self._native.max_bytes

    # ---- kiln's names ----
    def size(self) -> int:
        """Entries held now."""
        return self._native.size()

    def keys(self) -> List[GraphKey]:
        """Keys, least recently used (next evicted) first."""
        return [_key(k) for k in self._native.keys()]

    def contains(self, key: Sequence[Any]) -> bool:
        try:
            return self._native.contains(*_parts(key))
        except (_kiln.Error, TypeError, ValueError):
            return False

    def remove(self, key: Sequence[Any]) -> None:
        """Drops the entry (no-op when absent); its memory goes back once no run uses it."""
        try:
            self._native.remove(*_parts(key))
        except (_kiln.Error, TypeError, ValueError):
            pass

    def purge(self, n_oldest: Optional[int] = None) -> None:
        """Drops the n least recently used entries (all when None); device memory is trimmed once."""
        self._native.purge(n_oldest)

    def entries(self) -> List[dict]:
        """Per entry: key, capture mode, graphs, device bytes, hits, capture time."""
        return [dict(e, key=_key(e["key"])) for e in self._native.entries()]

    def stats(self) -> dict:
        return self._native.stats()

    # ---- the seeds' names ----
    def get_current_size(self) -> int:
        """Number of entries (TRTCudaGraphCache.get_current_size)."""
        return self.size()

    def list_keys(self) -> List[GraphKey]:
        """``(shape, dtype, device)`` of every entry, oldest first (eviction order)."""
        return self.keys()

    def safe_remove(self, key: Sequence[Any]) -> None:
        """Removes one entry; a key not in the cache is a no-op.

        >>> cache.safe_remove(((1, 3, 384, 384), "float16", "cuda:0"))
        """
        self.remove(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (tuple, list)) and len(key) == 3 and self.contains(key)

    def __len__(self) -> int:
        return self.size()

    def __repr__(self) -> str:
        return f"kiln.GraphCache(capacity={self.capacity}, size={self.size()})"


def establish_graph_cache(default_cuda_graph_cache_size: int,
                          cuda_graph_cache: Optional[GraphCache] = None) -> Optional[GraphCache]:
    """The graph cache a Session should use, as establish_trt_cuda_graph_cache decides it.

    ``cuda_graph_cache`` when given (the environment is not read); otherwise a
    new ``GraphCache(default_cuda_graph_cache_size)`` when the environment
    variable ``KILN_AUTO_CUDA_GRAPHS`` is true (1, true, yes, on), else None
    (no graphs; the default).

    Examples:
        >>> import os
        >>> os.environ["KILN_AUTO_CUDA_GRAPHS"] = "1"
        >>> cache = kiln.establish_graph_cache(default_cuda_graph_cache_size=8)
        >>> session = kiln.Session(engine, graph_cache=cache)

        A caller-provided cache takes priority:

        >>> mine = kiln.GraphCache(capacity=32)
        >>> assert kiln.establish_graph_cache(8, cuda_graph_cache=mine) is mine
    """
    if cuda_graph_cache is not None:
        return cuda_graph_cache
    native = _kiln.establish_graph_cache(default_cuda_graph_cache_size)
    return None if native is None else GraphCache._wrap(native)

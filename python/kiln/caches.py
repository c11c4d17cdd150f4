"""Engine caches as torch_tensorrt has them: a base class to subclass in Python
(save/load of opaque blobs), a disk cache, Redis, and tiers of them.

kiln packs an engine and its metadata into a self-checking entry (magic,
format version, the key itself, SHA-256) before ``save`` and verifies it after
``load``, so whatever a backend does with the bytes, a damaged or foreign blob
is a miss and a rebuild, never a crash. A backend that raises is a miss (load)
or a no-op (save) with a RuntimeWarning.
"""
from __future__ import annotations

import abc
import os
import urllib.parse
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple, Union

from . import _kiln
from ._kiln import Engine, Model

DEFAULT_ENGINE_CACHE_SIZE = 5 << 30  # 5 GiB, as torch_tensorrt's default


class CacheEntry(NamedTuple):
    """What a cache entry holds (BaseEngineCache.unpack / check)."""

    serialized_engine: bytes
    input_names: List[str]
    output_names: List[str]
    input_specs: List[Tuple[str, str, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]]]  # name, dtype, min, opt, max
    weights: List[Tuple[str, str, Tuple[int, ...]]]  # name, dtype, shape
    requires_output_allocator: bool

    def engine(self) -> Engine:
        """The engine, deserialized (a weightless one needs ``refit(model)``)."""
        return _kiln.engine_of_entry(self.serialized_engine)


class BaseEngineCache(abc.ABC):
    """Subclass with ``save(hash, blob)`` and ``load(hash) -> bytes | None`` to
    keep kiln's engines anywhere (an object store, a database). kiln calls them
    from the thread that compiles, taking the GIL for each call.

    Examples:
        >>> import kiln
        >>> class MyEngineCache(kiln.BaseEngineCache):
        ...     def __init__(self, bucket):
        ...         self.bucket = bucket
        ...     def save(self, hash, blob):
        ...         self.bucket.put_object(Key=hash, Body=blob)
        ...     def load(self, hash):
        ...         try:
        ...             return self.bucket.get_object(Key=hash)["Body"].read()
        ...         except self.bucket.NoSuchKey:
        ...             return None
        >>> engine = kiln.compile("resnet50.onnx", engine_cache=MyEngineCache(bucket),
        ...                       cache_built_engines=True, reuse_cached_engines=True)
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    @abc.abstractmethod
    def save(self, hash: str, blob: bytes, *args: Any, **kwargs: Any) -> None:
        """Stores ``blob`` under ``hash`` (replacing any previous value)."""

    @abc.abstractmethod
    def load(self, hash: str, *args: Any, **kwargs: Any) -> Optional[bytes]:
        """The blob last saved under ``hash``, or None on a miss."""

    def discard(self, hash: str) -> None:
        """Called when the blob ``load`` returned failed verification; default: nothing."""

    @staticmethod
    def get_hash(model: Union[Model, str, os.PathLike], **build_options: Any) -> str:
        """The key kiln stores the engine of (model, build options) under: a hex
        SHA-256 of the canonical graph, a weights digest, the input specs, the
        engine-invariant settings and the environment fingerprint. Takes
        kiln.compile's build options (device, precision, profiles, ...).

        >>> key = kiln.BaseEngineCache.get_hash(model, device="cpu", precision="fp32")
        """
        from .session import _build_config  # a cycle at import time otherwise

        if not isinstance(model, Model):
            model = Model.load(os.fspath(model))
        return _kiln.cache_key(model, _build_config(**build_options))

    @staticmethod
    def pack(hash: str, entry: Union[Engine, CacheEntry, Sequence[Any]]) -> bytes:
        """A self-checking entry for ``hash``, of an Engine or of CacheEntry fields."""
        return _kiln.pack_entry(hash, entry if isinstance(entry, Engine) else tuple(entry))

    @staticmethod
    def unpack(blob: bytes, hash: Optional[str] = None) -> CacheEntry:
        """Verifies and decodes an entry; kiln.CorruptError when it is not a whole
        entry (for ``hash``, when given; else for the key it names)."""
        return CacheEntry(*_kiln.unpack_entry(blob, hash))

    def insert(self, hash: str, entry: Union[Engine, CacheEntry, Sequence[Any]], *args: Any, **kwargs: Any) -> None:
        """``save(hash, pack(hash, entry))``."""
        self.save(hash, self.pack(hash, entry), *args, **kwargs)

    def check(self, hash: str, *args: Any, **kwargs: Any) -> Optional[CacheEntry]:
        """The unpacked entry under ``hash``, or None (absent, or not a valid entry: a warning)."""
        blob = self.load(hash, *args, **kwargs)
        if not blob:
            return None
        try:
            return self.unpack(blob, hash)
        except _kiln.CorruptError as e:
            warnings.warn(f"kiln: engine cache entry {hash[:16]}... unusable: {e.message}", RuntimeWarning,
                          stacklevel=2)
            return None

    def _kiln_native(self) -> Any:
        """The C++ cache behind this object when kiln may call it directly."""
        return None


def _unchanged(obj: Any, base: type) -> bool:
    """Whether a subclass left save/load/discard as ``base`` has them."""
    cls = type(obj)
    return all(getattr(cls, m) is getattr(base, m) for m in ("save", "load", "discard"))


class _NativeBacked(BaseEngineCache):
    """save/load/discard straight to ``self._native`` (a C++ cache), which kiln
    may then call directly unless a subclass overrides one of them."""

    _native: Any

    def save(self, hash: str, blob: bytes, *args: Any, **kwargs: Any) -> None:
        self._native.save(hash, blob)

    def load(self, hash: str, *args: Any, **kwargs: Any) -> Optional[bytes]:
        return self._native.load(hash)

    def discard(self, hash: str) -> None:
        self._native.discard(hash)

    def _kiln_native(self) -> Any:
        return self._native if _unchanged(self, _NativeBacked) else None


class DiskEngineCache(_NativeBacked):
    """Engines on local disk: ``{engine_cache_dir}/{hash}/blob.bin``, least
    recently used evicted past ``engine_cache_size`` bytes, atomic writes,
    shared safely by processes (one builds a key while the others wait).

    Args:
        engine_cache_dir: the directory (created if needed); None: kiln's default,
            ``$XDG_CACHE_HOME/kiln`` or ``~/.cache/kiln``.
        engine_cache_size: size limit in bytes (default 5 GiB).

    Examples:
        >>> cache = kiln.DiskEngineCache("/tmp/kiln_engines", engine_cache_size=1 << 30)
        >>> engine = kiln.compile("model.onnx", engine_cache=cache)   # built, stored
        >>> engine = kiln.compile("model.onnx", engine_cache=cache)   # loaded
    """

    def __init__(self, engine_cache_dir: Union[str, os.PathLike, None] = None,
                 engine_cache_size: int = DEFAULT_ENGINE_CACHE_SIZE) -> None:
        self._native = _kiln.NativeDiskEngineCache(
            None if engine_cache_dir is None else os.fspath(engine_cache_dir), engine_cache_size)
        self.engine_cache_dir = str(self._native.dir)
        self.total_engine_cache_size = engine_cache_size

    def remove(self, hash: str) -> bool:
        """Removes an entry; True when there was one."""
        return self._native.remove(hash)

    def list(self) -> List[Tuple[str, int, float]]:
        """(hash, size, mtime) of every entry, most recently used first."""
        return self._native.list()

    def purge(self, keep_n: int = 0) -> int:
        """Keeps the keep_n most recently used entries; returns how many went."""
        return self._native.purge(keep_n)

    def remove_stale_temp_files(self) -> Tuple[int, int]:
        """(files, bytes) of temp files of writers known gone, removed."""
        return self._native.remove_stale_temp_files()

    def stats(self) -> Dict[str, int]:
        return self._native.stats()

    def __repr__(self) -> str:
        return f"kiln.DiskEngineCache({self.engine_cache_dir!r}, engine_cache_size={self.total_engine_cache_size})"


class RedisEngineCache(_NativeBacked):
    """Engines in Redis under ``kiln:engine:{hash}``. Any failure (server down,
    timeouts, foreign values) is a miss or a no-op, never an exception; after a
    transport failure no calls are made for ``retry_after`` seconds.

    Args:
        url: ``redis://host:port`` (or ``host:port``, ``host``); database 0, no password.
        timeout: seconds per call (plus 1 s per 32 MiB moved).
        retry_after: seconds the circuit breaker stays open.

    Examples:
        >>> shared = kiln.RedisEngineCache("redis://cache.internal:6379")
        >>> tiers = kiln.TieredEngineCache(kiln.DiskEngineCache(), shared)
        >>> engine = kiln.compile("model.onnx", engine_cache=tiers)
    """

    def __init__(self, url: str = "redis://127.0.0.1:6379", *, timeout: float = 1.0,
                 retry_after: float = 30.0) -> None:
        parsed = urllib.parse.urlsplit(url if "://" in url else "redis://" + url)
        if parsed.scheme != "redis":
            raise ValueError(f"RedisEngineCache: '{url}' is not a redis:// URL")
        if parsed.password or parsed.path.strip("/") not in ("", "0"):
            raise ValueError(f"RedisEngineCache: '{url}': kiln speaks to database 0 without AUTH")
        self.url = url
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 6379
        self._native = _kiln.NativeRedisEngineCache(self.host, self.port, timeout, retry_after)

    def stats(self) -> Dict[str, int]:
        return self._native.stats()

    def __repr__(self) -> str:
        return f"kiln.RedisEngineCache({self.url!r})"


class TieredEngineCache(_NativeBacked):
    """Caches fastest first (e.g. disk, then Redis): load tries each in order and
    a hit in a far tier is saved into the nearer ones; save goes to every tier.
    Tiers may be any engine caches, Python subclasses included."""

    def __init__(self, *tiers: Any) -> None:
        if not tiers:
            raise ValueError("TieredEngineCache needs at least one tier")
        self.tiers = tiers
        self._native = _kiln.NativeTieredEngineCache([native_cache(t) for t in tiers])


def native_cache(cache: Any) -> Any:
    """The kiln::EngineCache for a cache object: its own C++ cache, or an adapter
    that calls the object's save/load (any object with those two methods)."""
    if cache is None or isinstance(cache, _kiln.NativeEngineCache):
        return cache
    native = cache._kiln_native() if isinstance(cache, BaseEngineCache) else None
    if native is not None:
        return native
    if not (callable(getattr(cache, "save", None)) and callable(getattr(cache, "load", None))):
        raise TypeError(f"engine_cache: {type(cache).__name__} has no save(hash, blob) and load(hash)")
    return _kiln.PythonEngineCache(cache)

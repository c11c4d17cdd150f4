"""kiln.compile through engine caches: disk, Python subclasses, tiers, Redis;
the seeds' cache flags and BaseEngineCache helpers (CPU)."""
import os
import warnings

import numpy as np
import pytest

import kiln
from conftest import reference_mul_relu

PROFILE = {"x": ((1, 4), (2, 4), (16, 4))}


def check_runs(engine):
    x = np.array([[1, -1, 2, -2]], np.float32)
    np.testing.assert_allclose(kiln.Session(engine).run({"x": x})["y"], reference_mul_relu(x))


class DictCache(kiln.BaseEngineCache):
    """An S3-style store in user code: a dict, counting calls."""

    def __init__(self):
        self.store, self.saves, self.loads, self.discards = {}, [], [], []

    def save(self, hash, blob):
        self.saves.append(hash)
        self.store[hash] = bytes(blob)

    def load(self, hash):
        self.loads.append(hash)
        return self.store.get(hash)

    def discard(self, hash):
        self.discards.append(hash)
        self.store.pop(hash, None)


def test_disk_cache_miss_then_hit(tmp_path, models):
    cache = kiln.DiskEngineCache(tmp_path / "c", engine_cache_size=1 << 30)
    assert cache.engine_cache_dir == str(tmp_path / "c") and cache.total_engine_cache_size == 1 << 30
    first = kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache)
    assert not first.cache_hit and len(first.key) == 64
    second = kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache)
    assert second.cache_hit and second.key == first.key
    check_runs(second.engine)
    (item,) = cache.list()
    assert item[0] == first.key and item[1] > 0
    stats = cache.stats()
    assert stats["entries"] == 1 and stats["saves"] == 1 and stats["hits"] >= 1
    assert cache.load(first.key)[:6] == b"KILNCE"
    assert cache.purge(0) == 1 and cache.list() == []
    assert cache.load(first.key) is None


def test_compile_returns_engine_and_default_cache(tmp_path, models):
    e = kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE)
    assert isinstance(e, kiln.Engine)
    # engine_cache=None is the default DiskEngineCache ($XDG_CACHE_HOME/kiln here)
    assert str(kiln.default_cache_dir()) == str(tmp_path / "xdg" / "kiln")
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE).cache_hit
    assert len(kiln.DiskEngineCache().list()) == 1


def test_cache_flags(tmp_path, models):
    cache = DictCache()
    args = dict(device="cpu", profiles=PROFILE, engine_cache=cache)
    r = kiln.compile_with_result(models["mul_relu"], cache_built_engines=False, **args)
    assert not r.cache_hit and cache.saves == [] and set(cache.loads) == {r.key}
    n = len(cache.loads)
    kiln.compile(models["mul_relu"], reuse_cached_engines=False, **args)
    assert cache.saves == [r.key] and len(cache.loads) == n  # stored, not looked up
    assert not kiln.compile_with_result(models["mul_relu"], reuse_cached_engines=False, **args).cache_hit
    assert kiln.compile_with_result(models["mul_relu"], **args).cache_hit
    n = len(cache.loads)
    kiln.compile(models["mul_relu"], reuse_cached_engines=False, cache_built_engines=False, **args)
    assert len(cache.loads) == n  # no cache at all


def test_python_cache_real_miss_save_load_hit(models):
    cache = DictCache()
    model = kiln.Model.load(models["mul_relu"])
    first = kiln.compile_with_result(model, device="cpu", profiles=PROFILE, engine_cache=cache)
    assert not first.cache_hit
    assert cache.loads[0] == first.key and cache.saves == [first.key]  # a miss, then the save
    entry = cache.check(first.key)
    assert entry.input_names == ["x"] and entry.output_names == ["y"]
    assert entry.input_specs[0] == ("x", "float32", (1, 4), (2, 4), (16, 4))
    assert ("w", "float32", (4,)) in entry.weights and entry.requires_output_allocator is False
    second = kiln.compile_with_result(model, device="cpu", profiles=PROFILE, engine_cache=cache)
    assert second.cache_hit and cache.saves == [first.key]  # loaded, not rebuilt
    check_runs(second.engine)
    check_runs(entry.engine())


def test_get_hash_pack_unpack_insert_check(models, mul_relu_engine):
    h = kiln.BaseEngineCache.get_hash(models["mul_relu"], device="cpu", profiles=PROFILE)
    assert h == kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE,
                                         cache_built_engines=False, reuse_cached_engines=False).key
    assert h != kiln.BaseEngineCache.get_hash(models["mul_relu"], device="cpu", profiles=PROFILE, optimization_level=0)
    blob = kiln.BaseEngineCache.pack(h, mul_relu_engine)
    entry = kiln.BaseEngineCache.unpack(blob, h)
    assert kiln.BaseEngineCache.unpack(blob) == entry  # the key from the entry itself
    assert kiln.BaseEngineCache.pack(h, entry) == blob
    with pytest.raises(kiln.CorruptError):
        kiln.BaseEngineCache.unpack(blob, "0" * 64)  # another key's entry
    with pytest.raises(kiln.CorruptError):
        kiln.BaseEngineCache.unpack(blob[:-1], h)
    cache = DictCache()
    cache.insert(h, entry)
    assert cache.check(h) == entry and cache.check("f" * 64) is None
    # inserted by hand, found by compile
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache).cache_hit


class RaisingCache(kiln.BaseEngineCache):
    def save(self, hash, blob):
        raise ConnectionError("bucket unreachable")

    def load(self, hash):
        raise ConnectionError("bucket unreachable")


def test_a_raising_subclass_is_a_miss_with_a_warning(models):
    with pytest.warns(RuntimeWarning, match="RaisingCache.load.*bucket unreachable.*miss"):
        r = kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=RaisingCache())
    assert not r.cache_hit
    check_runs(r.engine)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warnings as errors still cannot break a compile
        check_runs(kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=RaisingCache()))


def test_garbage_and_wrong_types_are_misses(models):
    cache = DictCache()
    h = kiln.BaseEngineCache.get_hash(models["mul_relu"], device="cpu", profiles=PROFILE)
    cache.store[h] = b"KILNCE\r\n garbage"
    r = kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache)
    assert not r.cache_hit and cache.discards == [h] and cache.saves == [h]
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache).cache_hit

    class StrCache(DictCache):
        def load(self, hash):
            return "not bytes"

    with pytest.warns(RuntimeWarning, match="expected bytes"):
        assert not kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE,
                                            engine_cache=StrCache()).cache_hit


def test_duck_typed_cache_and_bad_cache(models):
    class Duck:
        def __init__(self):
            self.d = {}

        def save(self, hash, blob):
            self.d[hash] = blob

        def load(self, hash):
            return self.d.get(hash)

    duck = Duck()
    kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=duck)
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=duck).cache_hit
    with pytest.raises(TypeError):
        kiln.compile(models["mul_relu"], device="cpu", engine_cache=object())


def test_subclassed_disk_cache_calls_the_override(tmp_path, models):
    class Counting(kiln.DiskEngineCache):
        loads = 0

        def load(self, hash, *args, **kwargs):
            Counting.loads += 1
            return super().load(hash)

    cache = Counting(tmp_path / "c")
    kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache)
    assert Counting.loads >= 1
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=cache).cache_hit


def test_tiered_cache_fills_the_near_tier(tmp_path, models):
    far = DictCache()
    kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=far)
    near = kiln.DiskEngineCache(tmp_path / "near")
    tiers = kiln.TieredEngineCache(near, far)
    assert kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=tiers).cache_hit
    assert len(near.list()) == 1  # the far hit was copied near
    with pytest.raises(ValueError):
        kiln.TieredEngineCache()


def test_timing_cache_path_and_weightless_engines(tmp_path, models):
    path = tmp_path / "timing" / "t.json"
    path.parent.mkdir()
    cache = DictCache()
    args = dict(device="cpu", engine_cache=cache, timing_cache_path=path, strip_engine_weights=True)
    r = kiln.compile_with_result(models["matmul"], **args)
    assert path.exists() and not r.cache_hit
    assert cache.check(r.key).weights[0][0] == "W"  # stored without data: what a refit needs
    hit = kiln.compile_with_result(models["matmul"], **args)
    assert hit.cache_hit and not hit.engine.needs_refit  # refit from the model on load
    x = np.ones((1, 64), np.float32)
    np.testing.assert_allclose(kiln.Session(hit.engine).run({"x": x})["y"], x @ models["matmul_weights"], rtol=1e-5)


def test_profiles_in_every_form(models):
    class Input:  # torch_tensorrt.Input's attribute names
        min_shape, opt_shape, max_shape = (1, 4), (4, 4), (8, 4)

    for spec in (kiln.ShapeRange((1, 4), (4, 4), (8, 4)), Input(), [[1, 4], [4, 4], [8, 4]]):
        e = kiln.build_engine(models["mul_relu"], device="cpu", profiles={"x": spec})
        assert e.inputs[0].max == (8, 4)
    e = kiln.build_engine(models["mul_relu"], device="cpu", profiles={"x": (3, 4)})
    assert e.inputs[0].min == e.inputs[0].max == (3, 4)


def test_redis_cache_by_url(tmp_path, models):
    import shutil
    import socket
    import subprocess
    import time

    unreachable = kiln.RedisEngineCache("redis://127.0.0.1:1", timeout=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert unreachable.load("a" * 64) is None  # a miss, never an exception
        check_runs(kiln.compile(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=unreachable))
    assert unreachable.stats()["errors"] >= 1
    with pytest.raises(ValueError):
        kiln.RedisEngineCache("http://localhost")
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed: the live Redis part is skipped")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                               "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        redis = kiln.RedisEngineCache(f"redis://127.0.0.1:{port}")
        assert not kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE,
                                            engine_cache=redis).cache_hit
        r = kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE, engine_cache=redis)
        assert r.cache_hit and redis.stats()["saves"] == 1
        check_runs(r.engine)
    finally:
        server.terminate()
        server.wait(10)


def test_concurrent_compiles_share_one_build(tmp_path, models):
    import threading

    cache = kiln.DiskEngineCache(tmp_path / "c")
    results = []

    def work():
        results.append(kiln.compile_with_result(models["mul_relu"], device="cpu", profiles=PROFILE,
                                                engine_cache=cache))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len({r.key for r in results}) == 1
    assert sum(not r.cache_hit for r in results) >= 1
    assert cache.stats()["entries"] == 1
    assert os.path.isdir(cache.engine_cache_dir)

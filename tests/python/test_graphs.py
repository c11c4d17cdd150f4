"""kiln.GraphCache with kiln's names and inference_models' (CPU: an entry is the
prepared plan, so the cache behaves as it does on a GPU)."""
import numpy as np
import pytest

import kiln


def run(s, n):
    return s.run({"x": np.ones((n, 4), np.float32)})


def test_seed_names_and_lru_order(mul_relu_engine):
    cache = kiln.GraphCache(capacity=2)
    assert cache.get_current_size() == 0 and len(cache) == 0 and cache.capacity == 2
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    for n in (1, 2, 3):
        run(s, n)
    assert cache.get_current_size() == 2  # capacity: the oldest went
    assert cache.list_keys() == [((2, 4), "float32", "cpu"), ((3, 4), "float32", "cpu")]
    shape, dtype, device = cache.list_keys()[0]
    assert (shape, dtype, device) == ((2, 4), "float32", "cpu") and cache.list_keys()[0].shape == (2, 4)
    run(s, 2)  # a hit makes it the most recent
    assert [k.shape for k in cache.list_keys()] == [(3, 4), (2, 4)]
    assert cache.keys() == cache.list_keys()
    st = cache.stats()
    assert st["hits"] == 1 and st["misses"] == 3 and st["evictions"] == 1
    assert s.stats()["graph_runs"] == 4


def test_membership_with_any_dtype_spelling(mul_relu_engine):
    torch = pytest.importorskip("torch")
    cache = kiln.GraphCache(4)
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    run(s, 3)
    assert ((3, 4), "float32", "cpu") in cache
    assert ((3, 4), np.float32, "cpu") in cache
    assert ((3, 4), torch.float32, torch.device("cpu")) in cache
    assert [3, 4] and ((3, 4), "float", "cpu") in cache  # torch's alias
    assert ((3, 4), "float16", "cpu") not in cache
    assert ((1, 4), "float32", "cpu") not in cache
    assert ((3, 4), "float32", "cuda:0") not in cache
    assert ((3, 4), "no-such-dtype", "cpu") not in cache and "junk" not in cache and 3 not in cache
    assert cache.contains(((3, 4), "float32", "cpu"))


def test_safe_remove_and_purge(mul_relu_engine):
    cache = kiln.GraphCache(8)
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    for n in (1, 2, 3, 4, 5):
        run(s, n)
    cache.safe_remove(((3, 4), "float32", "cpu"))
    cache.safe_remove(((99, 99), "float32", "cpu"))  # absent: no-op
    cache.safe_remove(((1, 4), "bogus", "cpu"))      # malformed: no-op
    assert [k.shape[0] for k in cache.list_keys()] == [1, 2, 4, 5]
    cache.purge(n_oldest=2)
    assert [k.shape[0] for k in cache.list_keys()] == [4, 5]
    cache.purge(n_oldest=10)
    assert cache.get_current_size() == 0
    run(s, 1)
    cache.purge()
    assert len(cache) == 0
    run(s, 1)  # recaptured after a purge
    assert cache.get_current_size() == 1
    (entry,) = cache.entries()
    assert entry["key"] == ((1, 4), "float32", "cpu") and entry["mode"] == "none"


def test_multi_input_keys(models):
    cache = kiln.GraphCache(2)
    s = kiln.Session(kiln.build_engine(models["two_io"], device="cpu"), graph_cache=cache)
    a = np.ones((2, 3), np.float32)
    s.run({"a": a, "b": a})
    (key,) = cache.list_keys()
    assert key == (((2, 3), (2, 3)), ("float32", "float32"), "cpu")
    assert key in cache and (((2, 3), (2, 3)), "float32", "cpu") in cache  # one dtype for all


def test_disable_cuda_graphs_per_call_and_global_mode(mul_relu_engine):
    cache = kiln.GraphCache(4)
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    s.run({"x": np.ones((2, 4), np.float32)}, disable_cuda_graphs=True)
    assert cache.get_current_size() == 0 and s.stats()["graph_runs"] == 0
    kiln.runtime.set_cudagraphs_mode(False)
    assert not kiln.runtime.get_cudagraphs_mode()
    run(s, 2)
    assert cache.get_current_size() == 0
    kiln.runtime.set_cudagraphs_mode(True)
    run(s, 2)
    assert cache.get_current_size() == 1


def test_establish_graph_cache(monkeypatch):
    assert kiln.establish_graph_cache(8) is None  # KILN_AUTO_CUDA_GRAPHS unset
    mine = kiln.GraphCache(32)
    assert kiln.establish_graph_cache(8, cuda_graph_cache=mine) is mine
    for value in ("1", "true", "yes", "on"):
        monkeypatch.setenv("KILN_AUTO_CUDA_GRAPHS", value)
        cache = kiln.establish_graph_cache(default_cuda_graph_cache_size=8)
        assert isinstance(cache, kiln.GraphCache) and cache.capacity == 8
    monkeypatch.setenv("KILN_AUTO_CUDA_GRAPHS", "0")
    assert kiln.establish_graph_cache(8) is None
    monkeypatch.setenv("KILN_AUTO_CUDA_GRAPHS", "1")
    assert kiln.establish_graph_cache(8, cuda_graph_cache=mine) is mine


def test_one_cache_serves_one_engine(mul_relu_engine):
    cache = kiln.GraphCache(4)
    first = kiln.Session(mul_relu_engine, graph_cache=cache)
    run(first, 1)
    second = kiln.Session(mul_relu_engine, graph_cache=cache)
    run(second, 1)  # the same engine: a replay of first's entry
    assert cache.stats()["hits"] == 1
    other = kiln.Session(kiln.Engine.deserialize(mul_relu_engine.serialize()), graph_cache=cache)
    with pytest.raises(kiln.InvalidArgumentError, match="another engine"):
        run(other, 1)
    other.run({"x": np.ones((1, 4), np.float32)}, disable_cuda_graphs=True)  # without it: fine


def test_cache_keeps_its_entries_when_a_session_is_remade(mul_relu_engine):
    cache = kiln.GraphCache(4)
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    run(s, 1)
    with kiln.runtime.enable_pre_allocated_outputs(s):  # a new C++ Session over the same engine
        run(s, 2)
        assert cache.list_keys() == [((1, 4), "float32", "cpu"), ((2, 4), "float32", "cpu")]
    run(s, 1)
    assert cache.stats()["hits"] == 1
    s2 = kiln.Session(mul_relu_engine, graph_cache=cache)
    run(s2, 2)
    assert cache.stats()["hits"] == 2


"""kiln.runtime: torch_tensorrt.runtime's context managers; each restores what it
found, also when the block raises (CPU, and a stand-in session for weight
streaming, which needs a GPU)."""
import numpy as np
import pytest

import kiln
from kiln import runtime


class Boom(Exception):
    pass


def test_cudagraphs_mode_switch_and_context(mul_relu_engine):
    assert runtime.get_cudagraphs_mode()  # on by default
    runtime.set_cudagraphs_mode(False)
    s = kiln.Session(mul_relu_engine)
    with runtime.enable_cudagraphs(s, capacity=3) as cs:
        assert cs is s and runtime.get_cudagraphs_mode()
        assert s.graph_cache is not None and s.graph_cache.capacity == 3
        s.run({"x": np.ones((2, 4), np.float32)})
        assert s.graph_cache.get_current_size() == 1
    assert s.graph_cache is None and not runtime.get_cudagraphs_mode()
    with pytest.raises(Boom):
        with runtime.enable_cudagraphs(s):
            raise Boom()
    assert s.graph_cache is None and not runtime.get_cudagraphs_mode()
    with runtime.enable_cudagraphs():  # the mode alone
        assert runtime.get_cudagraphs_mode()
    assert not runtime.get_cudagraphs_mode()


def test_enable_cudagraphs_keeps_an_existing_cache(mul_relu_engine):
    cache = kiln.GraphCache(2)
    s = kiln.Session(mul_relu_engine, graph_cache=cache)
    with runtime.enable_cudagraphs(s):
        assert s.graph_cache is cache
    assert s.graph_cache is cache


def test_pre_allocated_outputs(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    with runtime.enable_pre_allocated_outputs(s) as ctx:
        assert s.pre_allocated_outputs
        a = s.run({"x": np.ones((2, 4), np.float32)})["y"]
        b = s.run({"x": np.full((2, 4), 2, np.float32)})["y"]
        assert a.ctypes.data == b.ctypes.data  # the same buffer, overwritten
        np.testing.assert_allclose(a, b)
        ctx.set_pre_allocated_output(False)
        assert not s.pre_allocated_outputs
    assert not s.pre_allocated_outputs
    c = s.run({"x": np.ones((2, 4), np.float32)})["y"]
    d = s.run({"x": np.ones((2, 4), np.float32)})["y"]
    assert c.ctypes.data != d.ctypes.data
    with pytest.raises(Boom):
        with runtime.enable_pre_allocated_outputs(s):
            raise Boom()
    assert not s.pre_allocated_outputs


def test_output_allocator(models):
    s = kiln.Session(kiln.build_engine(models["nonzero"], device="cpu"))
    with runtime.enable_output_allocator(s) as ctx:
        assert s.output_allocator is ctx.allocator
        out = s.run({"x": np.array([0, 1, 0, 2, 3, 0], np.float32)})["idx"]
        np.testing.assert_array_equal(out, [[1, 3, 4]])
        assert ctx.allocator.shapes() == {"idx": [1, 3]} and ctx.allocator.nbytes >= 24
    assert s.output_allocator is None
    mine = kiln.OutputAllocator()
    with pytest.raises(Boom):
        with runtime.enable_output_allocator(s, mine):
            assert s.output_allocator is mine
            raise Boom()
    assert s.output_allocator is None


def test_output_allocator_with_a_graph_cache_is_refused(mul_relu_engine):
    s = kiln.Session(mul_relu_engine, graph_cache=kiln.GraphCache(2))
    with pytest.raises(kiln.InvalidArgumentError):
        with runtime.enable_output_allocator(s):
            pass
    assert s.output_allocator is None and s.graph_cache is not None  # left as it was
    s.run({"x": np.ones((1, 4), np.float32)})


def test_nested_contexts_unwind_in_order(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    with runtime.enable_cudagraphs(s):
        with runtime.enable_pre_allocated_outputs(s):
            assert s.pre_allocated_outputs and s.graph_cache is not None
            s.run({"x": np.ones((1, 4), np.float32)})
        assert not s.pre_allocated_outputs and s.graph_cache is not None
    assert s.graph_cache is None


def test_multi_device_safe_mode_dual_purpose():
    assert not runtime.get_multi_device_safe_mode()
    runtime.set_multi_device_safe_mode(True)
    assert runtime.get_multi_device_safe_mode()
    runtime.set_multi_device_safe_mode(False)
    with runtime.set_multi_device_safe_mode(True):
        assert runtime.get_multi_device_safe_mode()
    assert not runtime.get_multi_device_safe_mode()
    with pytest.raises(Boom):
        with runtime.set_multi_device_safe_mode(True):
            raise Boom()
    assert not runtime.get_multi_device_safe_mode()


class FakeStreamingSession:
    """What weight_streaming() needs of a Session, with the C++ budget rules."""

    def __init__(self, total):
        self.total, self.budget = total, -1

    def streamable_weights_bytes(self):
        return self.total

    def weight_streaming_budget(self):
        return self.budget

    def set_weight_streaming_budget(self, n):
        self.budget = n


def test_weight_streaming_context_semantics():
    s = FakeStreamingSession(1000)
    with runtime.weight_streaming(s) as ws:
        assert ws.total_device_budget == 1000 and ws.device_budget == 1000  # -1: all resident
        ws.device_budget = 250
        assert s.budget == 250 and ws.device_budget == 250
        ws.device_budget = 5000  # clamped
        assert ws.device_budget == 1000
        with pytest.raises(ValueError):
            ws.device_budget = -1
        assert ws.get_automatic_weight_streaming_budget() == 1000
    assert s.budget == -1  # restored
    s.budget = 400
    with pytest.raises(Boom):
        with runtime.weight_streaming(s) as ws:
            ws.device_budget = 100
            raise Boom()
    assert s.budget == 400


def test_weight_streaming_needs_an_engine_built_for_it(mul_relu_engine, models):
    s = kiln.Session(mul_relu_engine)
    with runtime.weight_streaming(s) as ws:
        with pytest.raises(kiln.InvalidArgumentError):
            ws.device_budget = 8
    with pytest.raises(kiln.UnsupportedError, match="GPU"):
        kiln.build_engine(models["matmul"], device="cpu", weight_streaming=True)

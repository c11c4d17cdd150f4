"""The same API on a GPU: torch CUDA tensors in and out without host copies,
device outputs, CUDA graphs captured and replayed, weight streaming. Every test
skips, saying why, where kiln has no GPU."""
import numpy as np
import pytest

import kiln
from conftest import reference_mul_relu, requires_gpu, requires_torch_cuda

pytestmark = requires_gpu

PROFILE = {"x": ((1, 4), (2, 4), (16, 4))}


@pytest.fixture(scope="module")
def cuda_engine(models):
    return kiln.build_engine(models["mul_relu"], device="cuda:0", profiles=PROFILE)


def test_default_device_is_the_gpu():
    assert kiln.default_device() == "cuda:0"


def test_numpy_in_numpy_out(cuda_engine):
    s = kiln.Session(cuda_engine)
    assert s.device == "cuda:0" and cuda_engine.backend == "cuda"
    x = np.random.default_rng(0).standard_normal((5, 4), dtype=np.float32)
    np.testing.assert_allclose(s.run({"x": x})["y"], reference_mul_relu(x), rtol=1e-5)


def test_torch_cuda_in_torch_cuda_out(cuda_engine):
    torch = requires_torch_cuda()
    s = kiln.Session(cuda_engine)
    x = torch.randn(8, 4, device="cuda:0")
    y = s.run({"x": x}, outputs_on_device=True, output="torch")["y"]
    assert y.is_cuda and y.device.index == 0
    torch.testing.assert_close(y, torch.relu(x * torch.tensor([1.0, 2, 3, 4], device="cuda:0")))
    # written by torch on its stream just before: kiln waits for it (DLPack stream hand-off)
    z = torch.empty(8, 4, device="cuda:0").copy_(x).mul_(2)
    torch.testing.assert_close(s.run({"x": z}, outputs_on_device=True, output="torch")["y"],
                               torch.relu(z * torch.tensor([1.0, 2, 3, 4], device="cuda:0")))


def test_device_outputs_as_kiln_tensors(cuda_engine):
    torch = requires_torch_cuda()
    s = kiln.Session(cuda_engine)
    x = np.ones((2, 4), np.float32)
    t = s.run({"x": x}, outputs_on_device=True, output="tensor")["y"]
    assert t.device == "cuda:0" and t.__dlpack_device__() == (2, 0)
    cai = t.__cuda_array_interface__
    assert cai["shape"] == (2, 4) and cai["typestr"] == "<f4" and cai["data"][0] == t.data_ptr
    np.testing.assert_allclose(t.numpy(), reference_mul_relu(x))  # a host copy
    y = torch.from_dlpack(t)
    assert y.is_cuda and y.data_ptr() == t.data_ptr  # no copy
    # numpy output of device outputs: copied to the host
    np.testing.assert_allclose(s.run({"x": x}, outputs_on_device=True)["y"], reference_mul_relu(x))


def test_cuda_array_interface_input(cuda_engine):
    torch = requires_torch_cuda()

    class CaiOnly:  # CuPy/Numba style: no DLPack
        def __init__(self, t):
            self.t = t
            self.__cuda_array_interface__ = t.__cuda_array_interface__

    x = torch.randn(3, 4, device="cuda:0")
    out = kiln.Session(cuda_engine).run({"x": CaiOnly(x)}, output="numpy")["y"]
    np.testing.assert_allclose(out, reference_mul_relu(x.cpu().numpy()), rtol=1e-5)


def test_cupy_input_if_installed(cuda_engine):
    cupy = pytest.importorskip("cupy")
    x = cupy.ones((2, 4), dtype=cupy.float32)
    np.testing.assert_allclose(kiln.Session(cuda_engine).run({"x": x})["y"], reference_mul_relu(np.ones((2, 4))))


def test_graphs_capture_and_replay(cuda_engine):
    torch = requires_torch_cuda()
    cache = kiln.GraphCache(capacity=4)
    s = kiln.Session(cuda_engine, graph_cache=cache)
    x = torch.randn(4, 4, device="cuda:0")
    for _ in range(3):
        y = s.run({"x": x}, outputs_on_device=True, output="torch")["y"]
    torch.testing.assert_close(y, torch.relu(x * torch.tensor([1.0, 2, 3, 4], device="cuda:0")))
    assert cache.list_keys() == [((4, 4), "float32", "cuda:0")]
    assert ((4, 4), torch.float32, torch.device("cuda:0")) in cache
    (entry,) = cache.entries()
    assert entry["mode"] == "whole" and entry["graphs"] == 1 and entry["hits"] == 2
    assert s.stats()["last_capture_mode"] == "whole"
    s.run({"x": x}, disable_cuda_graphs=True)
    assert cache.entries()[0]["hits"] == 2
    cache.purge()
    assert cache.get_current_size() == 0


def test_enable_cudagraphs_on_the_gpu(cuda_engine):
    s = kiln.Session(cuda_engine)
    with kiln.runtime.enable_cudagraphs(s) as cs:
        cs.run({"x": np.ones((2, 4), np.float32)})
        cs.run({"x": np.ones((2, 4), np.float32)})
        assert cs.graph_cache.entries()[0]["mode"] == "whole"
    assert s.graph_cache is None


def test_compile_through_the_cache_on_the_gpu(tmp_path, models):
    cache = kiln.DiskEngineCache(tmp_path / "c")
    assert not kiln.compile_with_result(models["mul_relu"], device="cuda", profiles=PROFILE,
                                        engine_cache=cache).cache_hit
    r = kiln.compile_with_result(models["mul_relu"], profiles=PROFILE, engine_cache=cache)  # default device
    assert r.cache_hit and r.engine.backend == "cuda"


@pytest.mark.parametrize("precision,rtol", [("fp16", 2e-3), ("bf16", 2e-2)])
def test_reduced_precision_keeps_fp32_io(models, precision, rtol):
    e = kiln.build_engine(models["matmul"], device="cuda:0", precision=precision)
    x = np.random.default_rng(1).standard_normal((1, 64), dtype=np.float32)
    y = kiln.Session(e).run({"x": x})["y"]
    assert y.dtype == np.float32
    expect = x @ models["matmul_weights"]
    np.testing.assert_allclose(y, expect, rtol=rtol, atol=rtol * float(np.abs(expect).max()))


def test_weight_streaming_budget(models):
    s = kiln.Session(kiln.build_engine(models["matmul"], device="cuda:0", weight_streaming=True))
    x = np.ones((1, 64), np.float32)
    expect = x @ models["matmul_weights"]
    with kiln.runtime.weight_streaming(s) as ws:
        assert ws.total_device_budget >= 64 * 64 * 4
        ws.device_budget = 0  # everything streamed from the host
        np.testing.assert_allclose(s.run({"x": x})["y"], expect, rtol=1e-4)
        ws.device_budget = ws.total_device_budget // 2
        assert ws.device_budget == ws.total_device_budget // 2
        np.testing.assert_allclose(s.run({"x": x})["y"], expect, rtol=1e-4)
    assert s.weight_streaming_budget() == -1


def test_pre_allocated_device_outputs(cuda_engine):
    s = kiln.Session(cuda_engine)
    with kiln.runtime.enable_pre_allocated_outputs(s):
        a = s.run({"x": np.ones((2, 4), np.float32)}, outputs_on_device=True, output="tensor")["y"]
        b = s.run({"x": np.ones((2, 4), np.float32)}, outputs_on_device=True, output="tensor")["y"]
        assert a.data_ptr == b.data_ptr


def test_multi_device_safe_mode_on_two_gpus(models):
    torch = requires_torch_cuda()
    if torch.cuda.device_count() < 2:
        pytest.skip("one GPU: multi-device safe mode needs two")
    e = kiln.build_engine(models["mul_relu"], device="cuda", profiles=PROFILE)
    s1 = kiln.Session(e, device="cuda:1")
    x = np.ones((1, 4), np.float32)
    with kiln.runtime.set_multi_device_safe_mode(True):
        torch.cuda.set_device(0)
        np.testing.assert_allclose(s1.run({"x": x})["y"], reference_mul_relu(x))

"""Import, errors, models, engines, timing caches and tensor conversions (CPU)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import kiln
from conftest import reference_mul_relu


def test_import_needs_no_gpu():
    # A fresh interpreter with CUDA hidden still imports and reports the CPU.
    code = "import kiln; print(kiln.default_device(), kiln.__version__)"
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == "cpu"
    assert kiln.__version__ == out.stdout.split()[1]


def test_errors_carry_code_and_message(tmp_path):
    with pytest.raises(kiln.IOFailureError) as e:
        kiln.Model.load(str(tmp_path / "missing.onnx"))
    assert isinstance(e.value, kiln.Error) and isinstance(e.value, RuntimeError)
    assert e.value.code == kiln.ErrorCode.IO
    assert "missing.onnx" in e.value.message and str(e.value).startswith("[I/O] ")

    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf at all" * 3)
    with pytest.raises(kiln.InvalidModelError) as e:
        kiln.Model.load(str(bad))
    assert e.value.code == kiln.ErrorCode.InvalidModel


def test_invalid_argument_is_also_value_error(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    with pytest.raises(ValueError) as e:
        s.run({"nope": np.zeros((1, 4), np.float32)})
    assert isinstance(e.value, kiln.InvalidArgumentError)
    assert e.value.code == kiln.ErrorCode.InvalidArgument
    with pytest.raises(kiln.InvalidArgumentError):
        s.run({"x": np.zeros((1, 4), np.int32)})  # wrong dtype
    with pytest.raises(kiln.InvalidArgumentError):
        s.run({"x": np.zeros((1, 5), np.float32)})  # outside the profile


def test_model_properties(models):
    m = kiln.Model.load(models["mul_relu"])
    assert m.path == models["mul_relu"]
    (x,) = m.inputs
    assert (x.name, x.dtype, x.shape, x.dim_names) == ("x", "float32", (-1, 4), ["N", ""])
    assert [o.name for o in m.outputs] == ["y"]
    assert m.opsets[""] == 17
    assert m.op_histogram == {"Mul": 1, "Relu": 1}
    assert m.num_nodes == 2 and m.weights_bytes == 16
    assert m.unsupported("cpu") == []
    assert "mul_relu" in repr(m)


def test_engine_save_load_serialize(tmp_path, mul_relu_engine, models):
    e = mul_relu_engine
    assert e.backend == "cpu" and e.num_nodes >= 1 and e.producer.startswith("kiln")
    (spec,) = e.inputs
    assert (spec.name, spec.dtype, spec.min, spec.opt, spec.max) == ("x", "float32", (1, 4), (2, 4), (16, 4))
    path = str(tmp_path / "e.kiln")
    e.save(path)
    loaded = kiln.Engine.load(path)
    x = np.random.default_rng(0).standard_normal((3, 4), dtype=np.float32)
    np.testing.assert_allclose(kiln.Session(loaded).run({"x": x})["y"], reference_mul_relu(x), rtol=1e-6)
    again = kiln.Engine.deserialize(e.serialize())
    assert [o.name for o in again.outputs] == ["y"]
    with pytest.raises(kiln.CorruptError):
        kiln.Engine.deserialize(e.serialize()[:-10])
    (tmp_path / "junk.kiln").write_bytes(b"junk")
    with pytest.raises(kiln.Error):
        kiln.Engine.load(str(tmp_path / "junk.kiln"))


def test_build_engine_from_path_and_options(models):
    e = kiln.build_engine(models["two_io"], device="cpu", optimization_level=0, cpu_threads=1)
    assert [i.name for i in e.inputs] == ["a", "b"] and [o.name for o in e.outputs] == ["sum", "gt"]
    with pytest.raises(kiln.InvalidArgumentError):
        kiln.build_engine(models["two_io"], device="cpu", precision="fp8")
    with pytest.raises(kiln.Error):
        kiln.build_engine(models["two_io"], device="tpu")


def test_timing_cache_roundtrip(tmp_path):
    t = kiln.TimingCache()
    t.record("conv k3", "cpu avx2", "onednn", 1.5)
    t.record("conv k3", "cpu avx2", "reference", 3.0)
    assert len(t) == 1 and t.lookup("conv k3", "cpu avx2")[0] == ("onednn", 1.5)
    path = tmp_path / "t.json"
    t.save(path)
    u = kiln.TimingCache()
    assert u.load(path) and len(u) == 1
    assert kiln.TimingCache.from_json(t.to_json()).lookup("conv k3", "cpu avx2") == t.lookup("conv k3", "cpu avx2")
    with pytest.raises(kiln.CorruptError):
        kiln.TimingCache.from_json("{")


def test_set_log_level():
    kiln.set_log_level("error")
    kiln.set_log_level("warning")
    with pytest.raises(kiln.InvalidArgumentError):
        kiln.set_log_level("loud")


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.float64, np.int8, np.uint8, np.int32, np.int64, np.bool_])
def test_numpy_in_and_out_without_copy(dtype):
    a = (np.arange(12) % 3).astype(dtype).reshape(3, 4)
    t = kiln.as_tensor(a)
    assert t.shape == (3, 4) and t.dtype == np.dtype(dtype).name and t.device == "cpu"
    assert t.data_ptr == a.ctypes.data  # wrapped, not copied
    back = t.numpy()
    np.testing.assert_array_equal(back, a)
    assert back.ctypes.data == a.ctypes.data


def test_strided_and_big_endian_arrays_are_made_contiguous():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)[:, ::2]
    np.testing.assert_array_equal(kiln.as_tensor(a).numpy(), a)
    b = np.arange(4, dtype=">f4")
    t = kiln.as_tensor(b)
    assert t.dtype == "float32"
    np.testing.assert_array_equal(t.numpy(), b.astype("<f4"))
    np.testing.assert_array_equal(kiln.as_tensor([[1, 2], [3, 4]]).numpy(), [[1, 2], [3, 4]])
    with pytest.raises(kiln.InvalidArgumentError):
        kiln.as_tensor(np.array(["a", "b"]))


def test_dlpack_both_ways_on_the_host():
    torch = pytest.importorskip("torch")
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    t = kiln.as_tensor(x)  # torch -> kiln through DLPack, no copy
    assert t.data_ptr == x.data_ptr() and t.shape == (2, 3)
    assert t.__dlpack_device__() == (1, 0)
    y = torch.from_dlpack(t)  # kiln -> torch
    assert y.data_ptr() == x.data_ptr() and torch.equal(x, y)
    z = np.from_dlpack(kiln.as_tensor(np.ones(3, np.float16)))
    assert z.dtype == np.float16 and z.sum() == 3
    # torch 1.x has no bool in DLPack: kiln falls back to numpy for it
    assert kiln.as_tensor(torch.tensor([True, False])).dtype == "bool"
    assert not hasattr(t, "__cuda_array_interface__")  # host memory has none
    assert np.asarray(t).shape == (2, 3) and len(t) == 2


def test_dlpack_input_is_kept_alive():
    torch = pytest.importorskip("torch")
    t = kiln.as_tensor(torch.full((1000,), 7.0))
    import gc

    gc.collect()
    assert float(t.numpy().sum()) == 7000.0


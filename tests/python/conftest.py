"""Shared fixtures: small ONNX models (onnx_writer.py: no onnx package needed),
an isolated default engine cache, and the GPU skip."""
import os
from pathlib import Path

import numpy as np
import pytest

import kiln
from onnx_writer import BOOL, FLOAT, INT64, node, save

WEIGHTS = np.array([1.0, 2.0, 3.0, 4.0], np.float32)


def reference_mul_relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x * WEIGHTS, 0)


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    m = {}
    # y = relu(x * w), x: [N, 4], a dynamic batch
    m["mul_relu"] = save(str(d / "mul_relu.onnx"), [node("Mul", ["x", "w"], ["m"]), node("Relu", ["m"], ["y"])],
                         [("x", FLOAT, ["N", 4])], [("y", FLOAT, ["N", 4])], [("w", WEIGHTS)])
    # two inputs, two outputs of different dtypes
    m["two_io"] = save(str(d / "two_io.onnx"),
                       [node("Add", ["a", "b"], ["sum"]), node("Greater", ["a", "b"], ["gt"])],
                       [("a", FLOAT, [2, 3]), ("b", FLOAT, [2, 3])], [("sum", FLOAT, [2, 3]), ("gt", BOOL, [2, 3])])
    # a data-dependent output shape
    m["nonzero"] = save(str(d / "nonzero.onnx"), [node("NonZero", ["x"], ["idx"])],
                        [("x", FLOAT, [6])], [("idx", INT64, [1, "K"])])
    # a bigger weight (weight streaming, weightless engines): y = x @ W
    w = np.arange(64 * 64, dtype=np.float32).reshape(64, 64) / 4096
    m["matmul"] = save(str(d / "matmul.onnx"), [node("MatMul", ["x", "W"], ["y"])],
                       [("x", FLOAT, [1, 64])], [("y", FLOAT, [1, 64])], [("W", w)])
    m["matmul_weights"] = w
    return m


@pytest.fixture(scope="session")
def mul_relu_engine(models):
    return kiln.build_engine(models["mul_relu"], device="cpu", profiles={"x": ((1, 4), (2, 4), (16, 4))})


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """The default engine cache in a temporary directory; global modes put back."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("KILN_AUTO_CUDA_GRAPHS", raising=False)
    graphs, safe = kiln.runtime.get_cudagraphs_mode(), kiln.runtime.get_multi_device_safe_mode()
    yield
    kiln.runtime.set_cudagraphs_mode(graphs)
    kiln.runtime.set_multi_device_safe_mode(safe)


def _gpu_reason() -> str:
    if not kiln.cuda_built:
        return "no GPU: this kiln was built without CUDA (-DKILN_CUDA=OFF)"
    return "no GPU: kiln has a CUDA backend but no usable GPU here"


requires_gpu = pytest.mark.skipif(not kiln.cuda_available(), reason=_gpu_reason())


def requires_torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no GPU: torch sees no CUDA device")
    return torch


SOURCE_DIR = Path(os.environ.get("KILN_SOURCE_DIR", Path(__file__).resolve().parents[2]))

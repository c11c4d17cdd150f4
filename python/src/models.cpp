// kiln.models' native half: task-level models (include/kiln/models.h) over
// Python images and results. Compiled to a stub unless the build has
// kiln_models (OpenCV): then models_built is False and kiln.models.load raises.
#include "common.h"

#if defined(KILN_PY_MODELS)
#include <pybind11/numpy.h>
#include <pybind11/stl/filesystem.h>

#include "kiln/error.h"
#include "kiln/models.h"
#include "kiln/timing_cache.h"
#endif

namespace kiln::python {

#if defined(KILN_PY_MODELS)
namespace {

namespace km = kiln::models;

struct PyRawOutputs {
  km::RawOutputs runs;
};

// Labels, OCR text and file names need not be valid UTF-8: replaced, not raised.
py::object text(const std::string& s) {
  PyObject* u = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!u) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(u);
}

[[noreturn]] void bad(const std::string& what) { throw Error(ErrorCode::InvalidArgument, what); }

// A numpy array owning the vector (no copy of class maps or masks).
template <class T>
py::array owned(std::vector<T> v, std::vector<py::ssize_t> shape) {
  auto* p = new std::vector<T>(std::move(v));
  py::capsule base(p, [](void* q) { delete static_cast<std::vector<T>*>(q); });
  return py::array_t<T>(shape, p->data(), base);
}

// Items as kiln/models.py normalized them: a path (str), encoded bytes, or
// (uint8 array, "BGR" | "RGB" | "GRAY"). Arrays are wrapped, not copied; files
// are read and bytes decoded without the GIL.
std::vector<km::Image> images_of(const py::list& items) {
  const size_t n = items.size();
  std::vector<km::Image> out(n);
  std::vector<std::string> paths(n), blobs(n);
  for (size_t i = 0; i < n; ++i) {
    py::object it = items[i];
    const std::string label = "image " + std::to_string(i);
    if (py::isinstance<py::str>(it)) {
      paths[i] = it.cast<std::string>();
      continue;
    }
    if (py::isinstance<py::bytes>(it)) {
      blobs[i] = it.cast<std::string>();
      if (blobs[i].empty()) bad(label + ": no bytes to decode");
      continue;
    }
    auto t = py::reinterpret_borrow<py::tuple>(it);
    py::array a = t[0];
    const std::string fmt = t[1].cast<std::string>();
    const bool gray = fmt == "GRAY";
    if (!a.dtype().is(py::dtype::of<uint8_t>()) || a.ndim() != (gray ? 2 : 3) || (!gray && a.shape(2) != 3) ||
        !(a.flags() & py::array::c_style))
      bad(label + ": expected a C-contiguous uint8 array of shape (H, W, 3) or (H, W)");
    if (a.shape(0) < 1 || a.shape(1) < 1) bad(label + " is empty");
    const auto f = gray ? km::PixelFormat::Gray : fmt == "RGB" ? km::PixelFormat::RGB : km::PixelFormat::BGR;
    out[i] = km::Image::wrap(static_cast<uint8_t*>(const_cast<void*>(a.data())), int(a.shape(1)), int(a.shape(0)), f,
                             hold_python(a));
    out[i].source = label;
  }
  py::gil_scoped_release nogil;
  for (size_t i = 0; i < n; ++i) {
    if (!paths[i].empty()) out[i] = km::read_image(paths[i]);
    else if (!blobs[i].empty())
      out[i] = km::decode_image(reinterpret_cast<const uint8_t*>(blobs[i].data()), blobs[i].size(),
                                "image " + std::to_string(i));
  }
  return out;
}

py::array image_array(const km::Image& im) {
  auto* keep = new km::Image(im);
  py::capsule base(keep, [](void* q) { delete static_cast<km::Image*>(q); });
  std::vector<py::ssize_t> shape{im.height(), im.width()};
  if (im.channels() == 3) shape.push_back(3);
  return py::array_t<uint8_t>(shape, im.data(), base);
}

// ---- results: C++ -> a dict kiln/models.py turns into its classes, and back ----

py::dict to_py(km::Prediction& p) {
  py::dict d;
  d["task"] = std::string(km::task_name(p.task));
  d["width"] = p.width;
  d["height"] = p.height;
  std::vector<int64_t> ids;
  std::vector<float> scores;
  py::list labels;
  switch (p.task) {
    case km::Task::Classification:
      for (const auto& c : p.classes) {
        ids.push_back(c.class_id);
        scores.push_back(c.score);
        labels.append(text(c.label));
      }
      d["classes"] = owned(std::move(ids), {py::ssize_t(p.classes.size())});
      d["scores"] = owned(std::move(scores), {py::ssize_t(p.classes.size())});
      d["labels"] = labels;
      break;
    case km::Task::SemanticSegmentation:
      d["class_map"] = owned(std::move(p.class_map.classes), {p.class_map.height, p.class_map.width});
      break;
    case km::Task::TextRecognition: {
      py::list lines;
      for (const auto& l : p.lines) {
        std::vector<float> box;
        for (const auto& pt : l.box) box.insert(box.end(), {pt.x, pt.y});
        lines.append(py::make_tuple(text(l.text), l.score, owned(std::move(box), {4, 2}), l.rotated));
      }
      d["lines"] = lines;
      break;
    }
    default: {
      const py::ssize_t n = py::ssize_t(p.detections.size());
      std::vector<float> boxes, kps;
      py::list masks, names;
      const py::ssize_t joints = n ? py::ssize_t(p.detections[0].keypoints.size()) : 0;
      if (joints)
        for (const auto& k : p.detections[0].keypoints) names.append(text(k.name));
      for (auto& det : p.detections) {
        boxes.insert(boxes.end(), {det.box.x1, det.box.y1, det.box.x2, det.box.y2});
        ids.push_back(det.class_id);
        scores.push_back(det.score);
        labels.append(text(det.label));
        if (p.task == km::Task::InstanceSegmentation)
          masks.append(py::make_tuple(det.mask.x, det.mask.y,
                                      owned(std::move(det.mask.data), {det.mask.height, det.mask.width})));
        if (py::ssize_t(det.keypoints.size()) != joints) bad("detections with different keypoint counts");
        for (const auto& k : det.keypoints) kps.insert(kps.end(), {k.x, k.y, k.score});
      }
      d["boxes"] = owned(std::move(boxes), {n, 4});
      d["classes"] = owned(std::move(ids), {n});
      d["scores"] = owned(std::move(scores), {n});
      d["labels"] = labels;
      if (p.task == km::Task::InstanceSegmentation) d["masks"] = masks;
      if (p.task == km::Task::Keypoints) {
        d["keypoints"] = owned(std::move(kps), {n, joints, 3});
        d["keypoint_names"] = names;
      }
    }
  }
  return d;
}

py::list to_py(std::vector<km::Prediction>& preds) {
  py::list out;
  for (auto& p : preds) out.append(to_py(p));
  return out;
}

template <class T>
py::array_t<T, py::array::c_style | py::array::forcecast> arr(py::handle o, const char* what, int ndim, int last = -1) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(o);
  if (!a || a.ndim() != ndim || (last >= 0 && a.shape(ndim - 1) != last))
    bad(std::string("prediction.") + what + ": expected a " + std::to_string(ndim) + "-d array" +
        (last >= 0 ? " of " + std::to_string(last) + " columns" : ""));
  return a;
}

// A kiln.models prediction (as returned, or edited) back into C++ for draw()
// and to_json(), so what is drawn is what the object holds.
km::Prediction from_py(py::handle o) {
  km::Prediction p;
  const std::string task = py::str(o.attr("task"));
  bool known = false;
  for (auto t : {km::Task::Classification, km::Task::Detection, km::Task::SemanticSegmentation,
                 km::Task::InstanceSegmentation, km::Task::Keypoints, km::Task::TextRecognition})
    if (km::task_name(t) == task) p.task = t, known = true;
  if (!known) bad("prediction.task: unknown task '" + task + "'");
  p.width = o.attr("width").cast<int>();
  p.height = o.attr("height").cast<int>();
  auto label = [](const std::vector<std::string>& v, size_t i) { return i < v.size() ? v[i] : std::string(); };
  if (p.task == km::Task::SemanticSegmentation) {
    auto m = arr<int32_t>(o.attr("class_map"), "class_map", 2);
    p.class_map.height = int(m.shape(0));
    p.class_map.width = int(m.shape(1));
    p.class_map.classes.assign(m.data(), m.data() + m.size());
  } else if (p.task == km::Task::TextRecognition) {
    for (py::handle l : o.attr("lines")) {
      km::TextLine t;
      t.text = l.attr("text").cast<std::string>();
      t.score = l.attr("score").cast<float>();
      t.rotated = l.attr("rotated").cast<bool>();
      auto b = arr<float>(l.attr("box"), "lines[].box", 2, 2);
      if (b.shape(0) != 4) bad("prediction.lines[].box: expected 4 corners");
      for (int k = 0; k < 4; ++k) t.box[k] = {b.at(k, 0), b.at(k, 1)};
      p.lines.push_back(std::move(t));
    }
  } else {
    auto ids = arr<int64_t>(o.attr("classes"), "classes", 1);
    auto scores = arr<float>(o.attr("scores"), "scores", 1);
    const auto labels = o.attr("labels").cast<std::vector<std::string>>();
    const py::ssize_t n = ids.size();
    if (scores.size() != n) bad("prediction: classes and scores differ in length");
    if (p.task == km::Task::Classification) {
      for (py::ssize_t i = 0; i < n; ++i) p.classes.push_back({int(ids.at(i)), label(labels, i), scores.at(i)});
      return p;
    }
    auto boxes = arr<float>(o.attr("boxes"), "boxes", 2, 4);
    if (boxes.shape(0) != n) bad("prediction: boxes and classes differ in length");
    py::object masks = o.attr("masks"), kps = o.attr("keypoints");
    const auto names = o.attr("keypoint_names").cast<std::vector<std::string>>();
    std::optional<py::array_t<float, py::array::c_style | py::array::forcecast>> k;
    if (!kps.is_none()) k = arr<float>(kps, "keypoints", 3, 3);
    if (k && k->shape(0) != n) bad("prediction: keypoints and boxes differ in length");
    if (!masks.is_none() && py::len(masks) != size_t(n)) bad("prediction: masks and boxes differ in length");
    for (py::ssize_t i = 0; i < n; ++i) {
      km::Detection d;
      d.box = {boxes.at(i, 0), boxes.at(i, 1), boxes.at(i, 2), boxes.at(i, 3)};
      d.class_id = int(ids.at(i));
      d.label = label(labels, i);
      d.score = scores.at(i);
      if (!masks.is_none()) {
        py::object m = masks[py::int_(i)];
        auto data = arr<uint8_t>(m.attr("data"), "masks[].data", 2);
        d.mask.x = m.attr("x").cast<int>();
        d.mask.y = m.attr("y").cast<int>();
        d.mask.height = int(data.shape(0));
        d.mask.width = int(data.shape(1));
        d.mask.data.assign(data.data(), data.data() + data.size());
      }
      for (py::ssize_t j = 0; k && j < k->shape(1); ++j)
        d.keypoints.push_back({k->at(i, j, 0), k->at(i, j, 1), k->at(i, j, 2), label(names, j)});
      p.detections.push_back(std::move(d));
    }
  }
  return p;
}

km::PredictOptions predict_options(int top_k, float min_score, bool disable_cuda_graphs) {
  km::PredictOptions o;
  o.top_k = top_k;
  o.min_score = min_score;
  o.run.disable_cuda_graphs = disable_cuda_graphs;
  return o;
}

py::dict numpy_dict(const std::vector<std::pair<std::string, const Tensor*>>& ts) {
  py::dict d;
  for (const auto& [name, t] : ts) {
    auto a = tensor_to_numpy(*t);
    d[py::str(name)] = a ? *a : py::cast(PyTensor{*t});
  }
  return d;
}

}  // namespace

void register_task_models(py::module_& m) {
  m.attr("models_built") = true;
  py::class_<km::ImageInfo>(m, "ImageInfo", "How pre_process fitted an image into the network input.")
      .def_readonly("width", &km::ImageInfo::width)
      .def_readonly("height", &km::ImageInfo::height)
      .def_readonly("resized_width", &km::ImageInfo::resized_width)
      .def_readonly("resized_height", &km::ImageInfo::resized_height)
      .def_readonly("scale_x", &km::ImageInfo::scale_x)
      .def_readonly("scale_y", &km::ImageInfo::scale_y)
      .def_readonly("pad_x", &km::ImageInfo::pad_x)
      .def_readonly("pad_y", &km::ImageInfo::pad_y)
      .def("__repr__", [](const km::ImageInfo& i) {
        return "ImageInfo(" + std::to_string(i.width) + "x" + std::to_string(i.height) + " -> " +
               std::to_string(i.resized_width) + "x" + std::to_string(i.resized_height) + ")";
      });
  py::class_<km::PreProcessed>(m, "PreProcessed", "pre_process's result: network inputs per run, and per image how "
                                                  "it was resized; give it to forward and post_process.")
      .def_readonly("images", &km::PreProcessed::images)
      .def_property_readonly("runs", [](const km::PreProcessed& b) {
        py::list out;
        for (const auto& r : b.runs) {
          std::vector<std::pair<std::string, const Tensor*>> ts;
          for (const auto& [name, t] : r.inputs) ts.emplace_back(name, &t);
          out.append(py::make_tuple(numpy_dict(ts), r.images));
        }
        return out;
      }, "[(inputs {name: array}, image indices)] per engine run")
      .def("__len__", [](const km::PreProcessed& b) { return b.images.size(); });
  py::class_<PyRawOutputs>(m, "RawOutputs", "forward's result: the network's outputs per run, for post_process.")
      .def("__len__", [](const PyRawOutputs& r) { return r.runs.size(); })
      .def("__getitem__", [](const PyRawOutputs& r, size_t i) {
        if (i >= r.runs.size()) throw py::index_error();
        std::vector<std::pair<std::string, const Tensor*>> ts;
        for (const auto& o : r.runs[i]) ts.emplace_back(o.name, &o.tensor);
        return numpy_dict(ts);
      }, "{output name: array} of run i");

  py::class_<km::TaskModel>(m, "NativeTaskModel")
      .def_static("load", [](const std::filesystem::path& path, const BuildConfig& config,
                             std::shared_ptr<EngineCache> cache, bool no_cache, TimingCache* timing,
                             std::map<std::string, std::shared_ptr<GraphCache>> graph_caches, size_t graph_capacity,
                             std::vector<int64_t> batch_buckets) {
        km::LoadOptions o;
        o.device = config.device;
        o.precision = config.precision;
        o.threads = config.cpu_threads;
        o.cache = cache.get();  // only used while loading; the caller keeps it
        o.no_cache = no_cache;
        o.timing_cache = timing;
        o.graph_caches = std::move(graph_caches);
        o.graph_capacity = graph_capacity;
        o.batch_buckets = std::move(batch_buckets);
        py::gil_scoped_release nogil;
        return km::load(path.string(), o);
      }, py::arg("path"), py::arg("config"), py::arg("cache"), py::arg("no_cache"), py::arg("timing_cache"),
         py::arg("graph_caches"), py::arg("graph_capacity"), py::arg("batch_buckets"))
      .def_property_readonly("task", [](const km::TaskModel& t) { return std::string(km::task_name(t.task())); })
      .def_property_readonly("name", &km::TaskModel::name)
      .def_property_readonly("path", &km::TaskModel::path)
      .def_property_readonly("class_names", &km::TaskModel::class_names)
      .def_property_readonly("cache_hits", &km::TaskModel::cache_hits)
      .def_property_readonly("load_seconds", &km::TaskModel::load_seconds)
      .def("predict", [](const km::TaskModel& t, const py::list& items, int top_k, float min_score, bool no_graphs) {
        std::vector<km::Image> images = images_of(items);
        std::vector<km::Prediction> preds;
        {
          py::gil_scoped_release nogil;
          preds = t.predict(images, predict_options(top_k, min_score, no_graphs));
        }
        return to_py(preds);
      })
      .def("pre_process", [](const km::TaskModel& t, const py::list& items) {
        std::vector<km::Image> images = images_of(items);
        py::gil_scoped_release nogil;
        return t.pre_process(images);
      })
      .def("forward", [](const km::TaskModel& t, const km::PreProcessed& b, bool no_graphs) {
        RunOptions ro;
        ro.disable_cuda_graphs = no_graphs;
        py::gil_scoped_release nogil;
        return PyRawOutputs{t.forward(b, ro)};
      })
      .def("post_process", [](const km::TaskModel& t, const km::PreProcessed& b, const PyRawOutputs& raw, int top_k,
                              float min_score, bool no_graphs) {
        std::vector<km::Prediction> preds;
        {
          py::gil_scoped_release nogil;
          preds = t.post_process(b, raw.runs, predict_options(top_k, min_score, no_graphs));
        }
        return to_py(preds);
      });

  m.def("models_draw", [](const py::list& image, py::handle prediction) {
    std::vector<km::Image> im = images_of(image);
    km::Prediction p = from_py(prediction);
    km::Image out;
    {
      py::gil_scoped_release nogil;
      out = km::draw(im.at(0), p);
    }
    return image_array(out);
  });
  m.def("models_to_json", [](py::handle prediction, const std::string& source) {
    return text(km::to_json(from_py(prediction), source));
  });
  m.def("models_read_image", [](const std::filesystem::path& path) {
    km::Image im;
    {
      py::gil_scoped_release nogil;
      im = km::read_image(path.string());
    }
    return image_array(im);
  });
  m.def("models_write_image", [](const std::filesystem::path& path, const py::list& image) {
    std::vector<km::Image> im = images_of(image);
    py::gil_scoped_release nogil;
    km::write_image(path.string(), im.at(0));
  });
}

#else

void register_task_models(py::module_& m) { m.attr("models_built") = false; }

#endif

}  // namespace kiln::python

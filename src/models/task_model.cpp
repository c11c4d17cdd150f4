// TaskModel: a package's networks built through the engine cache, each with
// its Session, and the task's pre- and post-processing around them.
#include <chrono>
#include <filesystem>
#include <mutex>

#include <opencv2/core.hpp>

#include "kiln/compile.h"
#include "kiln/error.h"
#include "models/db_post.h"
#include "models/ocr.h"
#include "models/package.h"
#include "models/preprocess.h"
#include "models/vision_post.h"
#include "models/model_impl.h"

namespace kiln::models {

namespace detail {

size_t ModelImpl::output_index(const Network& n, const std::string& what) const {
  if (what.empty() && n.outputs.size() >= 1) {
    auto it = n.spec->outputs.find("output");
    if (it == n.spec->outputs.end()) return 0;
    for (size_t i = 0; i < n.outputs.size(); ++i)
      if (n.outputs[i] == it->second) return i;
    throw Error(ErrorCode::InvalidModel, spec.metadata_path + ": networks." + n.spec->role + ".outputs.output: '" +
                                             it->second + "' is not an output of " + n.spec->file);
  }
  auto it = n.spec->outputs.find(what);
  const std::string name = it == n.spec->outputs.end() ? what : it->second;
  for (size_t i = 0; i < n.outputs.size(); ++i)
    if (n.outputs[i] == name) return i;
  std::string have;
  for (const auto& o : n.outputs) have += (have.empty() ? "" : ", ") + o;
  throw Error(ErrorCode::InvalidModel, spec.metadata_path + ": networks." + n.spec->role + ": the " +
                                           std::string(task_name(spec.task)) + " output '" + what + "' (ONNX name '" + name +
                                           "') is not an output of " + n.spec->file + " (it has " + have +
                                           "); name it in networks." + n.spec->role + ".outputs." + what);
}

namespace {

// The network's input checked against the package: float32, rank 4, three
// channels and the package's size where the ONNX file fixes them.
void check_input(const PackageSpec& pkg, const NetworkSpec& spec, const Engine& engine, Network& n, int default_batch) {
  const std::string where = pkg.metadata_path + ": networks." + spec.role + ".input";
  const TensorSpec* in = nullptr;
  for (const auto& t : engine.inputs())
    if (spec.input.name.empty() ? engine.inputs().size() == 1 : t.name == spec.input.name) in = &t;
  if (!in) {
    std::string have;
    for (const auto& t : engine.inputs()) have += (have.empty() ? "" : ", ") + t.name;
    throw Error(ErrorCode::InvalidModel, where + ".name: " +
                                             (spec.input.name.empty() ? "must be given: " + spec.file + " has inputs " + have
                                                                      : "'" + spec.input.name + "' is not an input of " +
                                                                            spec.file + " (it has " + have + ")"));
  }
  n.input = in->name;
  const Shape& s = in->shape;
  if (in->dtype != DataType::Float32 || s.size() != 4)
    throw Error(ErrorCode::InvalidModel, spec.file + ": input '" + in->name + "' is " + std::string(dtype_name(in->dtype)) +
                                             " " + shape_str(s) + "; an image network takes float32 of rank 4 (" + where + ")");
  const int c = spec.input.nhwc ? 3 : 1, h = spec.input.nhwc ? 1 : 2, w = spec.input.nhwc ? 2 : 3;
  if (s[c] != -1 && s[c] != 3)
    throw Error(ErrorCode::InvalidModel, spec.file + ": input '" + in->name + "' " + shape_str(s) + " has " +
                                             std::to_string(s[c]) + " channels, not 3 (" + where + ".layout)");
  // A recognizer's width is its narrowest: lines are wider.
  const bool fixed = spec.input.resize != Resize::LimitSide, fixed_w = fixed && spec.role != "recognizer";
  if ((fixed && s[h] != -1 && s[h] != spec.input.height) || (fixed_w && s[w] != -1 && s[w] != spec.input.width))
    throw Error(ErrorCode::InvalidModel, where + ".size: [" + std::to_string(spec.input.height) + ", " +
                                             std::to_string(spec.input.width) + "] but " + spec.file + " takes " + shape_str(s));
  const bool fixed_batch = s[0] != -1;
  n.max_batch = spec.input.max_batch ? spec.input.max_batch : fixed_batch ? int(s[0]) : default_batch;
  if (fixed_batch && n.max_batch != s[0])
    throw Error(ErrorCode::InvalidModel, where + ".max_batch: " + std::to_string(n.max_batch) + " but " + spec.file +
                                             " takes a batch of exactly " + std::to_string(s[0]));
  for (const auto& o : engine.outputs()) {
    n.outputs.push_back(o.name);
    n.output_shapes.push_back(o.shape);
  }
}

}  // namespace
}  // namespace detail

using detail::ModelImpl;
using detail::Network;

TaskModel TaskModel::load(const std::string& path, const LoadOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  if (options.opencv_threads >= 0) cv::setNumThreads(options.opencv_threads);
  auto impl = std::make_shared<ModelImpl>();
  impl->spec = detail::read_package(path);
  EngineCache* cache = options.cache;
  if (!cache && !options.no_cache) {
    impl->own_cache = std::make_unique<DiskEngineCache>();
    cache = impl->own_cache.get();
  }
  for (const auto& ns : impl->spec.networks) {
    Network n;
    n.spec = &ns;
    CompileOptions co;
    co.build.device = options.device;
    co.build.precision = options.precision;
    co.build.cpu_threads = options.threads;
    co.build.timing_cache = options.timing_cache;
    co.build.on_progress = options.on_progress;
    co.cache = cache;
    CompileResult r;
    try {
      r = compile_file(ns.file, co);
    } catch (const Error& e) {
      throw e.with_context(impl->spec.metadata_path + ": network '" + ns.role + "'");
    }
    n.cache_hit = r.cache_hit;
    detail::check_input(impl->spec, ns, r.engine, n, impl->spec.task == Task::TextRecognition ? 6 : 8);
    SessionOptions so;
    so.device = options.device;
    so.threads = options.threads;
    auto g = options.graph_caches.find(ns.role);
    so.graph_cache = establish_graph_cache(options.graph_capacity, g == options.graph_caches.end() ? nullptr : g->second);
    if (r.engine.inputs().size() == 1 && !r.engine.inputs()[0].shape.empty() && r.engine.inputs()[0].shape[0] == -1)
      so.batch_buckets = options.batch_buckets;
    n.session = std::make_unique<Session>(r.engine, so);
    impl->networks.emplace(ns.role, std::move(n));
  }
  detail::check_outputs(*impl);
  impl->load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  TaskModel m;
  m.m_impl = std::move(impl);
  return m;
}

Task TaskModel::task() const { return m_impl->spec.task; }
const std::string& TaskModel::name() const { return m_impl->spec.name; }
const std::string& TaskModel::path() const { return m_impl->spec.dir; }
const std::vector<std::string>& TaskModel::class_names() const { return m_impl->spec.classes; }
double TaskModel::load_seconds() const { return m_impl->load_seconds; }

std::vector<std::pair<std::string, bool>> TaskModel::cache_hits() const {
  std::vector<std::pair<std::string, bool>> out;
  for (const auto& ns : m_impl->spec.networks) out.emplace_back(ns.role, m_impl->net(ns.role).cache_hit);
  return out;
}

Session& TaskModel::session(const std::string& role) const {
  auto it = m_impl->networks.find(role);
  if (it == m_impl->networks.end())
    throw Error(ErrorCode::InvalidArgument, "model " + m_impl->spec.name + " has no network '" + role + "'");
  return *it->second.session;
}

PreProcessed TaskModel::pre_process(const std::vector<Image>& images) const {
  const std::string role = m_impl->spec.task == Task::TextRecognition ? "detector" : "model";
  const Network& n = m_impl->net(role);
  return detail::pre_process_images(n.spec->input, n.input, n.max_batch, images);
}

RawOutputs TaskModel::forward(const PreProcessed& batch, const RunOptions& options) const {
  const std::string role = m_impl->spec.task == Task::TextRecognition ? "detector" : "model";
  Network& n = m_impl->net(role);
  RawOutputs out;
  for (const ForwardRun& run : batch.runs) out.push_back(n.session->run(run.inputs, options));
  return out;
}

Prediction TaskModel::predict(const Image& image, const PredictOptions& options) const {
  return predict(std::vector<Image>{image}, options).at(0);
}

std::vector<Prediction> TaskModel::predict(const std::vector<Image>& images, const PredictOptions& options) const {
  const PreProcessed batch = pre_process(images);
  return post_process(batch, forward(batch, options.run), options);
}

}  // namespace kiln::models

// Task-level models: a package (an ONNX network and its kiln_model.json)
// loaded once, then predict(image) with the pre- and post-processing the
// network was trained with. As inference_models' AutoModel: predict() for
// one or several images, or pre_process -> forward -> post_process one by one.
// Tasks: classification, detection, semantic and instance segmentation,
// keypoints, and text recognition (PaddleOCR: DB detection, angle
// classification, CTC recognition). The package format: docs/MODELS.md.
//
// Engines are built through compile_file() and an engine cache, so a package
// builds once per device and settings. Images are read by OpenCV.
// Threading: predict may be called from several threads; each network's runs
// are serialized by its Session.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/builder.h"
#include "kiln/engine_cache.h"
#include "kiln/graph_cache.h"
#include "kiln/session.h"
#include "kiln/tensor.h"

namespace kiln::models {

// ---- images ----------------------------------------------------------------

enum class PixelFormat { BGR, RGB, Gray };  // 8 bits per channel, interleaved

// An 8-bit image, rows top to bottom with no padding between them. A cheap
// handle: copies share the pixels.
class Image {
 public:
  Image() = default;
  Image(int width, int height, PixelFormat format);  // zero-filled
  // Wraps pixels owned elsewhere (kept alive by `owner`, may be null).
  static Image wrap(uint8_t* data, int width, int height, PixelFormat format,
                    std::shared_ptr<void> owner = nullptr);

  bool empty() const { return m_data == nullptr; }
  int width() const { return m_width; }
  int height() const { return m_height; }
  int channels() const { return m_format == PixelFormat::Gray ? 1 : 3; }
  PixelFormat format() const { return m_format; }
  uint8_t* data() { return m_data; }
  const uint8_t* data() const { return m_data; }
  // Where it came from ("photo.jpg"), for messages; may be empty.
  std::string source;

 private:
  uint8_t* m_data = nullptr;
  int m_width = 0, m_height = 0;
  PixelFormat m_format = PixelFormat::BGR;
  std::shared_ptr<void> m_owner;
};

// Reads PNG, JPEG, BMP, TIFF, WebP... as OpenCV does, as BGR, with a JPEG's
// EXIF orientation applied. kiln::Error(IO) naming the file when it is
// missing, unreadable or not an image.
Image read_image(const std::string& path);
// The same from encoded bytes in memory; `label` names them in messages.
Image decode_image(const uint8_t* bytes, size_t size, const std::string& label = "image");
// PNG or JPEG by the extension; kiln::Error(IO) on failure.
void write_image(const std::string& path, const Image& image);

// ---- results ---------------------------------------------------------------

enum class Task { Classification, Detection, SemanticSegmentation, InstanceSegmentation, Keypoints, TextRecognition };
std::string_view task_name(Task task);  // "classification", "detection", ... as in kiln_model.json

struct Point { float x = 0, y = 0; };
struct Box { float x1 = 0, y1 = 0, x2 = 0, y2 = 0; };  // pixels of the input image

struct ClassScore {
  int class_id = 0;
  std::string label;  // from the package's class names ("" when it has none)
  float score = 0;
};

// A binary mask over part of the image: `width` x `height` bytes (0 or 1)
// whose top-left pixel is (x, y) of the image. Pixels outside are 0.
struct Mask {
  int x = 0, y = 0, width = 0, height = 0;
  std::vector<uint8_t> data;
  bool empty() const { return data.empty(); }
};

struct Keypoint {
  float x = 0, y = 0;
  float score = 0;
  std::string name;
};

struct Detection {
  Box box;
  int class_id = 0;
  std::string label;
  float score = 0;
  Mask mask;                        // instance segmentation
  std::vector<Keypoint> keypoints;  // keypoints
};

// A class per pixel of the input image, row-major.
struct ClassMap {
  int width = 0, height = 0;
  std::vector<int32_t> classes;
};

struct TextLine {
  std::array<Point, 4> box;  // top-left, top-right, bottom-right, bottom-left
  std::string text;          // UTF-8
  float score = 0;           // mean probability of the characters read
  bool rotated = false;      // the angle classifier turned the crop 180 degrees
};

struct Prediction {
  Task task = Task::Classification;
  int width = 0, height = 0;             // of the input image
  std::vector<ClassScore> classes;       // classification: top-k, best first
  std::vector<Detection> detections;     // detection, instance segmentation, keypoints: best first
  ClassMap class_map;                    // semantic segmentation
  std::vector<TextLine> lines;           // text recognition, in reading order
  std::string text() const;              // the lines joined by '\n'
};

// ---- loading ---------------------------------------------------------------

struct LoadOptions {
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  Precision precision = Precision::FP32;
  // Engine cache: nullptr opens the default disk cache (default_cache_dir())
  // unless no_cache, which builds every time and stores nothing.
  EngineCache* cache = nullptr;
  bool no_cache = false;
  TimingCache* timing_cache = nullptr;  // kernel timings kept between builds (may be null)
  std::function<void(const BuildProgress&)> on_progress{};  // while an engine builds
  int threads = 0;                      // CPU kernel threads (0: all cores)
  // CUDA graphs, per network of the package by role ("model"; a text
  // recognizer's "detector", "classifier", "recognizer"). Roles not named get
  // establish_graph_cache(graph_capacity), i.e. one when KILN_AUTO_CUDA_GRAPHS
  // is set.
  std::map<std::string, std::shared_ptr<GraphCache>> graph_caches{};
  size_t graph_capacity = 8;
  // Batch buckets for networks with a dynamic batch (see SessionOptions).
  std::vector<int64_t> batch_buckets{};
  // OpenCV's threads (process-wide; -1 leaves them as they are). 0, the
  // default, runs its image operations on the calling thread: its thread pool
  // spinning beside the CPU kernels' OpenMP threads made predictions 30x
  // slower on a busy 2-core machine, and per-image resizes gain little.
  int opencv_threads = 0;
};

struct PredictOptions {
  int top_k = 0;           // classification: 0 = the package's
  float min_score = -1;    // detections, text lines kept from this score (< 0: the package's)
  RunOptions run{};        // for every network run (disable_cuda_graphs)
};

// What pre_process made: engine runs (one per batch that the network's input
// size allows) and how each image was resized, for post_process.
struct ImageInfo {
  int width = 0, height = 0;         // the input image
  int resized_width = 0, resized_height = 0;  // the image's part of the network input
  float scale_x = 1, scale_y = 1;    // network input pixels per image pixel
  // Where the image's top-left corner lands in the network input (negative
  // when a center crop cut it): image x = (input x - pad_x) / scale_x.
  int pad_x = 0, pad_y = 0;
};
struct ForwardRun {
  std::map<std::string, Tensor> inputs;
  std::vector<int> images;  // indices into PreProcessed::images, in batch order
};
struct PreProcessed {
  std::vector<ForwardRun> runs;
  std::vector<ImageInfo> images;
  std::vector<Image> originals;  // kept for pipelines that crop (text recognition)
};
using RawOutputs = std::vector<std::vector<NamedTensor>>;  // per run

namespace detail { struct ModelImpl; }

class TaskModel {
 public:
  // Reads and validates PATH/kiln_model.json (kiln::Error(InvalidModel)
  // naming the file and field), then builds or loads each network's engine.
  static TaskModel load(const std::string& path, const LoadOptions& options = {});

  Task task() const;
  const std::string& name() const;
  const std::string& path() const;
  const std::vector<std::string>& class_names() const;
  // The engines, by role, with whether each came from the cache.
  std::vector<std::pair<std::string, bool>> cache_hits() const;
  double load_seconds() const;

  Prediction predict(const Image& image, const PredictOptions& options = {}) const;
  std::vector<Prediction> predict(const std::vector<Image>& images, const PredictOptions& options = {}) const;

  // The three steps of predict. For text recognition, forward runs the
  // detector and post_process the angle classifier and recognizer on the
  // crops (with options.run).
  PreProcessed pre_process(const std::vector<Image>& images) const;
  RawOutputs forward(const PreProcessed& batch, const RunOptions& options = {}) const;
  std::vector<Prediction> post_process(const PreProcessed& batch, const RawOutputs& outputs,
                                       const PredictOptions& options = {}) const;

  // The session of a network by role, for inspection (stats, graph cache).
  Session& session(const std::string& role) const;

 private:
  std::shared_ptr<detail::ModelImpl> m_impl;
};

inline TaskModel load(const std::string& path, const LoadOptions& options = {}) { return TaskModel::load(path, options); }

// ---- output ----------------------------------------------------------------

// One JSON object per prediction (class maps and masks summarized, not dumped).
std::string to_json(const Prediction& prediction, const std::string& source = "");
// The image with the prediction drawn on it: boxes and labels, masks and class
// maps blended in, keypoints, text lines outlined and labelled.
Image draw(const Image& image, const Prediction& prediction);

}  // namespace kiln::models

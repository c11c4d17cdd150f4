// TaskModel::post_process: raw network outputs into typed predictions.
#include <algorithm>

#include "kiln/error.h"
#include "models/db_post.h"
#include "models/model_impl.h"
#include "models/ocr.h"
#include "models/vision_post.h"

namespace kiln::models {

namespace detail {

namespace {

const Tensor& output(ModelImpl& m, const std::vector<NamedTensor>& outs, const std::string& role, const std::string& what) {
  const Network& n = m.net(role);
  const size_t i = m.output_index(n, what);
  if (i >= outs.size())
    throw Error(ErrorCode::InvalidArgument, "post_process: " + std::to_string(outs.size()) + " outputs given for " + n.spec->file);
  return outs[i].tensor;
}

const float* floats(const Tensor& t, const std::string& what, const Shape& want_prefix = {}) {
  if (t.dtype() != DataType::Float32 || !t.on_host())
    throw Error(ErrorCode::InvalidModel, "output '" + what + "' is " + std::string(dtype_name(t.dtype())) +
                                             ", expected float32 in host memory");
  for (size_t d = 0; d < want_prefix.size(); ++d)
    if (want_prefix[d] >= 0 && (t.rank() <= int64_t(d) || t.shape()[d] != want_prefix[d]))
      throw Error(ErrorCode::InvalidModel, "output '" + what + "' is " + shape_str(t.shape()) + ", unexpected for this task");
  return t.data<float>();
}

std::vector<int> ints(const Tensor& t) {
  std::vector<int> v(size_t(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) {
    switch (t.dtype()) {
      case DataType::Int64: v[i] = int(t.data<int64_t>()[i]); break;
      case DataType::Int32: v[i] = t.data<int32_t>()[i]; break;
      case DataType::Float32: v[i] = int(t.data<float>()[i]); break;
      default: throw Error(ErrorCode::InvalidModel, "labels output is " + std::string(dtype_name(t.dtype())));
    }
  }
  return v;
}

// Outputs for one image of a network that returns K rows without a batch
// dim (torchvision's detectors): the run must hold that one image.
void require_single(const ForwardRun& run, const std::string& file) {
  if (run.images.size() != 1)
    throw Error(ErrorCode::InvalidModel, file + ": outputs without a batch dimension need max_batch 1");
}

// Keypoints from the network: heatmaps [K,J,M,M] turned into points here
// (torchvision's heatmaps_to_keypoints), or points [K,J,3] it computed.
void keypoints(ModelImpl& m, const std::vector<NamedTensor>& outs, int count, const std::vector<int>& rows,
               const ImageInfo& info, Prediction& p) {
  const Network& n = m.net("model");
  const std::string& file = n.spec->file;
  const BackMap bm(info);
  const std::vector<std::string>& names = m.spec.keypoint_names;
  auto named = [&](std::vector<Keypoint> kps) {
    for (size_t j = 0; j < kps.size() && j < names.size(); ++j) kps[j].name = names[j];
    return kps;
  };
  const bool heatmaps = n.spec->outputs.count("keypoint_heatmaps") ||
                        std::find(n.outputs.begin(), n.outputs.end(), "keypoint_heatmaps") != n.outputs.end();
  const Tensor& kp = output(m, outs, "model", heatmaps ? "keypoint_heatmaps" : "keypoints");
  if (heatmaps) {
    if (kp.rank() != 4 || kp.shape()[0] != count || kp.shape()[2] != kp.shape()[3])
      throw Error(ErrorCode::InvalidModel, file + ": keypoint_heatmaps " + shape_str(kp.shape()) + ", expected [K,J,M,M]");
    const int joints = int(kp.shape()[1]), size = int(kp.shape()[2]);
    const Tensor& boxes = output(m, outs, "model", "boxes");
    for (size_t d = 0; d < p.detections.size(); ++d) {
      const float* b = floats(boxes, "boxes") + size_t(rows[d]) * 4;
      auto kps = keypoints_from_heatmaps(floats(kp, "keypoint_heatmaps") + size_t(rows[d]) * joints * size * size, joints,
                                         size, Box{b[0], b[1], b[2], b[3]});
      for (auto& k : kps) { k.x = bm.x(k.x); k.y = bm.y(k.y); }
      p.detections[d].keypoints = named(std::move(kps));
    }
    return;
  }
  if (kp.rank() != 3 || kp.shape()[0] != count || kp.shape()[2] < 2)
    throw Error(ErrorCode::InvalidModel, file + ": keypoints " + shape_str(kp.shape()) + ", expected [K,J,3]");
  const int joints = int(kp.shape()[1]), stride = int(kp.shape()[2]);
  const bool has_scores = std::find(n.outputs.begin(), n.outputs.end(), "keypoints_scores") != n.outputs.end() ||
                          n.spec->outputs.count("keypoints_scores");
  const float* ks = has_scores ? floats(output(m, outs, "model", "keypoints_scores"), "keypoints_scores", {count, joints})
                               : nullptr;
  for (size_t d = 0; d < p.detections.size(); ++d) {
    const float* row = floats(kp, "keypoints") + size_t(rows[d]) * joints * stride;
    std::vector<Keypoint> kps(joints);
    for (int j = 0; j < joints; ++j) {
      kps[j].x = bm.x(row[j * stride]);
      kps[j].y = bm.y(row[j * stride + 1]);
      kps[j].score = ks ? ks[size_t(rows[d]) * joints + j] : (stride > 2 ? row[j * stride + 2] : 1.0f);
    }
    p.detections[d].keypoints = named(std::move(kps));
  }
}

void detections(ModelImpl& m, const ForwardRun& run, const std::vector<NamedTensor>& outs,
                const std::vector<ImageInfo>& infos, float min_score, std::vector<Prediction>& preds) {
  const PackageSpec& spec = m.spec;
  const std::string& file = m.net("model").spec->file;
  const Tensor& boxes = output(m, outs, "model", "boxes");
  const Tensor& scores = output(m, outs, "model", "scores");
  if (spec.post.nms) {
    const int64_t n = int64_t(run.images.size());
    if (boxes.rank() != 3 || scores.rank() != 3 || boxes.shape()[0] != n || scores.shape()[0] != n ||
        boxes.shape()[2] != 4 || scores.shape()[1] != boxes.shape()[1])
      throw Error(ErrorCode::InvalidModel, file + ": raw detector outputs boxes " + shape_str(boxes.shape()) + " and scores " +
                                               shape_str(scores.shape()) + ", expected [N,A,4] and [N,A,C]");
    const int a = int(boxes.shape()[1]), c = int(scores.shape()[2]);
    for (int64_t k = 0; k < n; ++k) {
      const int img = run.images[k];
      preds[img].detections = detect_raw(floats(boxes, "boxes") + size_t(k) * a * 4, floats(scores, "scores") + size_t(k) * a * c,
                                         a, c, infos[img], spec, min_score);
    }
    return;
  }
  require_single(run, file);
  const Tensor& labels = output(m, outs, "model", "labels");
  const int count = int(scores.numel());
  if (boxes.numel() != int64_t(count) * 4 || labels.numel() != count)
    throw Error(ErrorCode::InvalidModel, file + ": boxes " + shape_str(boxes.shape()) + ", scores " + shape_str(scores.shape()) +
                                             " and labels " + shape_str(labels.shape()) + " disagree on the count");
  const int img = run.images[0];
  Prediction& p = preds[img];
  std::vector<int> rows;
  p.detections = detect_final(floats(boxes, "boxes"), floats(scores, "scores"), ints(labels), count, infos[img], spec,
                              min_score, &rows);
  if (spec.task == Task::InstanceSegmentation) {
    const Tensor& masks = output(m, outs, "model", "masks");
    if (masks.rank() != 4 || masks.shape()[0] != count || masks.shape()[1] != 1 || masks.shape()[2] != masks.shape()[3])
      throw Error(ErrorCode::InvalidModel, file + ": masks " + shape_str(masks.shape()) + ", expected [K,1,M,M]");
    paste_masks(p.detections, rows, floats(masks, "masks"), int(masks.shape()[2]), infos[img], spec.post.mask_threshold);
  }
  if (spec.task == Task::Keypoints) keypoints(m, outs, count, rows, infos[img], p);
}

// The class names, where given, must be as many as the network's classes.
void check_class_count(ModelImpl& m, size_t output, size_t dim) {
  const Network& n = m.net("model");
  const Shape& s = n.output_shapes[output];
  if (m.spec.classes.empty() || s.size() <= dim || s[dim] < 0 || size_t(s[dim]) == m.spec.classes.size()) return;
  throw Error(ErrorCode::InvalidModel, m.spec.metadata_path + ": classes: " + std::to_string(m.spec.classes.size()) +
                                           " names, but output '" + n.outputs[output] + "' " + shape_str(s) + " of " +
                                           n.spec->file + " has " + std::to_string(s[dim]) + " classes");
}
}  // namespace

void check_outputs(ModelImpl& m) {
  switch (m.spec.task) {
    case Task::Classification:
    case Task::SemanticSegmentation: check_class_count(m, m.output_index(m.net("model"), ""), 1); break;
    case Task::Detection:
    case Task::InstanceSegmentation:
    case Task::Keypoints:
      m.output_index(m.net("model"), "boxes");
      if (m.spec.post.nms) check_class_count(m, m.output_index(m.net("model"), "scores"), 2);
      else m.output_index(m.net("model"), "scores");
      if (!m.spec.post.nms) m.output_index(m.net("model"), "labels");
      if (m.spec.task == Task::InstanceSegmentation) m.output_index(m.net("model"), "masks");
      if (m.spec.task == Task::Keypoints) {
        const auto& outs = m.net("model").outputs;
        const bool heatmaps = m.net("model").spec->outputs.count("keypoint_heatmaps") ||
                              std::find(outs.begin(), outs.end(), "keypoint_heatmaps") != outs.end();
        m.output_index(m.net("model"), heatmaps ? "keypoint_heatmaps" : "keypoints");
      }
      break;
    case Task::TextRecognition:
      for (const char* role : {"detector", "classifier", "recognizer"}) m.output_index(m.net(role), "");
      break;
  }
}

}  // namespace detail

using detail::floats;

std::vector<Prediction> TaskModel::post_process(const PreProcessed& batch, const RawOutputs& outputs,
                                                const PredictOptions& options) const {
  detail::ModelImpl& m = *m_impl;
  const detail::PackageSpec& spec = m.spec;
  if (outputs.size() != batch.runs.size())
    throw Error(ErrorCode::InvalidArgument, "post_process: " + std::to_string(outputs.size()) + " output sets for " +
                                                std::to_string(batch.runs.size()) + " runs");
  std::vector<Prediction> preds(batch.images.size());
  for (size_t i = 0; i < preds.size(); ++i) {
    preds[i].task = spec.task;
    preds[i].width = batch.images[i].width;
    preds[i].height = batch.images[i].height;
  }
  const bool ocr = spec.task == Task::TextRecognition;
  const float min_score = options.min_score >= 0 ? options.min_score : ocr ? spec.post.drop_score : spec.post.min_score;
  std::vector<std::vector<detail::TextBox>> text_boxes(ocr ? preds.size() : 0);
  for (size_t r = 0; r < batch.runs.size(); ++r) {
    const ForwardRun& run = batch.runs[r];
    const auto& outs = outputs[r];
    const int64_t n = int64_t(run.images.size());
    switch (spec.task) {
      case Task::Classification: {
        const Tensor& t = detail::output(m, outs, "model", "");
        const float* p = floats(t, "scores", {n});
        const int classes = int(t.numel() / n);
        for (int64_t k = 0; k < n; ++k)
          preds[run.images[k]].classes = detail::classify(p + k * classes, classes, spec, options.top_k > 0 ? options.top_k : spec.post.top_k);
        break;
      }
      case Task::SemanticSegmentation: {
        const Tensor& t = detail::output(m, outs, "model", "");
        const float* p = floats(t, "logits", {n});
        if (t.rank() != 4) throw Error(ErrorCode::InvalidModel, m.net("model").spec->file + ": segmentation output " + shape_str(t.shape()) + ", expected [N,C,H,W]");
        const Shape& in = run.inputs.begin()->second.shape();
        const int ih = int(in[spec.networks[0].input.nhwc ? 1 : 2]), iw = int(in[spec.networks[0].input.nhwc ? 2 : 3]);
        const int c = int(t.shape()[1]), h = int(t.shape()[2]), w = int(t.shape()[3]);
        for (int64_t k = 0; k < n; ++k)
          preds[run.images[k]].class_map = detail::segment(p + size_t(k) * c * h * w, c, h, w, ih, iw, batch.images[run.images[k]]);
        break;
      }
      case Task::TextRecognition: {
        const Tensor& t = detail::output(m, outs, "detector", "");
        const float* p = floats(t, "probability map", {n, 1});
        const int h = int(t.shape()[2]), w = int(t.shape()[3]);
        for (int64_t k = 0; k < n; ++k)
          text_boxes[run.images[k]] = detail::db_boxes(p + size_t(k) * h * w, h, w, batch.images[run.images[k]], spec.post);
        break;
      }
      default:
        detail::detections(m, run, outs, batch.images, min_score, preds);
    }
  }
  if (ocr) {
    auto run_network = [&](const std::string& role, Tensor input) {
      detail::Network& n = m.net(role);
      auto outs = n.session->run({{n.input, std::move(input)}}, options.run);
      return outs[m.output_index(n, "")].tensor;
    };
    if (batch.originals.size() != preds.size())
      throw Error(ErrorCode::InvalidArgument, "post_process: text recognition needs the images pre_process kept");
    auto lines = detail::read_text(batch.originals, text_boxes, spec, m.net("classifier").max_batch,
                                   m.net("recognizer").max_batch, min_score, run_network);
    for (size_t i = 0; i < preds.size(); ++i) preds[i].lines = std::move(lines[i]);
  }
  return preds;
}

std::string Prediction::text() const {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l.text;
  return s;
}

}  // namespace kiln::models

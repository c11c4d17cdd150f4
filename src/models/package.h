// A model package as read from its kiln_model.json: what each network takes,
// how images become its input, and the post-processing parameters. Every
// field is checked on load; kiln::Error(InvalidModel) names the file and the
// field ("pkg/kiln_model.json: networks.model.input.mean: expected 3 numbers").
#pragma once

#include <array>
#include <map>
#include <string>
#include <vector>

#include "kiln/models.h"

namespace kiln::models::detail {

inline constexpr const char* k_metadata_file = "kiln_model.json";

enum class Resize {
  Stretch,     // to the input size, aspect ratio not kept
  Letterbox,   // kept, fitted inside, padded around (centered)
  CenterCrop,  // shorter side to resize_shorter, then the center cut out
  LimitSide,   // PaddleOCR's det: longest side at most limit_side, each side a multiple of size_divisor
};

struct InputSpec {
  std::string name;            // "" = the network's only input
  bool nhwc = false;
  int height = 0, width = 0;   // the network input (0 with LimitSide)
  Resize resize = Resize::Stretch;
  int resize_shorter = 0;      // CenterCrop
  int limit_side = 960;        // LimitSide
  bool limit_min = false;      // LimitSide: the shorter side at least limit_side instead
  int size_divisor = 32;       // LimitSide
  bool rgb = true;             // channel order the network takes
  float scale = 1.0f / 255.0f; // value = (pixel * scale - mean) / std
  std::array<float, 3> mean{0, 0, 0};
  std::array<float, 3> std{1, 1, 1};
  float pad_value = 0;         // Letterbox padding, in pixel units
  int max_batch = 0;           // 0: 1 for a fixed batch, else 8
};

struct NetworkSpec {
  std::string role;   // "model", "detector", "classifier", "recognizer"
  std::string file;   // path of the ONNX file
  InputSpec input;
  std::map<std::string, std::string> outputs;  // role of an output -> its ONNX name
};

struct PostSpec {
  int top_k = 5;                 // classification
  bool softmax = false;          // the classifier outputs logits
  // detection: "nms" false when the network already did it (outputs boxes,
  // scores, labels); true for raw outputs boxes [N,A,4] and scores [N,A,C].
  bool nms = false;
  float score_threshold = 0.001f;
  float nms_iou = 0.5f;
  int candidates_per_class = 300;
  int max_detections = 300;
  int background_class = 0;      // -1: none
  float min_score = 0;           // detections and text lines reported from this score
  float mask_threshold = 0.5f;
  // text recognition (PaddleOCR's defaults)
  float det_threshold = 0.3f;
  float box_threshold = 0.6f;
  float unclip_ratio = 1.5f;
  int max_candidates = 1000;
  int min_box_size = 3;
  bool use_dilation = false;
  float cls_threshold = 0.9f;
  float drop_score = 0.5f;
  int width_multiple = 32;       // recognizer widths rounded up to this (fewer shapes)
};

struct PackageSpec {
  std::string dir;
  std::string metadata_path;
  std::string name;
  Task task = Task::Classification;
  std::vector<NetworkSpec> networks;
  std::vector<std::string> classes;
  std::vector<std::string> keypoint_names;
  std::vector<std::string> characters;  // text recognition: CTC classes, blank first
  PostSpec post;

  const NetworkSpec& network(const std::string& role) const;
};

// Reads and validates DIR/kiln_model.json (or the file itself when given).
PackageSpec read_package(const std::string& path);

// The roles a task's package must have.
std::vector<std::string> network_roles(Task task);

}  // namespace kiln::models::detail

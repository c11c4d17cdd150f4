#include "models/package.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "kiln/error.h"

namespace kiln::models::detail {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Reads one JSON object's fields; every error names the file and the field's
// path, and fields nobody asked for are reported (a misspelt key would
// otherwise be silently ignored).
class Fields {
 public:
  Fields(const json& j, std::string file, std::string path) : m_j(j), m_file(std::move(file)), m_path(std::move(path)) {
    if (!m_j.is_object()) fail("", "expected an object");
  }
  ~Fields() = default;

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    std::string where = m_path;
    if (!key.empty()) where += (where.empty() ? "" : ".") + key;
    throw Error(ErrorCode::InvalidModel, m_file + ": " + (where.empty() ? "" : where + ": ") + what);
  }
  bool has(const std::string& key) { m_seen.insert(key); return m_j.contains(key); }
  const json& at(const std::string& key) { m_seen.insert(key); return m_j.at(key); }

  std::string str(const std::string& key, const std::string& fallback, bool required = false) {
    if (!has(key)) { if (required) fail(key, "missing"); return fallback; }
    if (!at(key).is_string()) fail(key, "expected a string");
    return at(key).get<std::string>();
  }
  double num(const std::string& key, double fallback, double lo, double hi) {
    if (!has(key)) return fallback;
    if (!at(key).is_number()) fail(key, "expected a number");
    const double v = at(key).get<double>();
    if (!(v >= lo && v <= hi)) fail(key, "expected a number in [" + fmt(lo) + ", " + fmt(hi) + "], got " + fmt(v));
    return v;
  }
  int integer(const std::string& key, int fallback, int lo, int hi) {
    if (has(key) && !at(key).is_number_integer()) fail(key, "expected an integer");
    return static_cast<int>(num(key, fallback, lo, hi));
  }
  bool boolean(const std::string& key, bool fallback) {
    if (!has(key)) return fallback;
    if (!at(key).is_boolean()) fail(key, "expected true or false");
    return at(key).get<bool>();
  }
  std::string choice(const std::string& key, const std::string& fallback, const std::vector<std::string>& options) {
    const std::string v = str(key, fallback);
    for (const auto& o : options) if (o == v) return v;
    std::string list;
    for (const auto& o : options) list += (list.empty() ? "" : ", ") + o;
    fail(key, "'" + v + "' is not one of " + list);
  }
  std::vector<double> numbers(const std::string& key, size_t count) {
    const json& a = at(key);
    if (!a.is_array() || a.size() != count) fail(key, "expected " + std::to_string(count) + " numbers");
    std::vector<double> out;
    for (const json& v : a) {
      if (!v.is_number()) fail(key, "expected " + std::to_string(count) + " numbers");
      out.push_back(v.get<double>());
    }
    return out;
  }
  std::vector<std::string> strings(const std::string& key) {
    const json& a = at(key);
    if (!a.is_array()) fail(key, "expected a list of strings");
    std::vector<std::string> out;
    for (const json& v : a) {
      if (!v.is_string()) fail(key, "expected a list of strings");
      out.push_back(v.get<std::string>());
    }
    return out;
  }
  Fields child(const std::string& key) {
    if (!has(key)) fail(key, "missing");
    return Fields(at(key), m_file, m_path.empty() ? key : m_path + "." + key);
  }
  void check_unknown() const {
    for (const auto& item : m_j.items())
      if (!m_seen.count(item.key())) fail(item.key(), "unknown field");
  }
  const json& raw() const { return m_j; }
  const std::string& file() const { return m_file; }

 private:
  static std::string fmt(double v) { std::ostringstream s; s << v; return s.str(); }
  const json& m_j;
  std::string m_file, m_path;
  std::set<std::string> m_seen;
};

Task parse_task(Fields& f) {
  const std::string t = f.choice("task", "", {"classification", "detection", "semantic_segmentation",
                                              "instance_segmentation", "keypoints", "text_recognition"});
  if (t == "classification") return Task::Classification;
  if (t == "detection") return Task::Detection;
  if (t == "semantic_segmentation") return Task::SemanticSegmentation;
  if (t == "instance_segmentation") return Task::InstanceSegmentation;
  if (t == "keypoints") return Task::Keypoints;
  return Task::TextRecognition;
}

InputSpec parse_input(Fields f) {
  InputSpec in;
  in.name = f.str("name", "");
  in.nhwc = f.choice("layout", "NCHW", {"NCHW", "NHWC"}) == "NHWC";
  const std::string resize = f.choice("resize", "stretch", {"stretch", "letterbox", "center_crop", "limit_side"});
  in.resize = resize == "letterbox" ? Resize::Letterbox : resize == "center_crop" ? Resize::CenterCrop
            : resize == "limit_side" ? Resize::LimitSide : Resize::Stretch;
  if (f.has("size")) {
    const auto hw = f.numbers("size", 2);
    if (hw[0] < 1 || hw[1] < 1 || hw[0] > 16384 || hw[1] > 16384 || hw[0] != int(hw[0]) || hw[1] != int(hw[1]))
      f.fail("size", "expected [height, width] in pixels");
    in.height = int(hw[0]);
    in.width = int(hw[1]);
  } else if (in.resize != Resize::LimitSide) {
    f.fail("size", "missing ([height, width]; only resize \"limit_side\" goes without)");
  }
  in.resize_shorter = f.integer("resize_shorter", std::min(in.height, in.width), 1, 16384);
  if (in.resize == Resize::CenterCrop && in.resize_shorter < std::max(in.height, in.width))
    f.fail("resize_shorter", "must be at least the crop size");
  in.limit_side = f.integer("limit_side", 960, 32, 16384);
  in.limit_min = f.choice("limit_type", "max", {"max", "min"}) == "min";
  in.size_divisor = f.integer("size_divisor", 32, 1, 1024);
  in.rgb = f.choice("color", "RGB", {"RGB", "BGR"}) == "RGB";
  in.scale = float(f.num("scale", 1.0 / 255.0, 1e-12, 1e6));
  for (const char* key : {"mean", "std"}) {
    if (!f.has(key)) continue;
    const auto v = f.numbers(key, 3);
    for (int c = 0; c < 3; ++c) {
      if (std::string(key) == "std" && !(v[c] > 0)) f.fail(key, "every std must be > 0");
      (std::string(key) == "mean" ? in.mean : in.std)[c] = float(v[c]);
    }
  }
  in.pad_value = float(f.num("pad_value", 0, 0, 255));
  in.max_batch = f.integer("max_batch", 0, 1, 1024);
  f.check_unknown();
  return in;
}

NetworkSpec parse_network(Fields f, const std::string& role, const std::string& dir) {
  NetworkSpec n;
  n.role = role;
  const std::string file = f.str("file", "", true);
  n.file = (fs::path(dir) / file).string();
  if (!fs::is_regular_file(n.file)) f.fail("file", "'" + n.file + "' does not exist");
  n.input = parse_input(f.child("input"));
  if (f.has("outputs")) {
    Fields o = f.child("outputs");
    for (const auto& item : o.raw().items()) n.outputs[item.key()] = o.str(item.key(), "", true);
  }
  f.check_unknown();
  return n;
}

std::vector<std::string> read_lines(const std::string& path, Fields& f, const std::string& key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) f.fail(key, "cannot read '" + path + "'");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

PostSpec parse_post(Fields f) {
  PostSpec p;
  p.top_k = f.integer("top_k", p.top_k, 1, 100000);
  p.softmax = f.boolean("softmax", p.softmax);
  p.nms = f.boolean("nms", p.nms);
  p.score_threshold = float(f.num("score_threshold", p.score_threshold, 0, 1));
  p.nms_iou = float(f.num("nms_iou", p.nms_iou, 0, 1));
  p.candidates_per_class = f.integer("candidates_per_class", p.candidates_per_class, 1, 1 << 20);
  p.max_detections = f.integer("max_detections", p.max_detections, 1, 1 << 20);
  p.background_class = f.integer("background_class", p.background_class, -1, 1 << 20);
  p.min_score = float(f.num("min_score", p.min_score, 0, 1));
  p.mask_threshold = float(f.num("mask_threshold", p.mask_threshold, 0, 1));
  p.det_threshold = float(f.num("det_threshold", p.det_threshold, 0, 1));
  p.box_threshold = float(f.num("box_threshold", p.box_threshold, 0, 1));
  p.unclip_ratio = float(f.num("unclip_ratio", p.unclip_ratio, 0, 100));
  p.max_candidates = f.integer("max_candidates", p.max_candidates, 1, 1 << 20);
  p.min_box_size = f.integer("min_box_size", p.min_box_size, 0, 1 << 20);
  p.use_dilation = f.boolean("use_dilation", p.use_dilation);
  p.cls_threshold = float(f.num("cls_threshold", p.cls_threshold, 0, 1));
  p.drop_score = float(f.num("drop_score", p.drop_score, 0, 1));
  p.width_multiple = f.integer("width_multiple", p.width_multiple, 1, 4096);
  f.check_unknown();
  return p;
}

}  // namespace

std::vector<std::string> network_roles(Task task) {
  if (task == Task::TextRecognition) return {"detector", "classifier", "recognizer"};
  return {"model"};
}

const NetworkSpec& PackageSpec::network(const std::string& role) const {
  for (const auto& n : networks)
    if (n.role == role) return n;
  throw Error(ErrorCode::Internal, metadata_path + ": no network '" + role + "'");
}

PackageSpec read_package(const std::string& path) {
  PackageSpec p;
  const fs::path given(path);
  std::error_code ec;
  if (!fs::exists(given, ec))
    throw Error(ErrorCode::IO, path + ": no such model package (a folder with " + k_metadata_file + " and its ONNX files)");
  if (fs::is_directory(given)) {
    p.dir = given.string();
    p.metadata_path = (given / k_metadata_file).string();
  } else {
    p.dir = given.parent_path().empty() ? "." : given.parent_path().string();
    p.metadata_path = given.string();
  }
  if (!fs::exists(p.metadata_path))
    throw Error(ErrorCode::IO, p.metadata_path + ": no such file (a model package is a folder with " +
                                   k_metadata_file + " and its ONNX files)");
  std::ifstream in(p.metadata_path, std::ios::binary);
  if (!in) throw Error(ErrorCode::IO, p.metadata_path + ": cannot read");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error(ErrorCode::InvalidModel, p.metadata_path + ": not valid JSON (" + e.what() + ")");
  }
  Fields f(j, p.metadata_path, "");
  const int version = f.integer("kiln_model", 0, 1, 1);
  if (version != 1) f.fail("kiln_model", "missing (the format version, 1)");
  p.task = parse_task(f);
  p.name = f.str("name", fs::path(p.dir).filename().string());
  Fields nets = f.child("networks");
  for (const std::string& role : network_roles(p.task)) {
    if (!nets.has(role)) nets.fail(role, "missing (a " + std::string(task_name(p.task)) + " package has networks " +
                                             [&] { std::string s; for (auto& r : network_roles(p.task)) s += (s.empty() ? "" : ", ") + r; return s; }() + ")");
    p.networks.push_back(parse_network(nets.child(role), role, p.dir));
  }
  nets.check_unknown();
  if (f.has("classes")) p.classes = f.strings("classes");
  if (f.has("classes_file")) p.classes = read_lines((fs::path(p.dir) / f.str("classes_file", "")).string(), f, "classes_file");
  if (f.has("keypoint_names")) p.keypoint_names = f.strings("keypoint_names");
  if (p.task == Task::TextRecognition) {
    const std::string file = f.str("characters_file", "", true);
    p.characters = read_lines((fs::path(p.dir) / file).string(), f, "characters_file");
    while (!p.characters.empty() && p.characters.back().empty()) p.characters.pop_back();
    if (p.characters.empty()) f.fail("characters_file", "'" + file + "' lists no characters");
    p.characters.insert(p.characters.begin(), "");  // CTC blank
    if (f.boolean("use_space_char", true)) p.characters.push_back(" ");
  }
  if (f.has("postprocess")) {
    p.post = parse_post(f.child("postprocess"));
    // Masks and keypoints come with the network's own final detections.
    if (p.post.nms && p.task != Task::Detection) f.fail("postprocess.nms", "only a detection package's network leaves NMS to kiln");
  }
  if (f.has("description")) (void)f.str("description", "");
  f.check_unknown();
  return p;
}

}  // namespace kiln::models::detail

namespace kiln::models {

std::string_view task_name(Task task) {
  switch (task) {
    case Task::Classification: return "classification";
    case Task::Detection: return "detection";
    case Task::SemanticSegmentation: return "semantic_segmentation";
    case Task::InstanceSegmentation: return "instance_segmentation";
    case Task::Keypoints: return "keypoints";
    case Task::TextRecognition: return "text_recognition";
  }
  return "?";
}

}  // namespace kiln::models

// kiln's post-processing against torchvision's own on the same raw outputs
// (tests/models/make_postprocess_data.py writes both; run here when missing):
// SSD candidates + batched NMS + boxes back to the image, Mask R-CNN's mask
// pasting, keypoints, segmentation upsampling + argmax, softmax top-k.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "core/npy.h"
#include "models/package.h"
#include "models/preprocess.h"
#include "models/vision_post.h"

namespace fs = std::filesystem;
using namespace kiln;
using namespace kiln::models;
using namespace kiln::models::detail;

namespace {

constexpr int k_w = 640, k_h = 480;  // the image size the data was made for

class PostprocessData : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const char* env = std::getenv("KILN_POSTPROCESS_DATA");
    s_dir = env ? env : (fs::current_path() / "models_postprocess_data").string();
    if (fs::exists(fs::path(s_dir) / "done.txt")) return;
    const char* src = std::getenv("KILN_SOURCE_DIR");
    const std::string script = std::string(src ? src : "../..") + "/tests/models/make_postprocess_data.py";
    const std::string cmd = "/usr/bin/python3 " + script + " " + s_dir + " > /dev/null 2>&1";
    s_made = std::system(cmd.c_str()) == 0;
  }
  void SetUp() override {
    ASSERT_TRUE(fs::exists(fs::path(s_dir) / "done.txt"))
        << "no post-processing data in " << s_dir << " (make_postprocess_data.py failed: needs /usr/bin/python3 with torch)";
  }
  static Tensor load(const std::string& name) { return read_npy((fs::path(s_dir) / (name + ".npy")).string()); }
  static ImageInfo stretched(int size) {
    InputSpec in;
    in.width = in.height = size;
    return plan_resize(in, k_w, k_h).info;
  }
  static inline std::string s_dir;
  static inline bool s_made = false;
};

TEST_F(PostprocessData, SsdNmsMatchesTorchvision) {
  const Tensor boxes = load("ssd_boxes"), scores = load("ssd_scores"), params = load("ssd_params");
  const Tensor ref_boxes = load("ssd_ref_boxes"), ref_scores = load("ssd_ref_scores"), ref_labels = load("ssd_ref_labels");
  PackageSpec spec;
  spec.post.nms = true;
  spec.post.score_threshold = params.data<float>()[0];
  spec.post.nms_iou = params.data<float>()[1];
  spec.post.candidates_per_class = int(params.data<float>()[2]);
  spec.post.max_detections = int(params.data<float>()[3]);
  const int a = int(boxes.shape()[1]), c = int(scores.shape()[2]);
  const auto dets = detect_raw(boxes.data<float>(), scores.data<float>(), a, c, stretched(320), spec, 0);
  const int64_t n = ref_scores.numel();
  ASSERT_GT(n, 0);
  ASSERT_EQ(int64_t(dets.size()), n);
  // Matched one to one (equal scores may sort either way); same label, score
  // and box to float rounding.
  std::vector<bool> used(dets.size(), false);
  for (int64_t i = 0; i < n; ++i) {
    const float* rb = ref_boxes.data<float>() + i * 4;
    int found = -1;
    for (size_t j = 0; j < dets.size() && found < 0; ++j) {
      const Detection& d = dets[j];
      if (used[j] || d.class_id != ref_labels.data<int64_t>()[i] || std::abs(d.score - ref_scores.data<float>()[i]) > 1e-6f)
        continue;
      if (std::abs(d.box.x1 - rb[0]) < 1e-3f && std::abs(d.box.y1 - rb[1]) < 1e-3f && std::abs(d.box.x2 - rb[2]) < 1e-3f &&
          std::abs(d.box.y2 - rb[3]) < 1e-3f)
        found = int(j);
    }
    ASSERT_GE(found, 0) << "torchvision detection " << i << " (label " << ref_labels.data<int64_t>()[i] << ", score "
                        << ref_scores.data<float>()[i] << ") has no match";
    used[found] = true;
  }
  // Best first, as torchvision returns them.
  for (size_t j = 1; j < dets.size(); ++j) EXPECT_GE(dets[j - 1].score, dets[j].score);
}

TEST_F(PostprocessData, MaskPastingMatchesTorchvision) {
  const Tensor boxes = load("rcnn_boxes"), scores = load("rcnn_scores"), labels = load("rcnn_labels");
  const Tensor masks = load("rcnn_masks"), ref_boxes = load("rcnn_ref_boxes"), ref_masks = load("rcnn_ref_masks");
  const int k = int(scores.numel()), m = int(masks.shape()[2]);
  std::vector<int> ids(k);
  for (int i = 0; i < k; ++i) ids[i] = int(labels.data<int64_t>()[i]);
  PackageSpec spec;
  std::vector<int> rows;
  auto dets = detect_final(boxes.data<float>(), scores.data<float>(), ids, k, stretched(512), spec, 0, &rows);
  ASSERT_EQ(int(dets.size()), k);
  size_t differ = 0, total = 0;
  for (int d = 0; d < k; ++d) {
    const int r = rows[d];
    const float* rb = ref_boxes.data<float>() + r * 4;
    EXPECT_FLOAT_EQ(dets[d].box.x1, rb[0]);
    EXPECT_FLOAT_EQ(dets[d].box.y2, rb[3]);
    const auto probs = paste_mask_probabilities(masks.data<float>() + size_t(r) * m * m, m, dets[d].box, k_w, k_h);
    const float* want = ref_masks.data<float>() + size_t(r) * k_w * k_h;
    float worst = 0;
    for (size_t i = 0; i < probs.size(); ++i) {
      worst = std::max(worst, std::abs(probs[i] - want[i]));
      differ += (probs[i] > 0.5f) != (want[i] > 0.5f);
    }
    total += probs.size();
    EXPECT_LT(worst, 1e-4f) << "mask " << r;
  }
  EXPECT_LE(differ, total / 100000) << differ << " of " << total << " mask pixels differ";
  std::printf("masks: %zu of %zu pixels on the other side of 0.5 from torchvision's\n", differ, total);
  // The binary masks kiln reports are those probabilities over 0.5, cut to their extent.
  paste_masks(dets, rows, masks.data<float>(), m, stretched(512), 0.5f);
  for (int d = 0; d < k; ++d) {
    const Mask& mk = dets[d].mask;
    const float* want = ref_masks.data<float>() + size_t(rows[d]) * k_w * k_h;
    size_t set = 0, want_set = 0;
    for (uint8_t v : mk.data) set += v;
    for (int i = 0; i < k_w * k_h; ++i) want_set += want[i] > 0.5f;
    EXPECT_NEAR(double(set), double(want_set), 2.0 + want_set * 1e-3) << "mask " << rows[d];
  }
}

TEST_F(PostprocessData, KeypointsFromHeatmapsMatchTorchvision) {
  const Tensor boxes = load("rcnn_boxes"), maps = load("rcnn_heatmaps");
  const Tensor ref = load("rcnn_ref_keypoints"), ref_scores = load("rcnn_ref_keypoint_scores");
  const int k = int(maps.shape()[0]), joints = int(maps.shape()[1]), m = int(maps.shape()[2]);
  const BackMap map(stretched(512));
  int moved = 0;
  for (int d = 0; d < k; ++d) {
    const float* b = boxes.data<float>() + d * 4;
    const auto kps = keypoints_from_heatmaps(maps.data<float>() + size_t(d) * joints * m * m, joints, m, {b[0], b[1], b[2], b[3]});
    for (int j = 0; j < joints; ++j) {
      const float* want = ref.data<float>() + (size_t(d) * joints + j) * 3;
      const float dx = std::abs(map.x(kps[j].x) - want[0]), dy = std::abs(map.y(kps[j].y) - want[1]);
      // The same peak, unless two pixels of a flat peak (often at a border,
      // where the taps clamp) tie to float rounding: then a neighbour of the
      // same value, which the score check below proves.
      moved += dx > 1e-3f || dy > 1e-3f;
      EXPECT_LT(std::max(dx, dy), 3.0f) << "detection " << d << " keypoint " << j;
      EXPECT_NEAR(kps[j].score, ref_scores.data<float>()[d * joints + j], 1e-4) << "detection " << d << " keypoint " << j;
    }
  }
  EXPECT_LE(moved, k * joints / 10);
  std::printf("keypoints: %d of %d at another pixel than torchvision's\n", moved, k * joints);
}

TEST_F(PostprocessData, SegmentationMatchesTorchvision) {
  for (const std::string name : {"seg_real", "seg_synth"}) {
    const Tensor logits = load(name + "_logits"), ref = load(name + "_ref");
    const int c = int(logits.shape()[1]), h = int(logits.shape()[2]), w = int(logits.shape()[3]);
    const ClassMap map = segment(logits.data<float>(), c, h, w, h, w, stretched(h));
    ASSERT_EQ(map.width, k_w);
    ASSERT_EQ(map.height, k_h);
    size_t same = 0;
    for (size_t i = 0; i < map.classes.size(); ++i) same += map.classes[i] == ref.data<int64_t>()[i];
    EXPECT_GE(double(same) / map.classes.size(), 0.9999) << name << ": " << map.classes.size() - same << " pixels differ";
    std::printf("%s: %zu of %zu pixels of another class than torchvision's\n", name.c_str(), map.classes.size() - same,
                map.classes.size());
  }
}

TEST_F(PostprocessData, SoftmaxTopKMatchesTorch) {
  const Tensor logits = load("cls_logits"), scores = load("cls_ref_scores"), ids = load("cls_ref_ids");
  PackageSpec spec;
  spec.post.softmax = true;
  const int n = int(logits.shape()[1]);
  for (int b = 0; b < 2; ++b) {
    const auto top = classify(logits.data<float>() + b * n, n, spec, 5);
    ASSERT_EQ(top.size(), 5u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ(top[i].class_id, ids.data<int64_t>()[b * 5 + i]);
      EXPECT_NEAR(top[i].score, scores.data<float>()[b * 5 + i], 1e-6);
    }
  }
}

}  // namespace

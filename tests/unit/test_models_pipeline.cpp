// TaskModel end to end on a tiny classifier built here (mean colour per
// channel as logits): predict, pre_process -> forward -> post_process,
// batches split into runs, NHWC, the graph cache and disable_cuda_graphs;
// and the OCR pieces on synthetic inputs: DB boxes, CTC decoding, crops.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "kiln/models.h"
#include "models/db_post.h"
#include "models/image_util.h"
#include "models/ocr.h"
#include "models/preprocess.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::models;
using kiln::test::TempDir;
namespace md = kiln::models::detail;

namespace {

// input [N,3,8,8] (or [N,8,8,3]) -> mean per channel -> output [N,3].
std::string mean_color_model(bool nhwc) {
  kiln::test::ModelBuilder b;
  const std::string batch = "N";
  if (nhwc) {
    b.input("input", ::onnx::TensorProto::FLOAT, {batch, int64_t(8), int64_t(8), int64_t(3)});
    kiln::test::add_ints_attr(b.node("Transpose", {"input"}, {"nchw"}), "perm", {0, 3, 1, 2});
  } else {
    b.input("input", ::onnx::TensorProto::FLOAT, {batch, int64_t(3), int64_t(8), int64_t(8)});
  }
  b.node("GlobalAveragePool", {nhwc ? "nchw" : "input"}, {"pooled"});
  b.node("Flatten", {"pooled"}, {"output"});
  b.output("output", ::onnx::TensorProto::FLOAT, {batch, int64_t(3)});
  return b.bytes();
}

std::string make_package(const TempDir& dir, bool nhwc, int max_batch) {
  dir.write("pkg/model.onnx", mean_color_model(nhwc));
  dir.write("pkg/kiln_model.json", R"({"kiln_model": 1, "task": "classification", "name": "colors",
    "networks": {"model": {"file": "model.onnx", "input": {"size": [8, 8], "layout": ")" +
                                        std::string(nhwc ? "NHWC" : "NCHW") + R"(", "scale": 0.1, "max_batch": )" +
                                        std::to_string(max_batch) + R"(}}},
    "classes": ["red", "green", "blue"], "postprocess": {"top_k": 3, "softmax": true}})");
  return dir.file("pkg");
}

Image solid(int w, int h, uint8_t b, uint8_t g, uint8_t r) {
  cv::Mat m(h, w, CV_8UC3, cv::Scalar(b, g, r));
  return md::from_mat(m, PixelFormat::BGR, "solid");
}

TEST(ModelsPipeline, ClassifiesColorsInBatches) {
  for (bool nhwc : {false, true}) {
    TempDir dir;
    LoadOptions o;
    o.no_cache = true;
    o.threads = 1;
    const TaskModel model = load(make_package(dir, nhwc, 2), o);
    EXPECT_EQ(model.task(), Task::Classification);
    EXPECT_EQ(model.name(), "colors");
    const std::vector<Image> images = {solid(20, 10, 0, 0, 200), solid(8, 8, 0, 200, 0), solid(5, 30, 200, 0, 0)};
    // Three images, max_batch 2: two runs.
    const PreProcessed pre = model.pre_process(images);
    ASSERT_EQ(pre.runs.size(), 2u);
    EXPECT_EQ(pre.runs[0].images, (std::vector<int>{0, 1}));
    EXPECT_EQ(pre.runs[1].inputs.at("input").shape()[0], 1);
    const RawOutputs raw = model.forward(pre, {.disable_cuda_graphs = true});
    ASSERT_EQ(raw.size(), 2u);
    const auto preds = model.post_process(pre, raw);
    ASSERT_EQ(preds.size(), 3u);
    const char* want[] = {"red", "green", "blue"};
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(preds[i].classes.size(), 3u);
      EXPECT_EQ(preds[i].classes[0].label, want[i]) << (nhwc ? "NHWC" : "NCHW");
      EXPECT_EQ(preds[i].width, images[i].width());
      // softmax of (20, 0, 0) (200 * 0.1): the top class takes nearly all.
      EXPECT_NEAR(preds[i].classes[0].score, 1.0, 1e-6);
    }
    // predict() is the three steps.
    PredictOptions top1;
    top1.top_k = 1;
    const Prediction p = model.predict(images[2], top1);
    ASSERT_EQ(p.classes.size(), 1u);
    EXPECT_EQ(p.classes[0].label, "blue");
    EXPECT_NE(to_json(p, "b.png").find("\"label\":\"blue\""), std::string::npos);
    EXPECT_EQ(draw(images[0], preds[0]).width(), 20);
  }
}

TEST(ModelsPipeline, GraphCacheServesRunsUnlessDisabled) {
  TempDir dir;
  LoadOptions o;
  o.no_cache = true;
  o.threads = 1;
  auto graphs = std::make_shared<GraphCache>(4);
  o.graph_caches["model"] = graphs;
  const TaskModel model = load(make_package(dir, false, 4), o);
  const Image img = solid(8, 8, 0, 0, 255);
  model.predict(img);
  model.predict(img);
  EXPECT_EQ(graphs->stats().hits + graphs->stats().misses, 2u);
  PredictOptions no_graphs;
  no_graphs.run.disable_cuda_graphs = true;
  model.predict(img, no_graphs);
  EXPECT_EQ(graphs->stats().hits + graphs->stats().misses, 2u);
  EXPECT_EQ(model.session("model").stats().runs, 3u);
}

TEST(ModelsPipeline, EngineBuiltOnceThroughTheCache) {
  TempDir dir;
  DiskEngineCache cache(dir.file("cache"));
  LoadOptions o;
  o.cache = &cache;
  o.threads = 1;
  const std::string pkg = make_package(dir, false, 2);
  EXPECT_FALSE(load(pkg, o).cache_hits()[0].second);
  EXPECT_TRUE(load(pkg, o).cache_hits()[0].second);
}

TEST(ModelsOcr, CtcMergesRepeatsAndDropsBlanks) {
  const std::vector<std::string> chars = {"", "a", "b", " "};
  // steps: a a blank a b b space b  -> "aab b"
  const int seq[] = {1, 1, 0, 1, 2, 2, 3, 2};
  std::vector<float> probs(8 * 4, 0.0f);
  for (int t = 0; t < 8; ++t) probs[t * 4 + seq[t]] = t == 0 ? 0.6f : 0.9f;
  const auto [text, score] = md::ctc_decode(probs.data(), 8, 4, chars);
  EXPECT_EQ(text, "aab b");
  EXPECT_NEAR(score, (0.6 + 0.9 * 4) / 5, 1e-6);  // kept steps: 0, 3, 4, 6, 7
  std::vector<float> blank(3 * 4, 0.0f);
  for (int t = 0; t < 3; ++t) blank[t * 4] = 1;
  EXPECT_EQ(md::ctc_decode(blank.data(), 3, 4, chars), (std::pair<std::string, float>{"", 0.0f}));
}

TEST(ModelsOcr, DbBoxesFromAProbabilityMap) {
  // Two text-like blobs on a 64x128 map; the image is twice the size.
  cv::Mat prob(64, 128, CV_32FC1, cv::Scalar(0.01));
  prob(cv::Rect(70, 40, 50, 12)).setTo(0.9);
  prob(cv::Rect(10, 10, 60, 10)).setTo(0.95);
  prob(cv::Rect(100, 5, 2, 2)).setTo(0.9);  // too small: dropped
  ImageInfo info;
  info.width = 256;
  info.height = 128;
  md::PostSpec post;
  const auto boxes = md::db_boxes(prob.ptr<float>(), 64, 128, info, post);
  ASSERT_EQ(boxes.size(), 2u);
  // Reading order: the upper one first; unclip grows each by area*1.5/perimeter on every side.
  const double d = 60 * 10 * 1.5 / (2 * (60 + 10));  // ~6.4 px on the map (the quad is the blob's pixel corners)
  EXPECT_NEAR(boxes[0].points[0].x, (10 - d) * 2, 4);
  EXPECT_NEAR(boxes[0].points[0].y, (10 - d) * 2, 4);
  EXPECT_NEAR(boxes[0].points[2].x, (69 + d) * 2, 4);
  EXPECT_GT(boxes[0].score, 0.9f);
  EXPECT_NEAR(boxes[1].points[0].x, 2 * 70 - 12, 6);
  EXPECT_LT(boxes[0].points[0].x, boxes[0].points[1].x);  // clockwise from top-left
  EXPECT_LT(boxes[0].points[1].y, boxes[0].points[2].y);
}

TEST(ModelsOcr, CropsStraightenAndTurnVerticalText) {
  Image img(100, 100, PixelFormat::BGR);
  const Image flat = md::crop_text(img, {Point{10, 10}, Point{70, 10}, Point{70, 30}, Point{10, 30}});
  EXPECT_EQ(flat.width(), 60);
  EXPECT_EQ(flat.height(), 20);
  const Image tall = md::crop_text(img, {Point{10, 10}, Point{30, 10}, Point{30, 70}, Point{10, 70}});
  EXPECT_EQ(tall.width(), 60);  // turned 90 degrees: read as a line
  EXPECT_EQ(tall.height(), 20);
}

}  // namespace

namespace {

// Pre-processing cost next to a GPU inference: a 1920x1080 JPEG decoded, then
// resized to 640x640 and normalized into NCHW float (median of 20), on one thread. Printed,
// with a bound loose enough for a busy CI machine.
TEST(ModelsPreprocessSpeed, Jpeg1080pTo640) {
  cv::setNumThreads(0);  // as TaskModel::load leaves OpenCV (LoadOptions::opencv_threads)
  TempDir dir;
  cv::Mat m(1080, 1920, CV_8UC3);
  cv::randu(m, 0, 255);
  cv::GaussianBlur(m, m, cv::Size(9, 9), 3);  // photo-like, not noise, for a realistic JPEG
  const std::string path = dir.file("frame.jpg");
  ASSERT_TRUE(cv::imwrite(path, m, {cv::IMWRITE_JPEG_QUALITY, 90}));
  md::InputSpec in;
  in.width = in.height = 640;
  in.mean = {0.485f, 0.456f, 0.406f};
  in.std = {0.229f, 0.224f, 0.225f};
  auto median = [](std::vector<double> v) { std::sort(v.begin(), v.end()); return v[v.size() / 2]; };
  using Clock = std::chrono::steady_clock;
  std::vector<double> decode, stretch, letterbox;
  Image img;
  for (int i = 0; i < 20; ++i) {
    auto t = Clock::now();
    img = read_image(path);
    decode.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
    for (auto [mode, out] : {std::pair{md::Resize::Stretch, &stretch}, std::pair{md::Resize::Letterbox, &letterbox}}) {
      in.resize = mode;
      t = Clock::now();
      const PreProcessed p = md::pre_process_images(in, "x", 1, {img});
      out->push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
      ASSERT_EQ(p.runs[0].inputs.at("x").shape(), (Shape{1, 3, 640, 640}));
    }
  }
  std::printf("1920x1080 JPEG: decode %.2f ms; to 640x640 NCHW float: stretch %.2f ms, letterbox %.2f ms (medians of 20)\n",
              median(decode), median(stretch), median(letterbox));
  EXPECT_LT(median(stretch), 100.0);
}

}  // namespace

// Model packages and images: a malformed package or image is a kiln::Error
// naming the file (and the field); resize geometry as torchvision and
// PaddleOCR compute it; EXIF orientation applied on read.
#include <gtest/gtest.h>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "kiln/models.h"
#include "models/image_util.h"
#include "models/package.h"
#include "models/preprocess.h"
#include "onnx_test_util.h"

using namespace kiln;
using namespace kiln::models;
using kiln::test::TempDir;
namespace md = kiln::models::detail;

namespace {

// A package folder with `json` as its kiln_model.json and an (empty) model.onnx.
std::string package(const TempDir& dir, const std::string& json) {
  dir.write("pkg/model.onnx", "");
  dir.write("pkg/kiln_model.json", json);
  return dir.file("pkg");
}

std::string classifier_json(const std::string& input_extra = "", const std::string& top_extra = "") {
  return R"({"kiln_model": 1, "task": "classification", "networks": {"model": {"file": "model.onnx",
             "input": {"size": [8, 8])" + input_extra + R"(}}}, "classes": ["a", "b"])" + top_extra + "}";
}

TEST(ModelsPackage, ReadsAValidPackage) {
  TempDir dir;
  const auto spec = md::read_package(package(dir, classifier_json(R"(, "mean": [0.5, 0.5, 0.5], "color": "BGR")",
                                                                      R"(, "postprocess": {"top_k": 2})")));
  EXPECT_EQ(spec.task, Task::Classification);
  EXPECT_EQ(spec.name, "pkg");
  ASSERT_EQ(spec.networks.size(), 1u);
  EXPECT_EQ(spec.networks[0].input.height, 8);
  EXPECT_FALSE(spec.networks[0].input.rgb);
  EXPECT_FLOAT_EQ(spec.networks[0].input.mean[1], 0.5f);
  EXPECT_EQ(spec.post.top_k, 2);
  EXPECT_EQ(spec.classes, (std::vector<std::string>{"a", "b"}));
}

TEST(ModelsPackage, MalformedMetadataNamesFileAndField) {
  TempDir dir;
  const std::string meta = dir.file("pkg/kiln_model.json");
  EXPECT_KILN_ERROR(md::read_package(dir.file("nowhere")), ErrorCode::IO, dir.file("nowhere"), "no such model package");
  std::filesystem::create_directories(dir.file("empty"));
  EXPECT_KILN_ERROR(md::read_package(dir.file("empty")), ErrorCode::IO, dir.file("empty/kiln_model.json"), "no such file");
  EXPECT_KILN_ERROR(md::read_package(package(dir, "{\"kiln_model\": 1,")), ErrorCode::InvalidModel, meta,
                    "not valid JSON");
  EXPECT_KILN_ERROR(md::read_package(package(dir, R"({"task": "classification"})")), ErrorCode::InvalidModel, meta,
                    "kiln_model");
  EXPECT_KILN_ERROR(md::read_package(package(dir, R"({"kiln_model": 1, "task": "ocr", "networks": {}})")),
                    ErrorCode::InvalidModel, meta, "task", "'ocr' is not one of");
  EXPECT_KILN_ERROR(md::read_package(package(dir, classifier_json(R"(, "mean": [0.5, 0.5])"))), ErrorCode::InvalidModel,
                    meta, "networks.model.input.mean", "expected 3 numbers");
  EXPECT_KILN_ERROR(md::read_package(package(dir, classifier_json(R"(, "std": [1, 0, 1])"))), ErrorCode::InvalidModel,
                    meta, "networks.model.input.std", "> 0");
  EXPECT_KILN_ERROR(md::read_package(package(dir, classifier_json(R"(, "meen": [0, 0, 0])"))), ErrorCode::InvalidModel,
                    meta, "networks.model.input.meen", "unknown field");
  EXPECT_KILN_ERROR(md::read_package(package(dir, classifier_json(R"(, "resize": "crop")"))), ErrorCode::InvalidModel,
                    meta, "networks.model.input.resize", "'crop'");
  EXPECT_KILN_ERROR(md::read_package(package(dir, classifier_json("", R"(, "postprocess": {"top_k": "5"})"))),
                    ErrorCode::InvalidModel, meta, "postprocess.top_k", "expected an integer");
  EXPECT_KILN_ERROR(md::read_package(package(dir, R"({"kiln_model": 1, "task": "detection", "networks": {"model":
                    {"file": "gone.onnx", "input": {"size": [8, 8]}}}})")),
                    ErrorCode::InvalidModel, meta, "networks.model.file", "gone.onnx", "does not exist");
  EXPECT_KILN_ERROR(md::read_package(package(dir, R"({"kiln_model": 1, "task": "detection", "networks": {"model":
                    {"file": "model.onnx", "input": {}}}})")),
                    ErrorCode::InvalidModel, meta, "networks.model.input.size", "missing");
  EXPECT_KILN_ERROR(md::read_package(package(dir, R"({"kiln_model": 1, "task": "text_recognition", "networks":
                    {"detector": {"file": "model.onnx", "input": {"resize": "limit_side"}}}})")),
                    ErrorCode::InvalidModel, meta, "networks.classifier", "missing");
}

TEST(ModelsPackage, NetworkNotOnnxNamesTheFiles) {
  TempDir dir;
  const std::string pkg = package(dir, classifier_json());
  dir.write("pkg/model.onnx", "this is not a protobuf");
  LoadOptions o;
  o.no_cache = true;
  EXPECT_KILN_ERROR(load(pkg, o), ErrorCode::InvalidModel, dir.file("pkg/kiln_model.json"), "network 'model'",
                    dir.file("pkg/model.onnx"));
}

TEST(ModelsPackage, InputMismatchNamesTheFiles) {
  TempDir dir;
  kiln::test::ModelBuilder b;
  b.input("input", ::onnx::TensorProto::FLOAT, {int64_t(1), int64_t(3), int64_t(4), int64_t(4)});
  b.output("output", ::onnx::TensorProto::FLOAT, {int64_t(1), int64_t(3), int64_t(1), int64_t(1)});
  b.node("GlobalAveragePool", {"input"}, {"output"});
  const std::string pkg = package(dir, classifier_json());  // size [8, 8]
  dir.write("pkg/model.onnx", b.bytes());
  LoadOptions o;
  o.no_cache = true;
  EXPECT_KILN_ERROR(load(pkg, o), ErrorCode::InvalidModel, "networks.model.input.size", "[8, 8]", "model.onnx",
                    "[1,3,4,4]");
}

TEST(ModelsPackage, ClassCountMismatchNamesTheFiles) {
  TempDir dir;
  kiln::test::ModelBuilder b;
  b.input("input", ::onnx::TensorProto::FLOAT, {int64_t(1), int64_t(3), int64_t(8), int64_t(8)});
  b.output("output", ::onnx::TensorProto::FLOAT, {int64_t(1), int64_t(3)});
  b.node("GlobalAveragePool", {"input"}, {"pooled"});
  b.node("Flatten", {"pooled"}, {"output"});
  const std::string pkg = package(dir, classifier_json());  // two class names
  dir.write("pkg/model.onnx", b.bytes());
  LoadOptions o;
  o.no_cache = true;
  EXPECT_KILN_ERROR(load(pkg, o), ErrorCode::InvalidModel, dir.file("pkg/kiln_model.json"), "classes: 2 names",
                    "model.onnx", "3 classes");
}

TEST(ModelsImage, MissingOrMalformedImageNamesTheFile) {
  TempDir dir;
  EXPECT_KILN_ERROR(read_image(dir.file("none.png")), ErrorCode::IO, dir.file("none.png"), "no such image file");
  const std::string bad = dir.write("bad.png", "\x89PNG\r\n\x1a\n truncated");
  EXPECT_KILN_ERROR(read_image(bad), ErrorCode::IO, bad, "not an image");
  const std::string text = dir.write("notes.jpg", "just some text, not a JPEG");
  EXPECT_KILN_ERROR(read_image(text), ErrorCode::IO, text);
  const uint8_t junk[] = {1, 2, 3, 4};
  EXPECT_KILN_ERROR(decode_image(junk, sizeof junk, "upload #7"), ErrorCode::IO, "upload #7");
  EXPECT_KILN_ERROR(write_image(dir.file("x.unknownext"), Image(4, 4, PixelFormat::BGR)), ErrorCode::IO, "x.unknownext");
}

// A JPEG with an EXIF APP1 segment whose Orientation tag is `orientation`.
std::vector<uint8_t> jpeg_with_orientation(const cv::Mat& img, uint16_t orientation) {
  std::vector<uint8_t> jpg;
  cv::imencode(".jpg", img, jpg, {cv::IMWRITE_JPEG_QUALITY, 100});
  const uint8_t tiff[] = {'I', 'I', 42, 0, 8, 0, 0, 0,                       // little endian, IFD at 8
                          1, 0,                                              // one entry
                          0x12, 0x01, 3, 0, 1, 0, 0, 0, uint8_t(orientation), 0, 0, 0,  // Orientation SHORT
                          0, 0, 0, 0};                                       // no next IFD
  std::vector<uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), std::begin(tiff), std::end(tiff));
  const size_t len = app1.size() - 2;
  app1[2] = uint8_t(len >> 8);
  app1[3] = uint8_t(len & 0xFF);
  jpg.insert(jpg.begin() + 2, app1.begin(), app1.end());  // right after SOI
  return jpg;
}

TEST(ModelsImage, ExifOrientationIsApplied) {
  // 40 wide, 20 high: left half red, right half blue.
  cv::Mat img(20, 40, CV_8UC3, cv::Scalar(0, 0, 255));
  img(cv::Rect(20, 0, 20, 20)).setTo(cv::Scalar(255, 0, 0));
  TempDir dir;
  const auto bytes = jpeg_with_orientation(img, 6);  // 6: turn 90 degrees clockwise to view
  const std::string path = dir.write("exif6.jpg", std::string(bytes.begin(), bytes.end()));
  for (const Image& im : {read_image(path), decode_image(bytes.data(), bytes.size())}) {
    ASSERT_EQ(im.width(), 20);
    ASSERT_EQ(im.height(), 40);
    const cv::Mat m = md::as_mat(im);
    EXPECT_GT(m.at<cv::Vec3b>(5, 10)[2], 200);   // top: was the left half, red
    EXPECT_GT(m.at<cv::Vec3b>(35, 10)[0], 200);  // bottom: was the right half, blue
  }
  const auto plain = jpeg_with_orientation(img, 1);
  EXPECT_EQ(decode_image(plain.data(), plain.size()).width(), 40);
}

TEST(ModelsPreprocess, GeometryAsTorchvisionAndPaddleOCR) {
  md::InputSpec in;
  in.width = in.height = 320;
  in.resize = md::Resize::Letterbox;
  auto g = md::plan_resize(in, 640, 480);
  EXPECT_EQ(g.info.resized_width, 320);
  EXPECT_EQ(g.info.resized_height, 240);
  EXPECT_EQ(g.info.pad_y, 40);
  EXPECT_EQ(g.info.pad_x, 0);
  // Resize(256) + CenterCrop(224) of 640x480: 341x256, top-left at round(58.5) = 58 (halves to even).
  in.width = in.height = 224;
  in.resize = md::Resize::CenterCrop;
  in.resize_shorter = 256;
  g = md::plan_resize(in, 640, 480);
  EXPECT_EQ(g.info.resized_width, 341);
  EXPECT_EQ(g.info.resized_height, 256);
  EXPECT_EQ(g.info.pad_x, -58);
  EXPECT_EQ(g.info.pad_y, -16);
  // DetResizeForTest, limit_type max 960: 1920x1080 -> 960x540 -> sides to multiples of 32.
  in.resize = md::Resize::LimitSide;
  g = md::plan_resize(in, 1920, 1080);
  EXPECT_EQ(g.input_width, 960);
  EXPECT_EQ(g.input_height, 544);
  g = md::plan_resize(in, 800, 200);  // no downscale; 200/32 = 6.25 -> 192
  EXPECT_EQ(g.input_width, 800);
  EXPECT_EQ(g.input_height, 192);
}

TEST(ModelsPreprocess, NormalizesChannelsAndPads) {
  md::InputSpec in;
  in.width = 8;
  in.height = 8;
  in.resize = md::Resize::Letterbox;
  in.scale = 1.0f / 255;
  in.mean = {0.1f, 0.2f, 0.3f};
  in.std = {0.5f, 0.5f, 0.5f};
  in.pad_value = 0;
  Image img(8, 4, PixelFormat::BGR);  // B=10, G=20, R=30 everywhere
  for (int i = 0; i < 8 * 4; ++i) {
    img.data()[i * 3] = 10;
    img.data()[i * 3 + 1] = 20;
    img.data()[i * 3 + 2] = 30;
  }
  for (bool nhwc : {false, true}) {
    in.nhwc = nhwc;
    auto pre = md::pre_process_images(in, "x", 4, {img});
    ASSERT_EQ(pre.runs.size(), 1u);
    const Tensor& t = pre.runs[0].inputs.at("x");
    auto at = [&](int c, int y, int x) { return nhwc ? t.data<float>()[(y * 8 + x) * 3 + c] : t.data<float>()[(c * 8 + y) * 8 + x]; };
    EXPECT_EQ(pre.images[0].pad_y, 2);
    EXPECT_NEAR(at(0, 4, 4), (30 / 255.0f - 0.1f) / 0.5f, 1e-6);  // RGB: channel 0 is red
    EXPECT_NEAR(at(2, 4, 4), (10 / 255.0f - 0.3f) / 0.5f, 1e-6);
    EXPECT_NEAR(at(1, 0, 0), (0 - 0.2f) / 0.5f, 1e-6);            // padding row
  }
}

}  // namespace

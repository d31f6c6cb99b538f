#!/usr/bin/env python3
"""PyTorch/transformers timings for `detr-bench model`.

    model_ref.py CASE [--runs 5]   prints {"seconds": median, "peak_rss_mb": peak}

Cases: detr-r50-infer-BxHxW (eval mode, no grad) and detr-r50-train-2x512x512 (one step:
forward, matching, loss, backward, clipping, AdamW; dropout 0.1 as configured). The model is transformers'
DetrForObjectDetection with a timm ResNet-50 (random init, no download), 91 classes,
100 queries, d_model 256, 6+6 layers: the DETR-R50 architecture. conditional-detr-r50-infer-BxHxW
and conditional-detr-r50-train-2x512x512: ConditionalDetrForObjectDetection the same way (300
queries, 91 classes, focal loss). detr-r50-segm-infer-BxHxW: DETR-R50 with the mask head (250
classes, as the official panoptic model), eval mode, no grad: the official facebookresearch/detr
code when the environment variable DETR_REPO names a clone of it (its `main.py` argument defaults
with --masks --dataset_file coco_panoptic; its imports need pycocotools and scipy; random weights,
no download), else transformers' DetrForSegmentation (which peaks far higher: 12.6 GB against
the official code's 3.5 GB at 1x800x1066).
mask2former-r50-infer-BxHxW and mask2former-r50-train-2x512x512:
Mask2FormerForUniversalSegmentation with transformers' ResNet-50 backbone config (random init; it
runs with a warning), 133 classes and the official sizes (100 queries, width 256, 6 encoder and 9
decoder layers); the training step has 5 rectangular segments per image, 12544 points, clipping at
0.01 and AdamW (weight decay 0.05, backbone at 0.1x). Threads: torch's default.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import run_case_cli  # noqa: E402

try:
    import torch
    from transformers import (ConditionalDetrConfig, ConditionalDetrForObjectDetection, DetrConfig, DetrForObjectDetection,
                              DetrForSegmentation)
except ImportError as e:
    sys.exit(f"torch/transformers missing: {e} (pip install torch transformers timm)")



def prepare_mask2former(case):
    from transformers import Mask2FormerConfig, Mask2FormerForUniversalSegmentation, ResNetConfig
    backbone = ResNetConfig(out_features=["stage1", "stage2", "stage3", "stage4"])
    model = Mask2FormerForUniversalSegmentation(Mask2FormerConfig(backbone_config=backbone, num_labels=133)).eval()
    if case.startswith("mask2former-r50-infer-"):
        b, h, w = (int(v) for v in case.rsplit("-", 1)[1].split("x"))
        x = torch.rand(b, 3, h, w) * 4 - 2

        def infer():
            with torch.no_grad():
                model(pixel_values=x)
        return infer
    if case == "mask2former-r50-train-2x512x512":
        model.train()
        x = torch.rand(2, 3, 512, 512) * 4 - 2
        g = torch.Generator().manual_seed(3)
        mask_labels, class_labels = [], []
        for _ in range(2):
            m = torch.zeros(5, 512, 512)
            for k in range(5):
                y0, x0 = (int(v) for v in torch.randint(0, 384, (2,), generator=g))
                hh, ww = (32 + int(v) for v in torch.randint(0, 96, (2,), generator=g))
                m[k, y0:y0 + hh, x0:x0 + ww] = 1
            mask_labels.append(m)
            class_labels.append(torch.randint(0, 133, (5,), generator=g))
        backbone_params = [p for n, p in model.named_parameters() if "pixel_level_module.encoder" in n and p.requires_grad]
        rest = [p for n, p in model.named_parameters() if "pixel_level_module.encoder" not in n and p.requires_grad]
        opt = torch.optim.AdamW([{"params": rest}, {"params": backbone_params, "lr": 1e-5}], lr=1e-4, weight_decay=0.05)

        def step():
            opt.zero_grad()
            out = model(pixel_values=x, mask_labels=mask_labels, class_labels=class_labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.01)
            opt.step()
        return step
    sys.exit(f"unknown case {case}")


def prepare(case):
    torch.manual_seed(0)
    if case.startswith("mask2former-"):
        return prepare_mask2former(case)
    if case.startswith("conditional-"):
        cfg = ConditionalDetrConfig(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False, num_labels=91)
        model = ConditionalDetrForObjectDetection(cfg).eval()
        case = case[len("conditional-"):]
    elif case.startswith("detr-r50-segm-"):
        if os.environ.get("DETR_REPO"):
            return official_segmentation(os.environ["DETR_REPO"], case)
        cfg = DetrConfig(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False, num_labels=250)
        model = DetrForSegmentation(cfg).eval()
        case = "detr-r50-" + case[len("detr-r50-segm-"):]
    else:
        cfg = DetrConfig(use_timm_backbone=True, backbone="resnet50", use_pretrained_backbone=False, num_labels=91)
        model = DetrForObjectDetection(cfg).eval()
    if case.startswith("detr-r50-infer-"):
        b, h, w = (int(v) for v in case.rsplit("-", 1)[1].split("x"))
        x = torch.rand(b, 3, h, w) * 4 - 2
        mask = torch.ones(b, h, w, dtype=torch.long)

        def infer():
            with torch.no_grad():
                model(pixel_values=x, pixel_mask=mask)
        return infer
    if case == "detr-r50-train-2x512x512":
        model.train()
        x = torch.rand(2, 3, 512, 512) * 4 - 2
        mask = torch.ones(2, 512, 512, dtype=torch.long)
        g = torch.Generator().manual_seed(3)
        labels = [{"class_labels": torch.randint(0, 91, (10,), generator=g),
                   "boxes": torch.cat([torch.rand(10, 2, generator=g) * 0.6 + 0.2, torch.rand(10, 2, generator=g) * 0.3 + 0.05], 1)}
                  for _ in range(2)]
        backbone = [p for n, p in model.named_parameters() if "backbone" in n and p.requires_grad]
        rest = [p for n, p in model.named_parameters() if "backbone" not in n and p.requires_grad]
        opt = torch.optim.AdamW([{"params": rest}, {"params": backbone, "lr": 1e-5}], lr=1e-4, weight_decay=1e-4)

        def step():
            opt.zero_grad()
            out = model(pixel_values=x, pixel_mask=mask, labels=labels)
            out.loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.1)
            opt.step()
        return step
    sys.exit(f"unknown case {case}")


def official_segmentation(repo, case):
    """The official DETR-R50 panoptic model (random weights) on a BxHxW batch."""
    sys.path.insert(0, repo)
    import models.backbone as backbone
    backbone.is_main_process = lambda: False  # pretrained=False: no download
    from main import get_args_parser
    from models import build_model
    args = get_args_parser().parse_args(["--masks", "--dataset_file", "coco_panoptic", "--device", "cpu"])
    model, _, _ = build_model(args)
    model.eval()
    b, h, w = (int(v) for v in case.rsplit("-", 1)[1].split("x"))
    x = torch.rand(b, 3, h, w) * 4 - 2

    def infer():
        with torch.no_grad():
            model(x)
    return infer


def main():
    run_case_cli(prepare)


if __name__ == "__main__":
    main()

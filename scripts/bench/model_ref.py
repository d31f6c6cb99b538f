#!/usr/bin/env python3
"""PyTorch/transformers timings for `detr-bench model`.

    model_ref.py CASE [--runs 5]   prints {"seconds": median, "peak_rss_mb": peak}

Cases: detr-r50-infer-BxHxW (eval mode, no grad). The model is transformers'
DetrForObjectDetection with a timm ResNet-50 (random init, no download), 91 classes,
100 queries, d_model 256, 6+6 layers: the DETR-R50 architecture. Threads: torch's default.
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    from transformers import DetrConfig, DetrForObjectDetection
except ImportError as e:
    sys.exit(f"torch/transformers missing: {e} (pip install torch transformers timm)")


def peak_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def prepare(case):
    torch.manual_seed(0)
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
    sys.exit(f"unknown case {case}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = prepare(args.case)
    work()
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        work()
        times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()

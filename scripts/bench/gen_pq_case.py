#!/usr/bin/env python3
"""Generates the bigger panoptic case of `detr-bench eval` (pq-gen<N>): N copies of the
panopticapi sample (<data>/panoptic/sample, two 640x4xx images) under new names and image ids,
with the shifted/relabelled predictions of <data>/panoptic/cases/shift_drop_relabel.

    gen_pq_case.py DATA OUT [--images 1000]

Writes OUT/gt.json, OUT/gt/, OUT/pred.json, OUT/pred/ (PNG files copied, not linked, so that
both tools read real files). Deterministic; needs only the standard library.
"""
import argparse
import json
import os
import shutil


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data", help="the shared data folder (holding panoptic/)")
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=1000)
    args = ap.parse_args()
    sample = os.path.join(args.data, "panoptic", "sample")
    case = os.path.join(args.data, "panoptic", "cases", "shift_drop_relabel")
    gt = json.load(open(os.path.join(sample, "panoptic_examples.json")))
    pred = json.load(open(os.path.join(case, "pred_shift.json")))
    pmap = {a["image_id"]: a for a in pred["annotations"]}
    for d in ("gt", "pred"):
        os.makedirs(os.path.join(args.out, d), exist_ok=True)
    images, ga, pa = [], [], []
    for i in range(args.images):
        g = dict(gt["annotations"][i % len(gt["annotations"])])
        p = dict(pmap[g["image_id"]])
        name = "%06d.png" % i
        shutil.copyfile(os.path.join(sample, "panoptic_examples", g["file_name"]), os.path.join(args.out, "gt", name))
        shutil.copyfile(os.path.join(case, "pred_shift", p["file_name"]), os.path.join(args.out, "pred", name))
        img = next((m for m in gt.get("images", []) if m["id"] == g["image_id"]), None)
        if img is not None:
            img = dict(img)
            img.update(id=i, file_name="%06d.jpg" % i)
            images.append(img)
        g.update(image_id=i, file_name=name)
        p.update(image_id=i, file_name=name)
        ga.append(g)
        pa.append(p)
    with open(os.path.join(args.out, "gt.json"), "w") as f:
        json.dump({"images": images, "annotations": ga, "categories": gt["categories"]}, f)
    with open(os.path.join(args.out, "pred.json"), "w") as f:
        json.dump({"annotations": pa}, f)


if __name__ == "__main__":
    main()

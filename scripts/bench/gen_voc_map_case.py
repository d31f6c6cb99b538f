#!/usr/bin/env python3
"""Generates the bigger VOC mAP case of `detr-bench eval` (voc-map-gen<N>): N images with 0-9
ground-truth objects of 20 classes (5% difficult) and about 10 detections an image (jittered
copies of the objects, some with the wrong class, plus random boxes), in the folder layout of
Cartucho/mAP and get-map voc:

    gen_voc_map_case.py OUT [--images 5000] [--seed 0]

writes OUT/ground-truth/<id>.txt ('class left top right bottom [difficult]') and
OUT/detection-results/<id>.txt ('class score left top right bottom'), one file per image on
both sides (empty when there is nothing). Deterministic; standard library only.
"""
import argparse
import os
import random

CLASSES = ["aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
           "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
           "tvmonitor"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    gt_dir = os.path.join(args.out, "ground-truth")
    dr_dir = os.path.join(args.out, "detection-results")
    os.makedirs(gt_dir, exist_ok=True)
    os.makedirs(dr_dir, exist_ok=True)
    for i in range(args.images):
        gts, dets = [], []
        for _ in range(rng.randint(0, 9)):
            c = rng.choice(CLASSES)
            l, t = rng.randint(0, 450), rng.randint(0, 350)
            w, h = rng.randint(8, 180), rng.randint(8, 180)
            gts.append("%s %d %d %d %d%s" % (c, l, t, l + w, t + h, " difficult" if rng.random() < 0.05 else ""))
            for _ in range(rng.choice([0, 1, 1, 2, 2, 3])):
                j = lambda: rng.randint(-w // 4 - 1, w // 4 + 1)
                cls = c if rng.random() < 0.85 else rng.choice(CLASSES)
                dets.append("%s %.6f %d %d %d %d" % (cls, rng.random(), l + j(), t + j(), l + w + j(), t + h + j()))
        for _ in range(rng.randint(0, 6)):
            l, t = rng.randint(0, 450), rng.randint(0, 350)
            dets.append("%s %.6f %d %d %d %d" % (rng.choice(CLASSES), rng.random() * 0.6, l, t,
                                                 l + rng.randint(8, 200), t + rng.randint(8, 200)))
        rng.shuffle(dets)
        name = "%06d.txt" % i
        with open(os.path.join(gt_dir, name), "w") as f:
            f.write("".join(s + "\n" for s in gts))
        with open(os.path.join(dr_dir, name), "w") as f:
            f.write("".join(s + "\n" for s in dets))


if __name__ == "__main__":
    main()

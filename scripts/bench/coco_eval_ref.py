#!/usr/bin/env python3
"""Reference timings for `detr-bench eval`: the same work as the Swift cases, in Python.

    coco_eval_ref.py eval GT DT bbox|segm --impl pycocotools|faster-coco-eval [--runs N]
        COCO(GT) + loadRes(DT) + evaluate + accumulate + summarize (the whole job, as a user
        runs it; printing is captured so that it does not count as terminal time)
    coco_eval_ref.py load GT --impl pycocotools|faster-coco-eval [--runs N]
        COCO(GT): json.load plus index creation

Prints {"seconds": median, "peak_rss_mb": peak, "stats": [...]} as JSON on stdout. No warm-up
run: the packages are imported before timing, and the stress evaluation takes minutes per run.
Needs: pip install pycocotools faster-coco-eval.
"""
import argparse
import os
import contextlib
import io
import json
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import peak_rss_mb  # noqa: E402


def modules(impl):
    if impl == 'pycocotools':
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval
        return COCO, COCOeval
    from faster_coco_eval import COCO, COCOeval_faster
    return COCO, COCOeval_faster


def run_eval(COCO, COCOeval, gt, dt, iou):
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(gt)
        d = g.loadRes(dt)
        e = COCOeval(g, d, iou)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(x) for x in e.stats]


def run_load(COCO, gt):
    with contextlib.redirect_stdout(io.StringIO()):
        g = COCO(gt)
    return [len(g.dataset['images']), len(g.dataset['annotations'])]



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('what', choices=['eval', 'load'])
    ap.add_argument('files', nargs='+')
    ap.add_argument('--impl', choices=['pycocotools', 'faster-coco-eval'], default='pycocotools')
    ap.add_argument('--runs', type=int, default=1)
    args = ap.parse_args()
    try:
        COCO, COCOeval = modules(args.impl)
    except ImportError as e:
        print('%s is not installed: %s' % (args.impl, e), file=sys.stderr)
        sys.exit(2)
    times, stats = [], None
    for _ in range(max(1, args.runs)):
        t0 = time.perf_counter()
        if args.what == 'eval':
            gt, dt, iou = args.files
            stats = run_eval(COCO, COCOeval, gt, dt, iou)
        else:
            stats = run_load(COCO, args.files[0])
        times.append(time.perf_counter() - t0)
    print(json.dumps({'seconds': statistics.median(times), 'peak_rss_mb': peak_rss_mb(), 'stats': stats}))


if __name__ == '__main__':
    main()

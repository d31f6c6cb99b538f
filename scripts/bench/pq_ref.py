#!/usr/bin/env python3
"""Reference timing of the `pq` cases of `detr-bench eval`: panopticapi's pq_compute (JSON
loading, PNG decoding with PIL, matching, PQ/SQ/RQ), the same work as PanopticQuality.evaluate.

    pq_ref.py GT_JSON GT_FOLDER PRED_JSON PRED_FOLDER [--panopticapi DIR] [--runs N]

DIR (or $PANOPTICAPI_DIR) is a panopticapi checkout: the folder holding the `panopticapi`
package, e.g. fetched into /tmp (never into this project, and this script downloads nothing):

    git clone https://github.com/cocodataset/panopticapi /tmp/panopticapi

pq_compute runs a multiprocessing.Pool of cpu_count() processes (created inside each call, so
its start-up is part of the time, as it is for its users). Its console output is discarded.
One warm-up run, then the median of N runs; prints {"seconds", "peak_rss_mb", "pq"} (peak RSS is
that of this process, not of the pool's workers). Exit 2 when panopticapi cannot be imported.
Needs numpy and pillow.
"""
import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import peak_rss_mb  # noqa: E402


@contextlib.contextmanager
def quiet():
    """Discards stdout at the descriptor level too (the pool's workers print)."""
    sys.stdout.flush()
    saved = os.dup(1)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gt_json")
    ap.add_argument("gt_folder")
    ap.add_argument("pred_json")
    ap.add_argument("pred_folder")
    ap.add_argument("--panopticapi", default=os.environ.get("PANOPTICAPI_DIR"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    if not args.panopticapi or not os.path.isfile(os.path.join(args.panopticapi, "panopticapi", "evaluation.py")):
        print("panopticapi not found: set PANOPTICAPI_DIR (or --panopticapi) to a checkout holding "
              "panopticapi/evaluation.py (e.g. git clone https://github.com/cocodataset/panopticapi /tmp/panopticapi)",
              file=sys.stderr)
        sys.exit(2)
    sys.path.insert(0, args.panopticapi)
    try:
        from panopticapi.evaluation import pq_compute
    except ImportError as e:
        print("panopticapi cannot be imported: %s" % e, file=sys.stderr)
        sys.exit(2)

    def work():
        with quiet():
            return pq_compute(args.gt_json, args.pred_json, args.gt_folder, args.pred_folder)

    work()
    times, r = [], None
    for _ in range(max(1, args.runs)):
        t0 = time.perf_counter()
        r = work()
        times.append(time.perf_counter() - t0)
    pq = {k: [float(r[k]["pq"]), float(r[k]["sq"]), float(r[k]["rq"]), int(r[k]["n"])] for k in ("All", "Things", "Stuff")}
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb(), "pq": pq}))


if __name__ == "__main__":
    main()

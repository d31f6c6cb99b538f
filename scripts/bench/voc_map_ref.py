#!/usr/bin/env python3
"""Reference timing of the `voc-map` cases of `detr-bench eval`: Cartucho/mAP's main.py with
--no-animation --no-plot --quiet (reading the ground-truth/ and detection-results/ text files,
matching, AP per class, writing output/output.txt), the same work as our VOCMapInput.load +
VOCMap.evaluate + results.txt without plots.

    voc_map_ref.py GT_FOLDER DR_FOLDER [--cartucho DIR] [--runs N]

DIR (or $CARTUCHO_DIR) is a Cartucho/mAP checkout holding main.py, e.g. fetched into /tmp
(never into this project; this script downloads nothing):

    git clone https://github.com/Cartucho/mAP /tmp/cartucho-mAP

main.py works in its own folder (input/ground-truth, input/detection-results, output/), so a
copy runs in a temporary folder whose input/ links to the two folders. The copy carries the
patch of scripts/fixtures/voc_map_crosscheck.py (precision divides by max(tp + fp, 1), as the
detr-pytorch get_map does), which does not change its speed. Each run executes the script
in this process (runpy; numpy is imported by the warm-up run, Python's start-up is not
timed); its console output is discarded. One warm-up run, then the median of N runs; prints
{"seconds", "peak_rss_mb", "mAP"}. Exit 2 when main.py is not found. Needs numpy.
"""
import argparse
import contextlib
import io
import json
import os
import re
import runpy
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import peak_rss_mb  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gt_folder")
    ap.add_argument("dr_folder")
    ap.add_argument("--cartucho", default=os.environ.get("CARTUCHO_DIR"))
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    main_py = os.path.join(args.cartucho or "", "main.py")
    if not args.cartucho or not os.path.isfile(main_py):
        print("Cartucho/mAP not found: set CARTUCHO_DIR (or --cartucho) to a checkout holding main.py "
              "(e.g. git clone https://github.com/Cartucho/mAP /tmp/cartucho-mAP)", file=sys.stderr)
        sys.exit(2)
    src = open(main_py).read()
    src = re.sub(r"prec\[idx\] = float\(tp\[idx\]\) / \(fp\[idx\] \+ tp\[idx\]\)",
                 "prec[idx] = float(tp[idx]) / max(fp[idx] + tp[idx], 1)", src)
    src = src.replace("    mAP = sum_AP / n_classes\n", "    mAP = sum_AP / n_classes\n    RESULT_MAP.append(mAP)\n")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as work:
        script = os.path.join(work, "main.py")
        with open(script, "w") as f:
            f.write(src)
        os.makedirs(os.path.join(work, "input"))
        os.symlink(os.path.abspath(args.gt_folder), os.path.join(work, "input", "ground-truth"))
        os.symlink(os.path.abspath(args.dr_folder), os.path.join(work, "input", "detection-results"))
        result = []

        def work_once():
            sys.argv = [script, "-na", "-np", "-q"]
            with contextlib.redirect_stdout(io.StringIO()):
                runpy.run_path(script, init_globals={"RESULT_MAP": result}, run_name="__main__")
            os.chdir(cwd)
            if not os.path.isfile(os.path.join(work, "output", "output.txt")):
                raise RuntimeError("main.py wrote no output/output.txt")

        work_once()
        times = []
        for _ in range(max(1, args.runs)):
            t0 = time.perf_counter()
            work_once()
            times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb(), "mAP": result[-1] if result else None}))


if __name__ == "__main__":
    main()

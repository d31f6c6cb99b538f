#!/usr/bin/env python3
"""Reference timings for `detr-bench io`: the same work as the Swift cases, in Python.

    io_ref.py xml DIR [--runs 5]      parse every *.xml in DIR with xml.etree and read each
                                      object's name, difficult and bndbox (as voc_annotation.py)
    io_ref.py decode DIR [--runs 5]   decode every image in DIR to RGB with PIL

Prints {"seconds": median, "peak_rss_mb": peak} as JSON on stdout.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import measure  # noqa: E402
import xml.etree.ElementTree as ET


def parse_xml(folder):
    objects = 0
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".xml"):
            continue
        root = ET.parse(os.path.join(folder, name)).getroot()
        for obj in root.iter("object"):
            difficult = obj.find("difficult")
            _ = int(difficult.text) if difficult is not None else 0
            _ = obj.find("name").text
            b = obj.find("bndbox")
            _ = [int(float(b.find(t).text)) for t in ("xmin", "ymin", "xmax", "ymax")]
            objects += 1
    return objects


def decode(folder):
    from PIL import Image

    pixels = 0
    for name in sorted(os.listdir(folder)):
        with Image.open(os.path.join(folder, name)) as im:
            im.load()
            if im.mode != "RGB":
                im = im.convert("RGB")
            pixels += im.width * im.height
    return pixels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["xml", "decode"])
    ap.add_argument("folder")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    work = parse_xml if args.what == "xml" else decode
    measure(lambda: work(args.folder), args.runs)



if __name__ == "__main__":
    main()

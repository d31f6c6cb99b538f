#!/usr/bin/env python3
"""Reference timing for `detr-bench data`: one pass over VOCdevkit folders with PIL and
torchvision doing what DETR's training data path does (pip install pillow torchvision).

    data_ref.py DEVKIT [DEVKIT ...] [--threads 1|2] [--runs 5]

Per sample: parse the VOC XML (xml.etree), open + convert the JPEG to RGB (PIL), DETR's train
transforms (RandomHorizontalFlip, RandomSelect(RandomResize(480..800, max 1333),
Compose(RandomResize(400/500/600), RandomSizeCrop(384, 600), RandomResize(...)))), ToTensor,
Normalize (ImageNet), boxes to normalised cxcywh, zero-size boxes dropped; batches of 2 made
by DETR's nested_tensor_from_tensor_list in a torch DataLoader (shuffle, seed 42) with
num_workers 0 (--threads 1, torch on one thread) or 2 (--threads 2, worker processes as DETR
runs them). The transforms are written here after DETR's datasets/transforms.py.

Prints {"seconds": median, "peak_rss_mb": VmHWM of the main process} as JSON on stdout.
"""
import argparse
import sys
import json
import os
import random
import statistics
import time
import xml.etree.ElementTree as ET

import torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import peak_rss_mb  # noqa: E402

CLASSES = ["raccoon", "RBC", "WBC", "Platelets"]


# --- DETR-style transforms (on PIL images and target dicts) ---------------------------------
def crop(image, target, region):
    image = F.crop(image, *region)
    i, j, h, w = region
    target = target.copy()
    boxes = target["boxes"] - torch.as_tensor([j, i, j, i])
    boxes = torch.min(boxes.reshape(-1, 2, 2), torch.as_tensor([w, h], dtype=torch.float32)).clamp(min=0)
    target["area"] = (boxes[:, 1, :] - boxes[:, 0, :]).prod(dim=1)
    keep = torch.all(boxes[:, 1, :] > boxes[:, 0, :], dim=1)
    target["boxes"] = boxes.reshape(-1, 4)[keep]
    target["labels"] = target["labels"][keep]
    target["area"] = target["area"][keep]
    return image, target


def hflip(image, target):
    w, _ = image.size
    target = target.copy()
    b = target["boxes"]
    target["boxes"] = b[:, [2, 1, 0, 3]] * torch.as_tensor([-1, 1, -1, 1]) + torch.as_tensor([w, 0, w, 0])
    return F.hflip(image), target


def size_with_aspect_ratio(w, h, size, max_size):
    if max_size is not None:
        mn, mx = float(min(w, h)), float(max(w, h))
        if mx / mn * size > max_size:
            size = int(round(max_size * mn / mx))
    if (w <= h and w == size) or (h <= w and h == size):
        return h, w
    if w < h:
        return int(size * h / w), size
    return size, int(size * w / h)


def resize(image, target, size, max_size=None):
    oh, ow = size_with_aspect_ratio(image.size[0], image.size[1], size, max_size)
    out = F.resize(image, [oh, ow])
    rw, rh = ow / image.size[0], oh / image.size[1]
    target = target.copy()
    target["boxes"] = target["boxes"] * torch.as_tensor([rw, rh, rw, rh])
    target["area"] = target["area"] * (rw * rh)
    return out, target


class RandomResize:
    def __init__(self, sizes, max_size=None):
        self.sizes, self.max_size = sizes, max_size

    def __call__(self, img, target):
        return resize(img, target, random.choice(self.sizes), self.max_size)


class RandomSizeCrop:
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __call__(self, img, target):
        w = random.randint(min(self.lo, img.width), min(img.width, self.hi))
        h = random.randint(min(self.lo, img.height), min(img.height, self.hi))
        return crop(img, target, T.RandomCrop.get_params(img, [h, w]))


class RandomHorizontalFlip:
    def __call__(self, img, target):
        return hflip(img, target) if random.random() < 0.5 else (img, target)


class RandomSelect:
    def __init__(self, a, b):
        self.a, self.b = a, b

    def __call__(self, img, target):
        return self.a(img, target) if random.random() < 0.5 else self.b(img, target)


class Compose:
    def __init__(self, ts):
        self.ts = ts

    def __call__(self, img, target):
        for t in self.ts:
            img, target = t(img, target)
        return img, target


class Normalize:
    def __call__(self, img, target):
        image = F.normalize(F.to_tensor(img), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        h, w = image.shape[-2:]
        b = target["boxes"]
        keep = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
        b = b[keep]
        cxcywh = torch.stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2, b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], -1)
        target = dict(target, boxes=cxcywh / torch.tensor([w, h, w, h], dtype=torch.float32),
                      labels=target["labels"][keep], area=target["area"][keep])
        return image, target


SCALES = [480, 512, 544, 576, 608, 640, 672, 704, 736, 768, 800]
TRAIN = Compose([
    RandomHorizontalFlip(),
    RandomSelect(RandomResize(SCALES, max_size=1333),
                 Compose([RandomResize([400, 500, 600]), RandomSizeCrop(384, 600), RandomResize(SCALES, max_size=1333)])),
    Normalize(),
])


# --- data set and batching ---------------------------------------------------------------------
class VOCDataset(torch.utils.data.Dataset):
    def __init__(self, devkits):
        self.items = []
        for kit in devkits:
            ann = os.path.join(kit, "VOC2007", "Annotations")
            images = {os.path.splitext(n)[0]: n for n in os.listdir(os.path.join(kit, "VOC2007", "JPEGImages"))}
            for name in sorted(os.listdir(ann)):
                if name.endswith(".xml"):
                    i = name[:-4]
                    self.items.append((os.path.join(ann, name), os.path.join(kit, "VOC2007", "JPEGImages", images.get(i, i + ".jpg"))))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, idx):
        xml, path = self.items[idx]
        boxes, labels = [], []
        for obj in ET.parse(xml).getroot().iter("object"):
            name = obj.find("name").text.strip()
            if name not in CLASSES:
                continue
            b = obj.find("bndbox")
            boxes.append([int(float(b.find(t).text)) for t in ("xmin", "ymin", "xmax", "ymax")])
            labels.append(CLASSES.index(name))
        img = Image.open(path).convert("RGB")
        boxes = torch.as_tensor(boxes, dtype=torch.float32).reshape(-1, 4)
        target = {"boxes": boxes, "labels": torch.tensor(labels, dtype=torch.int64),
                  "area": (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]),
                  "orig_size": torch.as_tensor([img.height, img.width])}
        return TRAIN(img, target)


def nested_tensor_from_tensor_list(tensors):
    shape = [len(tensors)] + [max(s) for s in zip(*[t.shape for t in tensors])]
    b, c, h, w = shape
    batch = torch.zeros(shape, dtype=tensors[0].dtype)
    mask = torch.ones((b, h, w), dtype=torch.bool)
    for img, pad, m in zip(tensors, batch, mask):
        pad[: img.shape[0], : img.shape[1], : img.shape[2]].copy_(img)
        m[: img.shape[1], : img.shape[2]] = False
    return batch, mask


def collate(batch):
    images, targets = zip(*batch)
    return nested_tensor_from_tensor_list(list(images)), targets


def worker_init(_):
    torch.set_num_threads(1)


def one_pass(dataset, threads):
    g = torch.Generator()
    g.manual_seed(42)
    random.seed(42)
    loader = torch.utils.data.DataLoader(dataset, batch_size=2, shuffle=True, generator=g, collate_fn=collate,
                                         num_workers=0 if threads == 1 else threads, worker_init_fn=worker_init)
    n = 0
    for (images, mask), targets in loader:
        n += len(targets)
    assert n == len(dataset)



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("devkits", nargs="+")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dataset = VOCDataset(args.devkits)
    one_pass(dataset, args.threads)  # warm-up
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        one_pass(dataset, args.threads)
        times.append(time.perf_counter() - t0)
    print(json.dumps({"seconds": statistics.median(times), "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main()

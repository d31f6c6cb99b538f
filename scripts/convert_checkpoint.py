#!/usr/bin/env python3
"""Convert an official facebookresearch/detr checkpoint (.pth) to safetensors for the Swift toolkit.

    pip install torch safetensors
    python3 scripts/convert_checkpoint.py detr-r50-e632da11.pth detr-r50.safetensors

The official checkpoints hold {"model": state_dict, ...}; the state-dict keys are already the
toolkit's keys (`backbone.0.body.*`, `transformer.*`, `class_embed.*`, ...; panoptic models
add the `detr.` prefix and `bbox_attention.*`, `mask_head.*`), so the tensors are written
unchanged as float32. `num_batches_tracked` buffers (absent from the official files, present in
torchvision BatchNorm states) are dropped. With --check KEYS.json (for example
../shared/data/checkpoint_keys/detr_r50.json) every key and shape is compared first.
"""
import argparse
import json
import sys

import torch
from safetensors.torch import save_file


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="official .pth file")
    ap.add_argument("output", help="output .safetensors file")
    ap.add_argument("--check", help="JSON {key: shape} the state dict must match exactly")
    args = ap.parse_args()

    try:
        ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - report any load failure in one line
        sys.exit(f"{args.checkpoint}: cannot load: {e}")
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        sys.exit(f"{args.checkpoint}: no state dict found (expected a dict with a 'model' entry)")
    tensors = {k: v.detach().float().contiguous() for k, v in state.items()
               if torch.is_tensor(v) and not k.endswith("num_batches_tracked")}

    if args.check:
        with open(args.check) as f:
            expected = json.load(f)
        missing = sorted(set(expected) - set(tensors))
        unexpected = sorted(set(tensors) - set(expected))
        misshaped = sorted(k for k in expected if k in tensors and list(tensors[k].shape) != expected[k])
        if missing or unexpected or misshaped:
            sys.exit(f"{args.checkpoint}: keys differ from {args.check}: missing {missing[:10]}, "
                     f"unexpected {unexpected[:10]}, mis-shaped {misshaped[:10]}")

    save_file(tensors, args.output, metadata={"source": args.checkpoint, "format": "detr-official"})
    print(f"wrote {len(tensors)} tensors to {args.output}")


if __name__ == "__main__":
    main()

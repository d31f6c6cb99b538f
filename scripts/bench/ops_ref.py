#!/usr/bin/env python3
"""PyTorch timings for `detr-bench ops`, on the same shapes as the Swift cases.

    ops_ref.py CASE [--runs 5]    prints {"seconds": median, "peak_rss_mb": peak}

Cases: sgemm-1024, sgemm-4096, conv-<layer>-fwd|bwd, encoder-layer, softmax-10m, layernorm-10m,
msda-fwd|bwd (the official pure-PyTorch multi-scale deformable attention, as in
scripts/fixtures/ms_deform_attn_reference.py, at Mask2Former's pixel-decoder size for 512x512).
Threads: torch's default (all cores).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchcommon import run_case_cli  # noqa: E402

try:
    import torch
except ImportError:
    sys.exit("torch is not installed (pip install torch)")

CONV = {
    "conv1": (3, 64, 7, 2, 3, 800, 1066),
    "layer1-3x3": (64, 64, 3, 1, 1, 200, 267),
    "layer3-1x1": (1024, 256, 1, 1, 0, 50, 67),
    "layer3-3x3": (256, 256, 3, 1, 1, 50, 67),
    "layer4-3x3s2": (512, 512, 3, 2, 1, 50, 67),
}


def prepare(case):
    torch.manual_seed(0)
    if case.startswith("sgemm-"):
        n = int(case.split("-")[1])
        a, b = torch.rand(n, n), torch.rand(n, n)
        return lambda: torch.mm(a, b)
    if case.startswith("conv-"):
        name, kind = case[5:].rsplit("-", 1)
        cin, cout, k, s, p, h, w = CONV[name]
        x = torch.rand(1, cin, h, w) * 2 - 1
        wt = (torch.rand(cout, cin, k, k) * 0.2 - 0.1).requires_grad_(kind == "bwd")
        if kind == "fwd":
            def fwd():
                with torch.no_grad():
                    torch.nn.functional.conv2d(x, wt, stride=s, padding=p)
            return fwd
        x.requires_grad_(name != "conv1")
        g = torch.rand(torch.nn.functional.conv2d(x, wt, stride=s, padding=p).shape)

        def bwd():
            wt.grad = None
            x.grad = None
            torch.nn.functional.conv2d(x, wt, stride=s, padding=p).backward(g)
        return bwd
    if case == "encoder-layer":
        attn = torch.nn.MultiheadAttention(256, 8, dropout=0.0)
        l1, l2 = torch.nn.Linear(256, 2048), torch.nn.Linear(2048, 256)
        n1, n2 = torch.nn.LayerNorm(256), torch.nn.LayerNorm(256)
        params = list(attn.parameters()) + list(l1.parameters()) + list(l2.parameters()) + list(n1.parameters()) + list(n2.parameters())
        src = (torch.rand(850, 2, 256) * 2 - 1).requires_grad_()
        pos = torch.rand(850, 2, 256) * 2 - 1
        g = torch.rand(850, 2, 256)

        def layer():
            src.grad = None
            for p_ in params:
                p_.grad = None
            q = src + pos
            x = n1(src + attn(q, q, src)[0])
            out = n2(x + l2(torch.relu(l1(x))))
            out.backward(g)
        return layer
    if case == "softmax-10m":
        x = torch.rand(10_000, 1_000) * 10 - 5

        def sm():
            with torch.no_grad():
                torch.softmax(x, dim=-1)
        return sm
    if case == "layernorm-10m":
        x = torch.rand(39_063, 256) * 10 - 5
        ln = torch.nn.LayerNorm(256)

        def lnf():
            with torch.no_grad():
                ln(x)
        return lnf
    if case in ("msda-fwd", "msda-bwd"):
        return deformable_attention(case == "msda-bwd")
    sys.exit(f"unknown case {case}")


def deformable_attention(backward):
    """Levels 64x64, 32x32, 16x16, a query per position, 8 heads of 32 channels, 4 points, batch 1."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
    from ms_deform_attn_reference import ms_deform_attn_core_pytorch

    shapes, s, h, d, p = [(64, 64), (32, 32), (16, 16)], 5376, 8, 32, 4
    value = (torch.rand(1, s, h, d) * 2 - 1).requires_grad_(backward)
    loc = torch.rand(1, s, h, 3, p, 2).requires_grad_(backward)
    attn = torch.rand(1, s, h, 3, p).requires_grad_(backward)
    g = torch.rand(1, s, h * d)
    if not backward:
        def fwd():
            with torch.no_grad():
                ms_deform_attn_core_pytorch(value, shapes, loc, attn)
        return fwd

    def bwd():
        for t in (value, loc, attn):
            t.grad = None
        ms_deform_attn_core_pytorch(value, shapes, loc, attn).backward(g)
    return bwd



def main():
    run_case_cli(prepare)


if __name__ == "__main__":
    main()

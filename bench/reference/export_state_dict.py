#!/usr/bin/python3
"""A models.py network's full PyTorch state dict as safetensors, and a probe of its predictions.

    python bench/reference/export_state_dict.py --arch resnet --image-size 32 --width 8 --out DIR

DIR/state.safetensors is model.state_dict() as safetensors.torch.save_file writes it: the
torchvision layout, batch norm running statistics after --steps training-mode batches, and
each batch norm's num_batches_tracked as an I64 scalar (= --steps). DIR/probe.safetensors
holds a seeded input batch "x" [n,3,S,S] and the eval-mode "gender_probs" and "age_probs"
for it, so a reader can check that it loaded the weights into the same network
(model/src/test/.../TorchStateDictTest).
"""
import argparse
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", default="resnet", choices=["attn", "resnet", "ensemble"])
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--width", type=int, default=8, help="ResNet width (attnface --resnet-width)")
    ap.add_argument("--attn-width", type=int, default=10)
    ap.add_argument("--buckets", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3, help="training-mode batches run before saving")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--seed", type=int, default=32)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    model = models.create(a.arch, a.image_size, a.buckets, 18, a.width, a.attn_width)
    model.train()
    with torch.no_grad():
        for _ in range(a.steps):   # moves the running statistics and counts num_batches_tracked
            model(torch.randn(a.batch, 3, a.image_size, a.image_size))
    model.eval()
    x = torch.randn(a.batch, 3, a.image_size, a.image_size)
    with torch.no_grad():
        g, age = models.predict(model, model(x))
    os.makedirs(a.out, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, os.path.join(a.out, "state.safetensors"), metadata={"format": "pt"})
    save_file({"x": x, "gender_probs": g.contiguous(), "age_probs": age.contiguous()}, os.path.join(a.out, "probe.safetensors"))
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    print(f"{len(state)} tensors ({len(counters)} num_batches_tracked = {a.steps}) in {a.out}/state.safetensors")


if __name__ == "__main__":
    main()

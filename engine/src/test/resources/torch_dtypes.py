"""SafetensorsTorchTest's other half: PyTorch's safetensors writes one tensor of every dtype
(edge values, NaNs with payloads) and, given attnface's copy back, checks it bit for bit.

    python torch_dtypes.py write FILE     # FILE, and FILE.f8 with a float8_e4m3fn tensor
    python torch_dtypes.py check FILE     # exit 0 when FILE holds exactly what write made
"""
import sys

import torch
from safetensors.torch import load_file, save_file


def tensors():
    g = torch.Generator().manual_seed(32)
    bits = lambda n, dtype: torch.tensor(n, dtype=dtype)
    return {
        "bool": torch.tensor([True, False, True]),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "i8": torch.tensor([-128, 127, -1], dtype=torch.int8),
        "i16": torch.tensor([-32768, 32767, -2], dtype=torch.int16),
        "i32": torch.tensor([-2**31, 2**31 - 1, -3], dtype=torch.int32),
        "i64": torch.tensor([-2**63, 2**53 + 1, 12345], dtype=torch.int64),
        "f16": torch.tensor([1.0, -2.0, 65504.0, 2.0**-24], dtype=torch.float16),
        "bf16": torch.tensor([1.0, -3.0, 2.0**127], dtype=torch.bfloat16),
        "f32": torch.randn(2, 3, generator=g),
        "f64": torch.tensor([0.1, -1e300], dtype=torch.float64),
        "nan_f32": bits([0x7F800001, 0xFFC00123 - 2**32, 0x7FBFFFFF], torch.int32).view(torch.float32),
        "nan_f16": bits([0x7C01, 0xFE7F - 2**16], torch.int16).view(torch.float16),
        "nan_bf16": bits([0x7F81, 0xFFC1 - 2**16], torch.int16).view(torch.bfloat16),
        "nan_f64": bits([0x7FF0000000000001, 0xFFF8000000000ABC - 2**64], torch.int64).view(torch.float64),
        "layer1.0.bn1.num_batches_tracked": torch.tensor(17),
    }


def as_bits(t):
    return {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[t.element_size()] if t.dtype != torch.bool else None


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        save_file(tensors(), path, metadata={"format": "pt", "made_by": "torch " + torch.__version__})
        save_file({"w": torch.zeros(4).to(torch.float8_e4m3fn)}, path + ".f8")
        return 0
    got, want = load_file(path), tensors()
    bad = []
    if set(got) != set(want):
        bad.append(f"names {sorted(got)} != {sorted(want)}")
    for k, w in want.items():
        g = got.get(k)
        if g is None:
            continue
        if g.dtype != w.dtype or g.shape != w.shape:
            bad.append(f"{k}: {g.dtype}{list(g.shape)} != {w.dtype}{list(w.shape)}")
        elif w.dtype == torch.bool:
            if not torch.equal(g, w):
                bad.append(f"{k}: values differ")
        elif not torch.equal(g.view(as_bits(w)), w.view(as_bits(w))):
            bad.append(f"{k}: bits differ: {g.view(as_bits(w)).tolist()} != {w.view(as_bits(w)).tolist()}")
    print("\n".join(bad) if bad else "identical")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

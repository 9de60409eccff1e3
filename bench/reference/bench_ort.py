#!/usr/bin/env python3
"""ONNX Runtime side of the inference comparison: the same synthetic benchmark as `attnface bench --mode infer`.

The model is bench/reference/models.py's (the networks of bench_torch.py), exported in eval mode by
torch.onnx.export (opset 20: the spatial transformer as AffineGrid + GridSample) with the predicted
probabilities as outputs (softmax; the ensemble averages its two networks), or any file given with
--onnx (e.g. one written by `attnface export --onnx`). ORT's CPU provider, all graph optimisations
(batch norm folded into the convolutions, conv + ReLU fused, NCHWc layouts), --threads intra-op
threads. Input: one batch of standard-normal images, made once and reused every step.

Run it in a process of its own, after the others: ORT's thread pool spins after each run and slows
whatever runs next in the same process.

    bench/reference/bench_ort.py --model attn,resnet --batch 64 --threads 2
    bench/reference/bench_ort.py --model attn --image-size 64 --latency 1000    # batch 1: p50, p99
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import cpu_model, int_list, latency_summary  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="attn,resnet,ensemble", help="comma-separated: attn, resnet, ensemble")
    p.add_argument("--batch", type=int_list, default=[64])
    p.add_argument("--image-size", type=int_list, default=[64])
    p.add_argument("--resnet-width", type=int, default=64)
    p.add_argument("--attn-width", type=int, default=10)
    p.add_argument("--onnx", help="time this ONNX file instead of exporting models.py's network (one model, one size)")
    p.add_argument("--mode", default="infer", help="infer (ORT is inference only; train rows are skipped)")
    p.add_argument("--device", default="cpu", choices=["cpu"])
    p.add_argument("--precision", default="fp32", choices=["fp32"])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT's default, all cores)")
    p.add_argument("--latency", type=int, default=0,
                   help="instead of throughput: time this many single-image runs (batch 1) one by one; p50, p99, mean in ms")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args(argv)


def export(arch, size, args, path):
    """models.py's network in eval mode, outputs the predicted probabilities, a free batch dimension."""
    import torch
    import models

    torch.manual_seed(args.seed)
    net = models.create(arch, size, width=args.resnet_width, attn_width=args.attn_width).eval()

    class Probabilities(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return models.predict(self.m, self.m(x))

    x = torch.randn(1, 3, size, size)
    warnings.filterwarnings("ignore", category=DeprecationWarning)   # the TorchScript exporter: still the one that writes AffineGrid
    with torch.no_grad():
        torch.onnx.export(Probabilities(net).eval(), (x,), path, opset_version=20, dynamo=False,
                          input_names=["images"], output_names=["gender_probs", "age_probs"],
                          dynamic_axes={"images": {0: "n"}, "gender_probs": {0: "n"}, "age_probs": {0: "n"}})


def session(path, threads):
    o = ort.SessionOptions()
    o.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if threads > 0:
        o.intra_op_num_threads = threads
    o.inter_op_num_threads = 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def throughput(sess, batch, size, args):
    x = np.random.default_rng(args.seed).standard_normal((batch, 3, size, size), dtype=np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(args.warmup):
        sess.run(None, {name: x})
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(args.steps_per_rep):
            sess.run(None, {name: x})
        rates.append(batch * args.steps_per_rep / (time.perf_counter() - t0))
    return rates


def latency(sess, size, args):
    """Milliseconds of each of args.latency single-image runs, after max(20, latency / 10) untimed ones."""
    x = np.random.default_rng(args.seed).standard_normal((1, 3, size, size), dtype=np.float32)
    name = sess.get_inputs()[0].name
    for _ in range(max(20, args.latency // 10)):
        sess.run(None, {name: x})
    ms = []
    for _ in range(args.latency):
        t0 = time.perf_counter()
        sess.run(None, {name: x})
        ms.append(1000 * (time.perf_counter() - t0))
    return ms


def main(argv=None):
    args = parse_args(argv)
    archs = [a.strip() for a in args.model.split(",") if a.strip()]
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    if args.onnx and (len(archs) != 1 or len(args.image_size) != 1):
        raise SystemExit("bench_ort.py: --onnx times one file: give one --model and one --image-size (they label the rows)")
    print(f"onnxruntime {ort.__version__} on cpu ({cpu_model()}), {args.threads or 'default'} intra-op threads, fp32")
    results, lat = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for arch in archs:
            for size in args.image_size:
                path = args.onnx
                if not path:
                    path = os.path.join(tmp, f"{arch}-{size}.onnx")
                    export(arch, size, args, path)
                sess = session(path, args.threads)
                if args.latency > 0:
                    r = {"model": arch, "imageSize": size, "batch": 1, "latencyMs": latency_summary(latency(sess, size, args))}
                    lat.append(r)
                    m = r["latencyMs"]
                    print(f"{arch:9s} latency batch 1 {size:4d}x{size}: p50 {m['p50']:.3f} ms, p99 {m['p99']:.3f} ms, "
                          f"mean {m['mean']:.3f} ms over {m['runs']} runs", flush=True)
                    continue
                for batch in args.batch:
                    if "infer" not in modes:
                        continue
                    rates = throughput(sess, batch, size, args)
                    results.append({
                        "model": arch, "mode": "infer", "batch": batch, "imageSize": size, "precision": "fp32",
                        "warmup": args.warmup, "reps": args.reps, "stepsPerRep": args.steps_per_rep,
                        "imagesPerSecond": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
                        "repImagesPerSecond": rates,
                    })
                    ips = results[-1]["imagesPerSecond"]
                    print(f"{arch:9s} infer  {batch:5d} {size:5d} {ips['median']:13.1f} {ips['min']:9.1f} {ips['max']:9.1f}", flush=True)
    report = {
        "engine": "onnxruntime", "version": ort.__version__, "device": "cpu", "deviceName": cpu_model(),
        "threads": args.threads, "precision": "fp32",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "source": args.onnx or "bench/reference/models.py, torch.onnx.export opset 20",
        "input": "one batch of standard-normal images, reused every step",
        "results": results,
    }
    if lat:
        report["latency"] = lat
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()

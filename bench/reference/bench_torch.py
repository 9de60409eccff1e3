#!/usr/bin/python3
"""PyTorch side of the throughput comparison: the same synthetic benchmark as `attnface bench`.

Training step = forward + loss (gender CE + age CE, distance weight 0: LossWeights.BENCHMARK)
+ backward + SGD(lr 0.01, momentum 0.9). Inference = model.eval(), torch.no_grad(), the
predicted probabilities (softmax; the ensemble averages its two networks). Input: one batch
of standard-normal images and random labels, made once and reused every step (the same on
the attnface side), so the numbers are the model's, not the data pipeline's.

Each repetition times --steps-per-rep steps after --warmup untimed steps; the reported
images/s are the median, min and max over --reps repetitions.

    /usr/bin/python3 bench/reference/bench_torch.py --model attn,resnet --batch 64 --threads 2
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

BENCHMARK_WEIGHTS = (1.0, 1.0, 0.0)


def int_list(s):
    return [int(v) for v in s.split(",") if v.strip()]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="attn,resnet,ensemble", help="comma-separated: attn, resnet, ensemble")
    p.add_argument("--batch", type=int_list, default=[64])
    p.add_argument("--image-size", type=int_list, default=[64])
    p.add_argument("--resnet-width", type=int, default=64, help="channels of the ResNet's first stage (attnface's --resnet-width)")
    p.add_argument("--attn-width", type=int, default=10, help="channels of the attn trunk (attnface's --attn-width)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "tf32"],
                   help="tf32: TF32 tensor-core matmuls and convolutions (CUDA only)")
    p.add_argument("--mode", default="train,infer", help="train, infer or both")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: all cores)")
    p.add_argument("--latency", type=int, default=0,
                   help="instead of throughput: time this many single-image predictions (batch 1) one by one; p50, p99, mean in ms")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", help="write the results to this file")
    return p.parse_args(argv)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def run_one(arch, mode, batch, size, args):
    torch.manual_seed(args.seed)
    device = args.device
    model = models.create(arch, size, width=args.resnet_width, attn_width=args.attn_width).to(device)
    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(batch, 3, size, size, generator=g).to(device)
    gender = torch.randint(0, 2, (batch,), generator=g).to(device)
    age = torch.randint(0, 8, (batch,), generator=g).to(device)
    if mode == "train":
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = models.loss(model, model(x), gender, age, BENCHMARK_WEIGHTS)
            loss.backward()
            opt.step()
    else:
        model.eval()

        def step():
            with torch.no_grad():
                models.predict(model, model(x))

    for _ in range(args.warmup):
        step()
    sync(device)
    rates = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        for _ in range(args.steps_per_rep):
            step()
        sync(device)
        rates.append(batch * args.steps_per_rep / (time.perf_counter() - t0))
    return {
        "model": arch, "mode": mode, "batch": batch, "imageSize": size, "precision": args.precision,
        "warmup": args.warmup, "reps": args.reps, "stepsPerRep": args.steps_per_rep,
        "imagesPerSecond": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)},
        "repImagesPerSecond": rates,
    }


def latency_summary(ms):
    """p50 and p99 by nearest rank (the value at or below which that share of the runs fall), mean and min, in ms."""
    s = sorted(ms)

    def rank(q):
        return s[max(0, min(len(s) - 1, -(-q * len(s) // 100) - 1))]

    return {"runs": len(s), "p50": rank(50), "p99": rank(99), "mean": statistics.fmean(s), "min": s[0]}


def run_latency(arch, size, args):
    """Milliseconds of each of args.latency batch-1 predictions (eval, no_grad), after max(20, latency / 10) untimed ones."""
    torch.manual_seed(args.seed)
    model = models.create(arch, size, width=args.resnet_width, attn_width=args.attn_width).to(args.device).eval()
    x = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(args.seed)).to(args.device)
    ms = []
    for i in range(max(20, args.latency // 10) + args.latency):
        t0 = time.perf_counter()
        with torch.no_grad():
            models.predict(model, model(x))
        sync(args.device)
        ms.append(1000 * (time.perf_counter() - t0))
    return {"model": arch, "imageSize": size, "batch": 1, "latencyMs": latency_summary(ms[-args.latency:])}


def main(argv=None):
    args = parse_args(argv)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("bench_torch.py: --device cuda but torch.cuda.is_available() is False")
        tf32 = args.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
    elif args.precision != "fp32":
        raise SystemExit(f"bench_torch.py: precision {args.precision} needs --device cuda")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    archs = [a.strip() for a in args.model.split(",") if a.strip()]
    modes = [m.strip() for m in args.mode.split(",") if m.strip()]
    for m in modes:
        if m not in ("train", "infer"):
            raise SystemExit(f"bench_torch.py: unknown mode '{m}' (train, infer)")
    device_name = torch.cuda.get_device_name(0) if args.device == "cuda" else cpu_model()
    results, lat = [], []
    print(f"pytorch {torch.__version__} on {args.device} ({device_name}), {torch.get_num_threads()} threads, {args.precision}")
    for arch in archs if args.latency > 0 else []:
        for size in args.image_size:
            lat.append(run_latency(arch, size, args))
            m = lat[-1]["latencyMs"]
            print(f"{arch:9s} latency batch 1 {size:4d}x{size}: p50 {m['p50']:.3f} ms, p99 {m['p99']:.3f} ms, "
                  f"mean {m['mean']:.3f} ms over {m['runs']} runs", flush=True)
    if args.latency > 0:
        archs = []
    if archs:
        print(f"{'model':9s} {'mode':6s} {'batch':>5s} {'size':>5s} {'img/s median':>13s} {'min':>9s} {'max':>9s}")
    for arch in archs:
        for size in args.image_size:
            for batch in args.batch:
                for mode in modes:
                    r = run_one(arch, mode, batch, size, args)
                    results.append(r)
                    ips = r["imagesPerSecond"]
                    print(f"{arch:9s} {mode:6s} {batch:5d} {size:5d} {ips['median']:13.1f} {ips['min']:9.1f} {ips['max']:9.1f}", flush=True)
    report = {
        "engine": "pytorch", "version": torch.__version__, "device": args.device, "deviceName": device_name,
        "threads": torch.get_num_threads(), "precision": args.precision,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "input": "one batch of standard-normal images and random labels, reused every step",
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

#!/usr/bin/python3
"""PyTorch DDP side of the data-parallel comparison: the training step of bench_torch.py on N ranks.

    torchrun --nproc_per_node 2 bench/reference/ddp_torch.py --model attn --batch 64 --threads 1
    python3 bench/reference/ddp_torch.py --model attn --batch 64 --threads 2      # one process, no DDP

--batch is the global batch, split over the ranks as `attnface bench` under mpirun splits it;
DistributedDataParallel on the gloo backend (CPU), its default 25 MiB buckets, gradients
averaged while backward runs. Each repetition times --steps-per-rep steps after --warmup; the
job's images/s of a repetition is the global batch x steps over the slowest rank's time (a
MAX all-reduce of the times). Rank 0 prints median, min and max and writes --json.
"""
import argparse
import datetime
import json
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from bench_torch import BENCHMARK_WEIGHTS, cpu_model  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", default="attn", choices=["attn", "resnet", "ensemble"])
    p.add_argument("--batch", type=int, default=64, help="the global batch")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--resnet-width", type=int, default=64)
    p.add_argument("--attn-width", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--steps-per-rep", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:
        dist.init_process_group("gloo")
    lo, hi = rank * args.batch // world, (rank + 1) * args.batch // world
    torch.manual_seed(args.seed)
    model = models.create(args.model, args.image_size, width=args.resnet_width, attn_width=args.attn_width)
    net = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    g = torch.Generator().manual_seed(args.seed + rank)
    x = torch.randn(hi - lo, 3, args.image_size, args.image_size, generator=g)
    gender = torch.randint(0, 2, (hi - lo,), generator=g)
    age = torch.randint(0, 8, (hi - lo,), generator=g)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = models.loss(model, net(x), gender, age, BENCHMARK_WEIGHTS)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    rates = []
    for _ in range(args.reps):
        if world > 1:
            dist.barrier()
        t0 = time.perf_counter()
        for _ in range(args.steps_per_rep):
            step()
        t = torch.tensor([time.perf_counter() - t0], dtype=torch.float64)
        if world > 1:
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
        rates.append(args.batch * args.steps_per_rep / t.item())
    if rank == 0:
        r = {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}
        print(f"pytorch {torch.__version__} {'DDP gloo, ' if world > 1 else ''}{world} rank(s) x {args.threads} thread(s) on {cpu_model()}: "
              f"{args.model} train, global batch {args.batch}, {args.image_size}x{args.image_size}: "
              f"{r['median']:.1f} img/s median ({r['min']:.1f}..{r['max']:.1f})", flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"engine": "pytorch", "version": torch.__version__, "ranks": world, "threads": args.threads,
                           "backend": "gloo" if world > 1 else None, "deviceName": cpu_model(),
                           "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                           "model": args.model, "batch": args.batch, "imageSize": args.image_size,
                           "resnetWidth": args.resnet_width, "attnWidth": args.attn_width,
                           "imagesPerSecond": r, "repImagesPerSecond": rates}, f, indent=1)
    if world > 1:
        dist.barrier()
        # gloo's threads can abort the process while the group is torn down ("terminate called without an
        # active exception", SIGABRT, seen with torch 2.13): the results are written, so leave at once.
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()

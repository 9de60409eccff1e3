#!/usr/bin/python3
"""PyTorch reference of attnface's UTKFace training recipe, on the same split.

Reads the split that `attnface train` saved in its run folder (split.json) and its resolved
config (config.json) when present, so both engines train on the same images with the same
model, optimiser, schedule and epochs; then reports the same held-out metrics: gender
accuracy, age-bucket accuracy, AABD (mean |predicted bucket - true bucket|) and the age MAE
of the bucket distribution.

    /usr/bin/python3 bench/reference/train_torch.py --run runs/ensemble-1 --data ../shared/data/utkface

Without --run it makes its own seeded split (70/15/15, stratified by gender and bucket,
deduplicated by content hash) and uses the defaults below. Decoding: PIL, 200x200 faces
resized once by area averaging (PIL BOX, as the trainer's Resize) to --stored-size and cached as uint8 in --cache.
Augmentation as attnface's AugmentSpec and CPU Augment: random crop to --image-size,
horizontal flip with probability 1/2, brightness and contrast jitter up to 10%, ImageNet
mean/std normalisation; evaluation uses the centred crop.
"""
import argparse
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
DECADES = [0, 10, 20, 30, 40, 50, 60, 70]


def parse_args(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="attnface run folder: its split.json and config.json are used")
    p.add_argument("--data", default=os.path.normpath(os.path.join(here, "../../../shared/data/utkface")))
    p.add_argument("--model", default=None, help="attn, resnet or ensemble (default: the run's, else ensemble)")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--attn-lr", type=float, default=None, help="ensemble: the attn member's peak rate (default: --lr)")
    p.add_argument("--momentum", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--optimizer", default=None, help="sgd or adamw")
    p.add_argument("--schedule", default=None, help="cosine (with linear warm-up, as the trainer) or constant")
    p.add_argument("--warmup-steps", type=int, default=None, help="-1: min(steps per epoch, total steps / 20), as the trainer")
    p.add_argument("--distance-weight", type=float, default=None, help="lambda of the expected bucket distance")
    p.add_argument("--image-size", type=int, default=None)
    p.add_argument("--resnet-depth", type=int, default=None, help="10, 18 or 34 (default: the run's, else 18)")
    p.add_argument("--resnet-width", type=int, default=None, help="first-stage channels (default: the run's, else 64)")
    p.add_argument("--attn-width", type=int, default=None, help="attn trunk channels (default: the run's, else 10)")
    p.add_argument("--stored-size", type=int, default=None, help="decoded size before the crop (default image size * 9/8)")
    p.add_argument("--age-buckets", default=None, help="lower bounds, e.g. 0,10,20,30,40,50,60,70")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images (smoke tests)")
    p.add_argument("--cache", default="/tmp/attnface-torch-cache", help="folder of the decoded uint8 cache")
    p.add_argument("--out", default=None, help="write the metrics JSON here (default: RUN/torch-metrics.json when --run)")
    return p.parse_args(argv)


# ---- configuration: the run's config.json, then the command line, then defaults -------------

DEFAULTS = {
    "model": "ensemble", "epochs": 15, "batch": 64, "lr": 0.01, "attnLr": 0.0, "momentum": 0.9, "weightDecay": 5e-4,
    "optimizer": "sgd", "schedule": "cosine", "warmupSteps": -1, "genderWeight": 1.0, "ageWeight": 1.0,
    "distanceWeight": 0.5, "auxWeight": 0.0, "zeroInitResidual": False, "imageSize": 64, "resnetDepth": 18, "resnetWidth": 64, "attnWidth": 10, "storedSize": None, "ageBuckets": "0,10,20,30,40,50,60,70", "seed": 1,
}

# the keys of the Java trainer's config.json (TrainConfig.toMap) for each setting
ALIASES = {
    "model": ["arch"], "epochs": ["epochs"], "batch": ["batch"], "lr": ["lr"], "attnLr": ["attn_lr"], "momentum": ["momentum"],
    "weightDecay": ["weight_decay"], "optimizer": ["optimizer"], "warmupSteps": ["warmup_steps"],
    "genderWeight": ["loss_gender"], "ageWeight": ["loss_age"], "distanceWeight": ["loss_distance"], "auxWeight": ["loss_aux"], "zeroInitResidual": ["zero_init_residual"],
    "imageSize": ["image_size"], "resnetDepth": ["resnet_depth"], "resnetWidth": ["resnet_width"], "attnWidth": ["attn_width"], "storedSize": ["cache_size"], "ageBuckets": ["buckets"], "seed": ["seed"],
}


def flatten(d):
    """Leaf values of nested objects by their own key (the trainer's config may group settings)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v))
        else:
            out[k] = v
    return out


def resolve_config(args):
    cfg = dict(DEFAULTS)
    source = {k: "default" for k in cfg}
    if args.run:
        path = os.path.join(args.run, "config.json")
        if os.path.exists(path):
            with open(path) as f:
                run_cfg = flatten(json.load(f))
            for key, names in ALIASES.items():
                for n in names:
                    if n in run_cfg:
                        cfg[key] = run_cfg[n]
                        source[key] = "config.json"
                        break
    cli = {"model": args.model, "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "attnLr": args.attn_lr, "momentum": args.momentum,
           "weightDecay": args.weight_decay, "optimizer": args.optimizer, "schedule": args.schedule,
           "warmupSteps": args.warmup_steps,
           "distanceWeight": args.distance_weight, "imageSize": args.image_size,
           "resnetDepth": args.resnet_depth, "resnetWidth": args.resnet_width, "attnWidth": args.attn_width, "storedSize": args.stored_size,
           "ageBuckets": args.age_buckets, "seed": args.seed}
    for k, v in cli.items():
        if v is not None:
            cfg[k] = v
            source[k] = "command line"
    if isinstance(cfg["ageBuckets"], list):
        cfg["ageBuckets"] = ",".join(str(b) for b in cfg["ageBuckets"])
    cfg["imageSize"] = int(cfg["imageSize"])
    if not cfg["storedSize"]:
        cfg["storedSize"] = cfg["imageSize"] * 9 // 8
    return cfg, source


# ---- data ------------------------------------------------------------------------------------

def parse_name(name):
    """(age, gender) from AGE_GENDER_RACE_DATETIME.jpg.chip.jpg; race may be missing. None if unreadable."""
    parts = name.split("_")
    try:
        age, gender = int(parts[0]), int(parts[1])
    except (ValueError, IndexError):
        return None
    if gender not in (0, 1) or not 0 <= age <= 150:
        return None
    race = -1
    if len(parts) > 3:
        try:
            race = int(parts[2])
        except ValueError:
            pass
    return age, gender, race


def bucket_of(age, bounds):
    b = 0
    for i, lo in enumerate(bounds):
        if age >= lo:
            b = i
    return b


def split_entries(split, key_names):
    for k in key_names:
        if k in split:
            out = []
            for e in split[k]:
                if isinstance(e, str):
                    out.append(e)
                elif isinstance(e, dict):
                    out.append(e.get("file") or e.get("name") or e.get("path"))
            return [os.path.basename(e) for e in out]
    raise SystemExit(f"train_torch.py: split.json has none of the keys {key_names}; keys are {list(split)}")


def own_split(data, seed):
    """70/15/15, deduplicated by content (first name of each identical group kept), stratified by gender x bucket."""
    seen, groups = set(), {}
    for name in sorted(os.listdir(data)):
        lab = parse_name(name)
        if lab is None:
            continue
        with open(os.path.join(data, name), "rb") as f:
            h = hashlib.sha256(f.read()).hexdigest()
        if h in seen:
            continue
        seen.add(h)
        groups.setdefault((lab[1], bucket_of(lab[0], DECADES)), []).append(name)
    rng = random.Random(seed)
    split = {"train": [], "validation": [], "test": []}
    for key in sorted(groups):
        names = groups[key]
        rng.shuffle(names)
        n = len(names)
        nv, nt = round(0.15 * n), round(0.15 * n)
        split["validation"] += names[:nv]
        split["test"] += names[nv:nv + nt]
        split["train"] += names[nv + nt:]
    return split


def load_images(data, names, size, cache_dir):
    """uint8 [n, size, size, 3]: PIL decode, RGB, resize 200 -> size; cached by the list of names."""
    from PIL import Image
    key = hashlib.sha256(("\n".join(names) + f"\n{size}").encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"utkface-{size}-{key}.npy")
    if os.path.exists(path):
        return np.load(path)
    out = np.empty((len(names), size, size, 3), dtype=np.uint8)
    t0 = time.time()
    for i, name in enumerate(names):
        with Image.open(os.path.join(data, name)) as im:
            out[i] = np.asarray(im.convert("RGB").resize((size, size), Image.BOX))
    print(f"decoded {len(names)} images to {size}x{size} in {time.time() - t0:.0f} s", flush=True)
    os.makedirs(cache_dir, exist_ok=True)
    np.save(path, out)
    return out


def make_batch(images_u8, idx, out_size, train, rng):
    """As the engine's Augment: crop (random when training, centred otherwise), flip with p 1/2,
    v = clamp(((v - 0.5) * contrast + 0.5) * brightness, 0, 1) with both in 1 +- 0.1, then normalise."""
    x = torch.from_numpy(images_u8[idx]).permute(0, 3, 1, 2).float().div_(255)
    n, _, h, w = x.shape
    if train:
        tops = [rng.randint(0, h - out_size) for _ in range(n)]
        lefts = [rng.randint(0, w - out_size) for _ in range(n)]
        x = torch.stack([x[i, :, t:t + out_size, l:l + out_size] for i, (t, l) in enumerate(zip(tops, lefts))])
        flip = torch.tensor([rng.random() < 0.5 for _ in range(n)])
        x[flip] = x[flip].flip(3)
        brightness = torch.tensor([1 + rng.uniform(-0.1, 0.1) for _ in range(n)]).view(n, 1, 1, 1)
        contrast = torch.tensor([1 + rng.uniform(-0.1, 0.1) for _ in range(n)]).view(n, 1, 1, 1)
        x = (((x - 0.5) * contrast + 0.5) * brightness).clamp_(0, 1)
    else:
        top, left = (h - out_size) // 2, (w - out_size) // 2
        x = x[:, :, top:top + out_size, left:left + out_size]
    return (x - MEAN) / STD


# ---- training and evaluation ------------------------------------------------------------------

def lr_at(cfg, step, total, warmup):
    """As the trainer's LrSchedule.cosine(lr, warmup, total, 0): linear warm-up, then cosine to 0, per step."""
    lr = cfg["lr"]
    if cfg["schedule"] == "constant":
        return lr
    if step < warmup:
        return lr * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * lr * (1 + math.cos(math.pi * t))


def evaluate(model, images, gender, bucket, ages, cfg, bounds):
    model.eval()
    # AgeBuckets.centre: lower bound + half the width; the open last bucket takes the previous width
    widths = [bounds[i + 1] - bounds[i] for i in range(len(bounds) - 1)]
    centres = torch.tensor([lo + w / 2 for lo, w in zip(bounds, widths + [widths[-1]])], dtype=torch.float)
    g_ok = a_ok = 0
    aabd = mae = 0.0
    with torch.no_grad():
        for s in range(0, len(images), 256):
            idx = np.arange(s, min(s + 256, len(images)))
            x = make_batch(images, idx, cfg["imageSize"], False, None)
            pg, pa = models.predict(model, model(x))
            g_ok += (pg.argmax(1) == gender[idx]).sum().item()
            pred = pa.argmax(1)
            a_ok += (pred == bucket[idx]).sum().item()
            aabd += (pred - bucket[idx]).abs().sum().item()
            mae += ((pa * centres).sum(1) - ages[idx].float()).abs().sum().item()
    n = len(images)
    return {"genderAccuracy": g_ok / n, "ageBucketAccuracy": a_ok / n, "aabd": aabd / n, "ageMae": mae / n, "count": n}


def main(argv=None):
    args = parse_args(argv)
    cfg, source = resolve_config(args)
    torch.set_num_threads(args.threads)
    torch.manual_seed(int(cfg["seed"]))
    bounds = [int(b) for b in str(cfg["ageBuckets"]).split(",")]
    if not os.path.isdir(args.data):
        raise SystemExit(f"train_torch.py: data folder {args.data} does not exist")
    if args.run and os.path.exists(os.path.join(args.run, "split.json")):
        with open(os.path.join(args.run, "split.json")) as f:
            split = json.load(f)
        names = {"train": split_entries(split, ["train"]),
                 "validation": split_entries(split, ["validation", "val", "valid"]),
                 "test": split_entries(split, ["test"])}
        print(f"split from {os.path.join(args.run, 'split.json')}")
    else:
        names = own_split(args.data, int(cfg["seed"]))
        print("split: own seeded 70/15/15 (no --run split.json given)")
    if args.limit:
        names["train"] = names["train"][:args.limit]
    print("config: " + ", ".join(f"{k}={v} ({source[k]})" for k, v in cfg.items()))
    sets, aux_labels = {}, {}
    for part, ns in names.items():
        labels = [parse_name(n) for n in ns]
        keep = [i for i, l in enumerate(labels) if l is not None]
        ns = [ns[i] for i in keep]
        ages = torch.tensor([labels[i][0] for i in keep])
        sets[part] = (load_images(args.data, ns, int(cfg["storedSize"]), args.cache),
                      torch.tensor([labels[i][1] for i in keep]),
                      torch.tensor([bucket_of(a, bounds) for a in ages.tolist()]), ages)
        # the aux heads' labels, as attnface's Batches: a missing race counts as "Others" (4)
        races = torch.tensor([labels[i][2] if labels[i][2] >= 0 else models.RACES - 1 for i in keep])
        aux_labels[part] = (races, torch.tensor([models.fine_age_bin(a) for a in ages.tolist()]))
        print(f"{part}: {len(ns)} images")
    model = models.create(cfg["model"], cfg["imageSize"], len(bounds), int(cfg["resnetDepth"]), int(cfg["resnetWidth"]), int(cfg["attnWidth"]),
                          aux=float(cfg["auxWeight"]) > 0)
    if cfg["zeroInitResidual"]:   # attnface's --zero-init-residual: every block starts as the identity
        blocks = [m for m in model.modules() if isinstance(m, models.BasicBlock)]
        if not blocks:
            sys.exit(f"zero_init_residual is set but model {cfg['model']} has no ResNet blocks")
        for b in blocks:
            torch.nn.init.zeros_(b.bn2.weight)
    # attn_lr (ensemble only): the attn member's own peak rate, as a parameter group with the same schedule
    attn_lr = float(cfg["attnLr"] or 0)
    if attn_lr > 0:
        if not isinstance(model, models.Ensemble):
            sys.exit(f"attn_lr {attn_lr} is for the ensemble's attn member; model is {cfg['model']}")
        params = [{"params": model.attn.parameters(), "scale": attn_lr / cfg["lr"]},
                  {"params": model.resnet.parameters(), "scale": 1.0}]
    else:
        params = [{"params": model.parameters(), "scale": 1.0}]
    if cfg["optimizer"] == "adamw":
        opt = torch.optim.AdamW(params, lr=cfg["lr"], weight_decay=cfg["weightDecay"])
    else:
        opt = torch.optim.SGD(params, lr=cfg["lr"], momentum=cfg["momentum"], weight_decay=cfg["weightDecay"])
    weights = (float(cfg["genderWeight"]), float(cfg["ageWeight"]), float(cfg["distanceWeight"]), float(cfg["auxWeight"]))
    train_race, train_fine = aux_labels["train"]
    train_x, train_g, train_b, _ = sets["train"]
    n = len(train_x)
    batch = min(int(cfg["batch"]), n)
    steps = n // batch  # the last partial batch is dropped, as the trainer does
    total_steps = steps * int(cfg["epochs"])
    warmup = int(cfg["warmupSteps"]) if int(cfg["warmupSteps"]) >= 0 else min(steps, total_steps // 20)
    rng = random.Random(int(cfg["seed"]))
    history = []
    t_start = time.time()
    for epoch in range(int(cfg["epochs"])):
        model.train()
        order = list(range(n))
        rng.shuffle(order)
        t0, total, term_sums = time.time(), 0.0, {}
        for s in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(cfg, epoch * steps + s, total_steps, warmup) * group["scale"]
            idx = np.array(order[s * batch:(s + 1) * batch])
            x = make_batch(train_x, idx, cfg["imageSize"], True, rng)
            terms = models.loss_terms(model, model(x), train_g[idx], train_b[idx], weights, (train_race[idx], train_fine[idx]))
            loss = models.weighted_sum(terms, weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.item()
            for k, v in terms.items():
                term_sums[k] = term_sums.get(k, 0.0) + v.item()
        rate = steps * batch / (time.time() - t0)
        val = evaluate(model, *sets["validation"], cfg, bounds)
        # the unweighted terms, each summed over an ensemble's networks, as attnface's train_loss_* in metrics.jsonl
        terms_mean = {k: v / max(steps, 1) for k, v in term_sums.items()}
        history.append({"epoch": epoch + 1, "loss": total / max(steps, 1), "lossTerms": terms_mean, "validation": val, "imagesPerSecond": rate})
        terms_text = ", ".join(f"{k} {v:.4f}" for k, v in terms_mean.items())
        print(f"epoch {epoch + 1}/{cfg['epochs']}: loss {total / max(steps, 1):.4f} ({terms_text}), val gender {val['genderAccuracy']:.4f}"
              f" age {val['ageBucketAccuracy']:.4f} AABD {val['aabd']:.4f}, {rate:.0f} img/s", flush=True)
    test = evaluate(model, *sets["test"], cfg, bounds)
    print(f"test ({test['count']} images): gender accuracy {test['genderAccuracy']:.4f}, age-bucket accuracy "
          f"{test['ageBucketAccuracy']:.4f}, AABD {test['aabd']:.4f}, age MAE {test['ageMae']:.2f}"
          f" ({(time.time() - t_start) / 60:.1f} min)")
    # the members on the same images, as attnface eval's "Ensemble vs its members" table
    members = {}
    if isinstance(model, models.Ensemble):
        for name in ("attn", "resnet"):
            members[name] = evaluate(getattr(model, name), *sets["test"], cfg, bounds)
            m = members[name]
            print(f"  {name} member: gender accuracy {m['genderAccuracy']:.4f}, age-bucket accuracy {m['ageBucketAccuracy']:.4f}, AABD {m['aabd']:.4f}")
    out = args.out or (os.path.join(args.run, "torch-metrics.json") if args.run else None)
    if out:
        with open(out, "w") as f:
            json.dump({"engine": "pytorch", "version": torch.__version__, "config": cfg, "history": history, "test": test, "testMembers": members}, f, indent=1)
        print(f"metrics written to {out}")


if __name__ == "__main__":
    main()

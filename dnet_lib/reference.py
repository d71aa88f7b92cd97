"""Reference runs: the trained networks and learning curves that chapters 6, 8 and 9 load.

``python -m dnet_lib.reference [--smoke] [--runs densenet-s0,...] [--jobs N] [--shared-machine]``
trains them on the CPU (README: what, how long); each finished run is merged at once into
``book/results/reference_cpu.json`` (atomic, file-locked; a restart skips finished runs), weights
into ``weights/reference_<run>.pt``, loaded by :func:`load_model` with ``weights_only=True``.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from . import arith, data, models, results, runtime, validate
from .files import atomic_write, atomic_write_json

__all__ = ["RECIPE", "D2L_RECIPE", "NETWORKS", "POOLED_STEM", "RUNS", "build", "run_ids",
           "train_run", "weights_path", "load_model", "retrain_requested", "retrain", "main"]

# 3x3 conv, BN-ReLU, 2x2 max pool: the blocks then work at 14, 7 and 3 px instead of 28.
POOLED_STEM = models.Stem(kernel_size=3, stride=1, norm=True, pool=2, pool_stride=2, pool_padding=0)

# The CPU recipe shared by every network (one-cycle: 20% linear warm-up, then cosine to zero).
# float32 on purpose: bfloat16 is fast on this CPU but slow on CPUs without native support.
RECIPE = {"batch_size": 256, "epochs": 8, "optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05,
          "schedule": "one_cycle", "label_smoothing": 0.1,
          "augmentation": "random horizontal flips", "test_flip": True, "precision": "float32",
          "channels_last": True,
          "input": "28x28, normalised with the training set's mean and std"}
SMOKE = {"subset": 512, "test_subset": 256, "max_steps": 3}
SEEDS = (0, 1, 2)
LESS_DATA_SIZES = (2000, 10000)
LESS_DATA_EPOCHS = 10          # passes over each subset (the full-data runs make 8)
FULL_SIZE = 60000
FIGURE5_EPOCHS = 1             # the L=40 network: one pass (8 would take ~8x longer on a CPU)
FIGURE5_SEEDS = (0, 1, 2)
TARGET_ACCURACY = 0.92         # every full-data run should reach it (the file's last note)


def _densenet(**config) -> nn.Module:
    """A DenseNet on the fast CPU path (same values and gradients as the plain layers)."""
    return models.DenseNet(fast_cpu=True, **config)


NETWORKS = {
    "densenet": dict(
        label="DenseNet (k=16, blocks 3-3-3)",
        code="models.DenseNet(growth_rate=16, block_config=(3, 3, 3), num_init_features=32, "
             "bottleneck=False, in_channels=1, num_classes=10, stem=POOLED_STEM)",
        build=lambda: _densenet(growth_rate=16, block_config=(3, 3, 3), num_init_features=32,
                                bottleneck=False, compression=0.5, in_channels=1,
                                num_classes=10, stem=POOLED_STEM)),
    "resnet": dict(
        label="ResNet-14 (widths 16-24-40)",
        code="models.ResNet(models.BasicBlock, (2, 2, 2), (16, 24, 40), in_channels=1, "
             "num_classes=10, stem=POOLED_STEM)",
        build=lambda: models.ResNet(models.BasicBlock, (2, 2, 2), (16, 24, 40), in_channels=1,
                                    num_classes=10, stem=POOLED_STEM)),
    "dualpath": dict(
        label="Dual-path net (residual 16-24-40, k=8)",
        code="models.DualPathNet((16, 24, 40), 8, (2, 2, 2), stem=POOLED_STEM)",
        build=lambda: models.DualPathNet((16, 24, 40), 8, (2, 2, 2), stem=POOLED_STEM)),
    "densenet40": dict(
        label="DenseNet L=40 (k=12, blocks 12-12-12)",
        code="models.DenseNet(growth_rate=12, block_config=(12, 12, 12), "
             "num_init_features=16, bottleneck=False, compression=1.0, in_channels=1, "
             "num_classes=10, stem=POOLED_STEM)",
        build=lambda: _densenet(growth_rate=12, block_config=(12, 12, 12),
                                num_init_features=16, bottleneck=False, compression=1.0,
                                in_channels=1, num_classes=10, stem=POOLED_STEM)),
}
GROUPS = ("main", "dualpath", "less_data", "figure5")

# Run order = priority: the matched pair first, seed by seed, then the rest.
RUNS = {f"{n}-s{s}": dict(network=n, seed=s, train_examples=FULL_SIZE, save_weights=True,
                          group="main") for s in SEEDS for n in ("densenet", "resnet")}
RUNS.update({f"{n}-n{size}-s{s}": dict(network=n, seed=s, train_examples=size, save_weights=False,
                                       group="less_data")
             for s in SEEDS for size in LESS_DATA_SIZES for n in ("densenet", "resnet")})
RUNS["dualpath-s0"] = dict(network="dualpath", seed=0, train_examples=FULL_SIZE, save_weights=True,
                           group="dualpath")
RUNS.update({f"densenet40-s{s}": dict(network="densenet40", seed=s, train_examples=FULL_SIZE,
                                      save_weights=True, group="figure5", epochs=FIGURE5_EPOCHS)
             for s in FIGURE5_SEEDS})

NOTES = [
    "All three networks use the same stem (3x3 convolution, BatchNorm-ReLU, 2x2 max pool), the "
    "same data order per seed and the same optimiser, schedule and number of steps. The DenseNet "
    "and the ResNet are matched in parameters; the DenseNet needs about 1.8x the ResNet's FLOPs "
    "per image.",
    "The dual-path net was trained once (seed 0) on all 60,000 images, like seed 0 of its parents.",
    "Less-data runs train both networks on the same class-balanced subset for 10 passes over "
    "it (the full-data runs make 8 passes over 60,000 images): at each size and seed the two "
    "networks get identical data and steps; each seed draws its own subset; smaller subsets get "
    "fewer steps in total.",
    f"The L=40 DenseNet (Figure 5 at the paper's shape) makes {FIGURE5_EPOCHS} pass(es) over "
    "the 60,000 images with the same optimiser and schedule (squeezed into those steps), not "
    "8: at 7.5x the small DenseNet's FLOPs per image it is trained for its weight pattern, not "
    "for the best accuracy.",
    "Test accuracy averages the logits of each test image and its mirror image (the training "
    "data were flipped at random too); the test set was used only for reporting.",
    "The runs were made one at a time, each using every core of an otherwise idle machine "
    "(threads under 'device_info'; each run records the load average before and after it), so "
    "examples per second compare the networks with each other; other machines will differ.",
]
SHARED_NOTE = ("The runs shared the CPU with other processes or with each other (--shared-machine "
               "or --jobs > 1): examples per second and training times are too low and vary "
               "between runs.")
SHARED_ENV = "DNET_REFERENCE_SHARED"     # tells worker processes that the machine was shared


def build(network: str) -> nn.Module:
    """A fresh, untrained network of the reference runs (a key of ``NETWORKS``)."""
    validate.check_choice("network", network, NETWORKS)
    return NETWORKS[network]["build"]()


def run_ids(group: str | None = None, network: str | None = None) -> list[str]:
    """Run ids in priority order, optionally of one group (``GROUPS``) and/or one network."""
    if group is not None:
        validate.check_choice("group", group, GROUPS)
    if network is not None:
        validate.check_choice("network", network, NETWORKS)
    return [rid for rid, spec in RUNS.items()
            if group in (None, spec["group"]) and network in (None, spec["network"])]


def weights_path(run_id: str, folder: str | os.PathLike | None = None) -> Path:
    """Where the weights of ``run_id`` live (the committed folder unless ``folder`` is given)."""
    validate.check_choice("run_id", run_id, RUNS)
    folder = Path(folder) if folder is not None else results.results_dir() / "weights"
    return folder / f"reference_{run_id}.pt"


def load_model(run_id: str = "densenet-s0", folder: str | os.PathLike | None = None) -> nn.Module:
    """The trained network of ``run_id`` in eval mode, weights loaded with weights_only=True."""
    path = weights_path(run_id, folder)
    if not path.is_file():
        raise FileNotFoundError(f"no weights for run {run_id!r} at {path}; run "
                                f"`python -m dnet_lib.reference --runs {run_id}` to make them")
    model = build(RUNS[run_id]["network"])
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _log_epoch(run_id: str):
    return lambda epoch, h: print(f"[{os.getpid()}] {run_id} epoch {epoch}: loss "
                                  f"{h.train_loss[-1]:.4f}, test acc {h.test_acc[-1]}", flush=True)


def _record(run_id, network, group, seed, train_iter, test_iter, history, params, flops,
            start) -> dict:
    """The record of a finished run: what ran, its cost, accuracy and history."""
    return dict(run=run_id, network=network, group=group, seed=seed,
                train_examples=len(train_iter.labels), test_examples=len(test_iter.labels),
                epochs=history.epochs, steps=int(sum(history.steps)), parameters=params,
                flops_per_image=flops, final_test_acc=history.final_test_acc,
                final_train_acc=history.train_acc[-1], wall_seconds=time.perf_counter() - start,
                finished=results.now(), history=history.to_dict())


def train_run(run_id: str, *, smoke: bool = False, progress: bool = False,
              weights_folder: str | os.PathLike | None = None, log: bool = False,
              device: str | torch.device = "cpu", command: str | None = None) -> dict:
    """Train one reference run (on the CPU unless ``device``) and return its record."""
    from . import train
    spec = RUNS[validate.check_choice("run_id", run_id, RUNS)]
    batch, seed = RECIPE["batch_size"], spec["seed"]
    size = spec["train_examples"]
    epochs = spec.get("epochs", RECIPE["epochs"] if size == FULL_SIZE else LESS_DATA_EPOCHS)
    eval_every = 1 if size == FULL_SIZE else LESS_DATA_EPOCHS // 2
    subset = None if size == FULL_SIZE else size
    test_subset, max_steps = None, None
    if smoke:
        subset, test_subset, max_steps = SMOKE["subset"], SMOKE["test_subset"], SMOKE["max_steps"]
        epochs, eval_every = 1, 1
    train_iter, test_iter = data.load_data_fashion_mnist(
        batch, device=device, subset=subset, test_subset=test_subset, seed=seed, flip=True,
        channels_last=True)
    torch.manual_seed(seed)
    model = build(spec["network"])
    params, flops = arith.count_params(model), arith.count_flops(model, (1, 1, 28, 28))
    load_before = runtime.load_average()
    start = time.perf_counter()
    history = train.fit(model, train_iter, test_iter, epochs=epochs, optimizer=RECIPE["optimizer"],
                        lr=RECIPE["lr"], weight_decay=RECIPE["weight_decay"],
                        schedule=RECIPE["schedule"], label_smoothing=RECIPE["label_smoothing"],
                        test_flip=RECIPE["test_flip"], device=device, amp=False,
                        channels_last=True, progress=progress, seed=seed, eval_every=eval_every,
                        max_steps=max_steps, on_epoch_end=_log_epoch(run_id) if log else None)
    record = _record(run_id, spec["network"], spec["group"], seed, train_iter, test_iter,
                     history, params, flops, start)
    record.update(threads=torch.get_num_threads(), load_average_before=load_before,
                  load_average_after=runtime.load_average(),
                  shared_machine=os.environ.get(SHARED_ENV) == "1")
    # each run's own provenance: runs added later to a file keep their device, date, versions
    env = results.environment(torch.device(device))
    record.update(device=env["device"], versions=env["versions"],
                  command=command or f"reference.train_run({run_id!r})")
    if "epochs" in spec and not smoke:
        record["recipe_changes"] = {"epochs": epochs}
    if spec["save_weights"]:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        record["weights"] = atomic_write(weights_path(run_id, weights_folder),
                                         lambda f: torch.save(state, f)).name
    return record


# d2l's recipe (the 0.17 text): plain SGD, constant lr 0.1, batch 256, 10 epochs, 96x96 inputs
# scaled to [0, 1] without normalisation, here for 3 seeds and both networks.
D2L_RECIPE = {"batch_size": 256, "epochs": 10, "optimizer": "sgd", "lr": 0.1, "momentum": 0.0,
              "weight_decay": 0.0, "schedule": "none", "resize": 96, "normalize": False}
D2L_NETWORKS = {"d2l_densenet": ("DenseNet (d2l)", models.d2l_densenet),
                "d2l_resnet18": ("ResNet-18 (d2l)", models.d2l_resnet18)}
RETRAIN_ENV = "DNET_RETRAIN"


def retrain_requested() -> bool:
    """True when the environment asks chapters to retrain (``DNET_RETRAIN=1``)."""
    return os.environ.get(RETRAIN_ENV, "").strip().lower() in ("1", "true", "yes")


def _d2l_run(network: str, seed: int, device: torch.device, progress: bool) -> dict:
    from . import train
    r = D2L_RECIPE
    train_iter, test_iter = data.load_data_fashion_mnist(
        r["batch_size"], resize=r["resize"], device=device, seed=seed, normalize=r["normalize"])
    torch.manual_seed(seed)
    model = D2L_NETWORKS[network][1]()
    params, flops = arith.count_params(model), arith.count_flops(model, (1, 1, 96, 96))
    start = time.perf_counter()
    history = train.fit(model, train_iter, test_iter, epochs=r["epochs"], optimizer=r["optimizer"],
                        lr=r["lr"], momentum=r["momentum"], weight_decay=r["weight_decay"],
                        schedule=r["schedule"], device=device, progress=progress, seed=seed)
    return _record(f"{network}-s{seed}", network, "main", seed, train_iter, test_iter, history,
                   params, flops, start)


def retrain(mode: str | None = None, runs: list[str] | None = None, *,
            weights_folder: str | os.PathLike | None = None, progress: bool = True) -> dict:
    """Train reference runs again, here; returns a record like the committed one.

    Without ``runs``: "cpu" the main runs, "gpu" d2l's recipe for d2l's two networks, "smoke"
    seeds 0 and 1 on tiny subsets. Weights go to ``weights_folder`` (default: a temp folder).
    """
    from tqdm.auto import tqdm
    mode = validate.check_choice("mode", mode or runtime.mode(), ("smoke", "cpu", "gpu"))
    if runs is not None:
        runs = [validate.check_choice("runs", r, RUNS) for r in runs]
    smoke = mode == "smoke"
    folder = Path(weights_folder or tempfile.mkdtemp(prefix="dnet_retrain_"))
    device = runtime.pick_device() if mode == "gpu" else torch.device("cpu")
    header = _header(f"reference.retrain({mode!r})", smoke, device)
    if mode == "gpu" and runs is None:
        header.update(recipe=dict(D2L_RECIPE, seeds=list(SEEDS)),
                      networks={n: {"label": label, "code": f"models.{n}()"}
                                for n, (label, _) in D2L_NETWORKS.items()},
                      notes=["d2l's recipe: plain SGD, constant lr 0.1, batch 256, 10 epochs, "
                             "96x96 inputs, no normalisation; trained by dnet_lib.train.fit."])
        for network, seed in tqdm([(n, s) for s in SEEDS for n in D2L_NETWORKS], desc="runs",
                                  disable=not progress):
            header["runs"][f"{network}-s{seed}"] = _d2l_run(network, seed, device, progress)
        return header
    if runs is None:
        # smoke: two seeds, so the seed statistics of chapter 6 are defined
        runs = ([f"{n}-s{s}" for s in (0, 1) for n in ("densenet", "resnet")] if smoke
                else run_ids("main"))
    for run_id in tqdm(runs, desc="runs", disable=not progress):
        header["runs"][run_id] = train_run(run_id, smoke=smoke, progress=progress and not smoke,
                                           weights_folder=folder, device=device)
    header["weights_folder"] = str(folder)
    return header


def _scratch(path: Path, suffix: str) -> Path:
    """A temp file tied to the result file's full path (lock, claims)."""
    digest = hashlib.md5(str(path.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"dnet_reference_{digest}.{suffix}"


@contextlib.contextmanager
def _locked(path: Path):
    with open(_scratch(path, "lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)        # released when the file closes
        yield


def _header(command: str, smoke: bool, device: torch.device | str = "cpu") -> dict:
    header = results.environment(torch.device(device))
    mode = "smoke" if smoke else ("gpu" if torch.device(device).type != "cpu" else "cpu")
    header.update(benchmark="reference", command=command, mode=mode,
                  recipe=dict(RECIPE, seeds=list(SEEDS), less_data_sizes=list(LESS_DATA_SIZES)),
                  networks={name: dict(label=n["label"], code=n["code"])
                            for name, n in NETWORKS.items()},
                  notes=_notes(smoke), runs={})
    return header


MIXED_NOTE = ("Runs without 'shared_machine': true were made one at a time on an otherwise idle "
              "machine, so their examples per second compare the networks with each other; runs "
              "with it shared the CPU with other processes (--shared-machine or --jobs > 1): their "
              "examples per second and training times are too low and vary between runs.")


def _notes(smoke: bool, runs: dict | None = None) -> list[str]:
    """The file's notes; the last says which runs had the machine to themselves."""
    notes = list(NOTES)
    if runs:
        shared = [bool(r.get("shared_machine")) for r in runs.values()]
        if all(shared):
            notes[-1] = SHARED_NOTE
        elif any(shared):
            notes[-1] = MIXED_NOTE
    elif os.environ.get(SHARED_ENV) == "1":
        notes[-1] = SHARED_NOTE
    if smoke:
        notes.append("Smoke run: tiny subsets, a few steps; the numbers mean nothing.")
    return notes


def _target_note(runs: dict) -> str:
    """Which full-data runs reached the target test accuracy."""
    full = [r for r in runs.values() if r["group"] == "main"]
    missed = [f"{r['run']} ({r['final_test_acc']:.4f})" for r in full
              if r["final_test_acc"] < TARGET_ACCURACY]
    text = (f"Target: every full-data run reaches {TARGET_ACCURACY} test accuracy; "
            f"{len(full) - len(missed)} of {len(full)} did.")
    return text + (f" Below it: {', '.join(missed)}." if missed else "")


def _check_same_recipe(path: Path, current: dict, fresh: dict) -> None:
    if current.get("recipe") != fresh["recipe"]:
        raise ValueError(f"{path} holds runs of another recipe; move it away to start over "
                         f"(finished runs are only skipped when the recipe is the same)")


def _merge(path: Path, record: dict, command: str, smoke: bool) -> None:
    with _locked(path):
        fresh = _header(command, smoke)
        current = json.loads(path.read_text()) if path.is_file() else fresh
        _check_same_recipe(path, current, fresh)
        record.setdefault("shared_machine", os.environ.get(SHARED_ENV) == "1")
        current["runs"][record["run"]] = record
        current["runs"] = {rid: current["runs"][rid] for rid in RUNS if rid in current["runs"]}
        current["networks"] = fresh["networks"]
        current["notes"] = _notes(smoke, current["runs"]) + [_target_note(current["runs"])]
        current["updated"] = results.now()
        atomic_write_json(path, current)


def _claim(path: Path, run_id: str) -> bool:
    """True if ``run_id`` is neither finished nor taken by another worker."""
    with _locked(path):
        done = json.loads(path.read_text())["runs"] if path.is_file() else {}
        claim = _scratch(path, f"{run_id}.claim")
        free = run_id not in done and not claim.exists()
        if free:
            claim.write_text(str(os.getpid()))
        return free


def _release_claims(path: Path, ids) -> None:
    for run_id in ids:
        _scratch(path, f"{run_id}.claim").unlink(missing_ok=True)


def _worker(path: Path, ids: list[str], command: str, smoke: bool, weights_folder) -> None:
    for run_id in filter(lambda r: _claim(path, r), ids):
        print(f"[{os.getpid()}] {run_id}: training", flush=True)
        record = train_run(run_id, smoke=smoke, weights_folder=weights_folder, log=True,
                           command=command)
        _merge(path, record, command, smoke)
        print(f"[{os.getpid()}] {run_id}: test acc {record['final_test_acc']:.4f}, "
              f"{record['wall_seconds']:.0f} s, {record['epochs']} epochs", flush=True)


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(prog="python -m dnet_lib.reference",
                                description=__doc__.split("\n")[0])
    for flag, kw in (("--smoke", dict(action="store_true", help="tiny subsets, temp output")),
                     ("--runs", dict(help=f"comma-separated run ids (default: {', '.join(RUNS)})")),
                     ("--jobs", dict(type=int, default=1, help="worker processes (default 1)")),
                     ("--out", dict(help="result folder (default book/results; smoke: temp)")),
                     ("--shared-machine", dict(action="store_true",
                                               help="run on a busy CPU (the file says so)")),
                     ("--worker", dict(action="store_true", help=argparse.SUPPRESS))):
        p.add_argument(flag, **kw)
    args = p.parse_args(argv)
    smoke = args.smoke or runtime.smoke()
    validate.check_int("--jobs", args.jobs, 1, 8)
    ids = run_ids() if args.runs is None else [validate.check_choice("--runs", r.strip(), RUNS)
                                               for r in args.runs.split(",") if r.strip()]
    out = Path(args.out) if args.out else (
        Path(tempfile.gettempdir()) / "dnet_reference_smoke" if smoke else results.results_dir())
    out.mkdir(parents=True, exist_ok=True)
    path = out / ("reference_cpu.json" if not smoke else "reference_smoke.json")
    weights_folder = out / "weights"
    if smoke and not args.worker:
        path.unlink(missing_ok=True)           # smoke runs always start from scratch
    flags = [" --smoke" * smoke, f" --runs {args.runs}" if args.runs else "",
             f" --jobs {args.jobs}" if args.jobs > 1 else "",
             " --shared-machine" * args.shared_machine]
    command = "python -m dnet_lib.reference" + "".join(flags)
    if args.worker:
        command = os.environ.get("DNET_COMMAND", command)
    elif args.shared_machine or args.jobs > 1:
        os.environ[SHARED_ENV] = "1"
    elif not smoke:
        runtime.require_quiet_cpu(command, "--shared-machine")
    if path.is_file():                         # fail now, not after the first run
        _check_same_recipe(path, json.loads(path.read_text()), _header(command, smoke))
    threads = max(1, (os.cpu_count() or 1) // args.jobs)   # oversubscribed cores crawl
    if args.worker:                            # the parent chose the workers' share
        threads = int(os.environ.get("OMP_NUM_THREADS") or threads)
    torch.set_num_threads(threads)
    if args.worker:
        _worker(path, ids, command, smoke, weights_folder)
        return path
    _release_claims(path, ids)                 # left behind by a killed earlier run
    try:
        if args.jobs == 1:
            _worker(path, ids, command, smoke, weights_folder)
        else:
            base = [sys.executable, "-m", "dnet_lib.reference", "--worker", "--out", str(out),
                    "--runs", ",".join(ids)] + (["--smoke"] if smoke else [])
            env = dict(os.environ, OMP_NUM_THREADS=str(threads), DNET_COMMAND=command)
            codes = [w.wait() for w in [subprocess.Popen(base, env=env) for _ in range(args.jobs)]]
            if any(codes):
                raise SystemExit(f"a worker failed (exit codes {codes}); finished runs: {path}")
    finally:
        _release_claims(path, ids)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()

"""Reference runs: the trained networks and learning curves that chapters 6, 8 and 9 load.

``python -m dnet_tools.reference_runs`` trains them (README: what, how long) into
``book/results/reference_cpu.json`` and ``weights/``; :func:`retrain` trains them in a chapter.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from . import arith, data, models, results, runtime, train, validate
from .files import atomic_write

__all__ = ["RECIPE", "D2L_RECIPE", "NETWORKS", "POOLED_STEM", "RUNS", "build", "run_ids",
           "train_run", "weights_path", "load_model", "header", "retrain_requested", "retrain"]

# 3x3 conv, BN-ReLU, 2x2 max pool: the blocks then work at 14, 7 and 3 px instead of 28.
POOLED_STEM = models.Stem(kernel_size=3, stride=1, norm=True, pool=2, pool_stride=2, pool_padding=0)

# The CPU recipe shared by every network (one-cycle: 20% linear warm-up, then cosine to zero).
# float32 on purpose: bfloat16 is fast on this CPU but slow on CPUs without native support.
RECIPE = {"batch_size": 256, "epochs": 8, "optimizer": "adamw", "lr": 0.01, "weight_decay": 0.05,
          "schedule": "one_cycle", "label_smoothing": 0.1,
          "augmentation": "random horizontal flips", "test_flip": True, "precision": "float32",
          "channels_last": True, "input": "28x28, normalised with the training set's mean and std"}
# what train.fit takes from a recipe as it is (d2l's: the first four, with momentum)
_FIT_SETTINGS = ("optimizer", "lr", "weight_decay", "schedule", "label_smoothing", "test_flip")
SMOKE = {"subset": 512, "test_subset": 256, "max_steps": 3}
SEEDS = (0, 1, 2)
LESS_DATA_SIZES = (2000, 10000)
LESS_DATA_EPOCHS = 10          # passes over each subset (the full-data runs make 8)
FULL_SIZE = 60000
FIGURE5_EPOCHS = 1             # the L=40 network: one pass (8 would take ~8x longer on a CPU)


def _network(label: str, factory, *args, **kwargs) -> dict:
    """A reference network: its label, its factory and arguments (for records), a builder;
    DenseNets train on the fast CPU path (same values and gradients as the plain layers)."""
    fast = {"fast_cpu": True} if factory is models.DenseNet else {}
    return dict(label=label, factory=factory, args=args, kwargs=kwargs,
                build=lambda: factory(*args, **kwargs, **fast))


NETWORKS = {
    "densenet": _network("DenseNet (k=16, blocks 3-3-3)", models.DenseNet, growth_rate=16,
                         block_config=(3, 3, 3), num_init_features=32, bottleneck=False,
                         in_channels=1, num_classes=10, stem=POOLED_STEM),
    "resnet": _network("ResNet-14 (widths 16-24-40)", models.ResNet, models.BasicBlock,
                       (2, 2, 2), (16, 24, 40), in_channels=1, num_classes=10, stem=POOLED_STEM),
    "dualpath": _network("Dual-path net (residual 16-24-40, k=8)", models.DualPathNet,
                         (16, 24, 40), 8, (2, 2, 2), stem=POOLED_STEM),
    "densenet40": _network("DenseNet L=40 (k=12, blocks 12-12-12)", models.DenseNet,
                           growth_rate=12, block_config=(12, 12, 12), num_init_features=16,
                           bottleneck=False, compression=1.0, in_channels=1, num_classes=10,
                           stem=POOLED_STEM),
}
GROUPS = ("main", "dualpath", "less_data", "figure5")

# Run order = priority: the matched pair first, seed by seed, then the rest. Runs on all the
# training data keep their weights.
RUNS = {f"{n}-s{s}": dict(network=n, seed=s, train_examples=FULL_SIZE, group="main")
        for s in SEEDS for n in ("densenet", "resnet")}
RUNS.update({f"{n}-n{size}-s{s}": dict(network=n, seed=s, train_examples=size, group="less_data")
             for s in SEEDS for size in LESS_DATA_SIZES for n in ("densenet", "resnet")})
RUNS["dualpath-s0"] = dict(network="dualpath", seed=0, train_examples=FULL_SIZE, group="dualpath")
RUNS.update({f"densenet40-s{s}": dict(network="densenet40", seed=s, train_examples=FULL_SIZE,
                                      group="figure5", epochs=FIGURE5_EPOCHS) for s in SEEDS})


def build(network: str) -> nn.Module:
    """A fresh, untrained network of the reference runs (a key of ``NETWORKS``)."""
    return NETWORKS[validate.check_choice("network", network, NETWORKS)]["build"]()


def run_ids(group: str | None = None, network: str | None = None) -> list[str]:
    """Run ids in priority order, optionally of one group (``GROUPS``) and/or one network."""
    validate.check_choice("group", group, (None, *GROUPS))
    validate.check_choice("network", network, (None, *NETWORKS))
    return [rid for rid, spec in RUNS.items()
            if group in (None, spec["group"]) and network in (None, spec["network"])]


def weights_path(run_id: str, folder: str | os.PathLike | None = None) -> Path:
    """Where the weights of ``run_id`` live (the committed folder unless ``folder`` is given)."""
    folder = Path(folder) if folder is not None else results.results_dir() / "weights"
    return folder / f"reference_{validate.check_choice('run_id', run_id, RUNS)}.pt"


def load_model(run_id: str = "densenet-s0", folder: str | os.PathLike | None = None) -> nn.Module:
    """The trained network of ``run_id`` in eval mode, weights loaded with weights_only=True."""
    path = weights_path(run_id, folder)
    if not path.is_file():
        raise FileNotFoundError(f"no weights for run {run_id!r} at {path}; run `python -m "
                                f"dnet_tools.reference_runs --runs {run_id}` to make them")
    model = build(RUNS[run_id]["network"])
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return model.eval()


def _fit(run_id: str, spec: dict, loader: dict, device, **settings):
    """Train a fresh network on Fashion-MNIST (``spec``: network, group, seed; ``loader``: the
    loader's settings); the model and the run's record: what ran, its cost, accuracy, history."""
    seed = spec["seed"]
    train_iter, test_iter = data.load_data_fashion_mnist(device=device, seed=seed, **loader)
    torch.manual_seed(seed)
    model = {**NETWORKS, **D2L_NETWORKS}[spec["network"]]["build"]()
    size = loader.get("resize") or 28
    params, flops = arith.count_params(model), arith.count_flops(model, (1, 1, size, size))
    start = time.perf_counter()
    history = train.fit(model, train_iter, test_iter, seed=seed, device=device, **settings)
    return model, dict(
        run=run_id, network=spec["network"], group=spec["group"], seed=seed,
        train_examples=len(train_iter.labels), test_examples=len(test_iter.labels),
        epochs=history.epochs, steps=int(sum(history.steps)), parameters=params,
        flops_per_image=flops, final_test_acc=history.final_test_acc,
        final_train_acc=history.train_acc[-1], wall_seconds=time.perf_counter() - start,
        finished=results.now(), history=history.to_dict())


def train_run(run_id: str, *, smoke: bool = False, progress: bool = False,
              weights_folder: str | os.PathLike | None = None, on_epoch_end=None,
              device: str | torch.device = "cpu") -> dict:
    """Train one reference run (on the CPU unless ``device``) and return its record."""
    spec = RUNS[validate.check_choice("run_id", run_id, RUNS)]
    full = spec["train_examples"] == FULL_SIZE
    subset = {"subset": None if full else spec["train_examples"]}
    steps = dict(epochs=spec.get("epochs", RECIPE["epochs"] if full else LESS_DATA_EPOCHS),
                 eval_every=1 if full else LESS_DATA_EPOCHS // 2)
    if smoke:
        subset = {"subset": SMOKE["subset"], "test_subset": SMOKE["test_subset"]}
        steps = dict(epochs=1, eval_every=1, max_steps=SMOKE["max_steps"])
    # flipped at random; fit(channels_last=True) converts each batch
    model, record = _fit(run_id, spec, dict(batch_size=RECIPE["batch_size"], flip=True, **subset),
                         device, **steps, **{k: RECIPE[k] for k in _FIT_SETTINGS}, amp=False,
                         channels_last=True, progress=progress, on_epoch_end=on_epoch_end)
    if full:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        record["weights"] = atomic_write(weights_path(run_id, weights_folder),
                                         lambda f: torch.save(state, f)).name
    return record


# d2l's recipe (the 0.17 text), here for 3 seeds and both of its networks
D2L_NOTE = ("d2l's recipe: plain SGD, constant lr 0.1, batch 256, 10 epochs, 96x96 inputs, no "
            "normalisation; trained by dnet_lib.train.fit.")
D2L_RECIPE = {"batch_size": 256, "epochs": 10, "optimizer": "sgd", "lr": 0.1, "momentum": 0.0,
              "weight_decay": 0.0, "schedule": "none", "resize": 96, "normalize": False}
D2L_NETWORKS = {"d2l_densenet": _network("DenseNet (d2l)", models.d2l_densenet),
                "d2l_resnet18": _network("ResNet-18 (d2l)", models.d2l_resnet18)}
SMOKE_NOTE = "Smoke run: tiny subsets, a few steps; the numbers mean nothing."


def header(command: str, mode: str, d2l: bool = False) -> dict:
    """A reference record without provenance or runs yet (``d2l``: d2l's recipe and networks)."""
    recipe = (dict(D2L_RECIPE, seeds=list(SEEDS)) if d2l else
              dict(RECIPE, seeds=list(SEEDS), less_data_sizes=list(LESS_DATA_SIZES)))
    networks = D2L_NETWORKS if d2l else NETWORKS
    return dict(benchmark="reference", command=command, mode=mode, recipe=recipe,
                networks={name: {"label": n["label"]} for name, n in networks.items()}, runs={})


def retrain_requested() -> bool:
    """True when the environment asks chapters to retrain (``DNET_RETRAIN=1``)."""
    return os.environ.get("DNET_RETRAIN", "").strip().lower() in ("1", "true", "yes")


def retrain(mode: str | None = None, runs: list[str] | None = None, *, progress=True) -> dict:
    """Train reference runs again, here; returns a record like the committed one, the weights
    in a temp folder (its ``weights_folder``). Without ``runs``: "cpu" the main runs, "gpu"
    d2l's recipe for d2l's two networks, "smoke" seeds 0 and 1 on tiny subsets."""
    mode = validate.check_choice("mode", mode or runtime.mode(), ("smoke", "cpu", "gpu"))
    runs = None if runs is None else [validate.check_choice("runs", r, RUNS) for r in runs]
    smoke = mode == "smoke"
    device = runtime.pick_device() if mode == "gpu" else torch.device("cpu")
    ran = "smoke" if smoke else "cpu" if device.type == "cpu" else "gpu"
    d2l = mode == "gpu" and runs is None
    record = {**results.stamp(device), **header(f"reference.retrain({mode!r})", ran, d2l),
              "notes": [SMOKE_NOTE] if smoke else [D2L_NOTE] if d2l else []}
    if d2l:
        r = D2L_RECIPE
        loader = {k: r[k] for k in ("batch_size", "resize", "normalize")}
        settings = {k: r[k] for k in ("epochs", "momentum", *_FIT_SETTINGS[:4])}
        for network, seed in tqdm([(n, s) for s in SEEDS for n in D2L_NETWORKS], desc="runs",
                                  disable=not progress):
            run_id, spec = f"{network}-s{seed}", dict(network=network, group="main", seed=seed)
            _, record["runs"][run_id] = _fit(run_id, spec, loader, device, **settings,
                                             progress=progress)
        return record
    if runs is None:        # smoke: seeds 0 and 1, so chapter 6's seed statistics are defined
        runs = run_ids("main")[:4] if smoke else run_ids("main")
    folder = Path(tempfile.mkdtemp(prefix="dnet_retrain_"))
    for run_id in tqdm(runs, desc="runs", disable=not progress):
        record["runs"][run_id] = train_run(run_id, smoke=smoke, progress=progress and not smoke,
                                           weights_folder=folder, device=device)
    record["weights_folder"] = str(folder)
    return record

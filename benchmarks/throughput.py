"""Training throughput (examples/s) on Fashion-MNIST at 96x96 px, measured side by side in one run.

Contenders (same device, same batch size, plain SGD, data loading included):

* ``d2l way``: d2l's DenseNet as d2l writes it, fed by ``d2l.load_data_fashion_mnist`` (its
  torchvision dataset + ``Resize(96)`` + ``ToTensor`` + ``DataLoader``), d2l's fp32 eager step
  (``benchmarks/d2l_reference.py``). DataLoader workers: d2l's 4 on a GPU, 0 on the CPU.
* ``ours``: the same network from ``dnet_lib.models.d2l_densenet`` fed by ``dnet_lib.data``'s
  device-resident pipeline, in fp32, then with one speed-up at a time -- bf16 autocast,
  channels_last, ``torch.compile`` (GPU, or ``--compile``) -- and with all of them.
* ``ours DenseNet-BC`` vs ``torchvision DenseNet-BC``: k=32, blocks 4/4/4/4, 64 stem channels,
  our ``DenseNet`` class and torchvision's ``DenseNet`` class with the same weights, same
  pipeline, same step, 3-channel input (the grey image repeated): a like-for-like comparison of
  the model code.

Every ratio is paired: each round trains every contender on ``timed_batches`` batches (rotating
the order), the ratio is taken inside the round, and the median of the per-round ratios is
reported with its IQR; rounds continue until each IQR is under 5% of its median (or the limit).

    python benchmarks/throughput.py            # CPU ~5 min -> book/results/throughput_cpu.json
    python benchmarks/throughput.py --smoke    # seconds, temporary output
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import _common  # noqa: E402
import d2l_reference  # noqa: E402
from dnet_lib import data, models, runtime  # noqa: E402
from dnet_lib.arith import count_params  # noqa: E402

D2L = "d2l way"
OURS = "ours d2l_densenet fp32"
OURS_BC, TV_BC = "ours DenseNet-BC (k=32, 4/4/4/4)", "torchvision DenseNet-BC (k=32, 4/4/4/4)"


class Contender:
    """A model, its optimizer, its batches and its training step (with optional speed-ups)."""

    def __init__(self, name, model, loader, device, *, amp=False, channels_last=False,
                 compile=False, in_channels=1, lr=0.1):
        self.name, self.device, self.loader = name, device, loader
        self.amp, self.channels_last, self.compiled = amp, channels_last, compile
        self.in_channels = in_channels
        self.model = model.to(device).train()
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.forward = torch.compile(self.model) if compile else self.model
        self._batches = iter(loader)

    def _next(self):
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            return next(self._batches)

    def _step(self, X, y):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp):
            loss = F.cross_entropy(self.forward(X), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    def run(self, num_batches: int) -> float:
        """Train on ``num_batches`` batches; returns examples/s, data loading included."""
        runtime.synchronize(self.device)
        start = time.perf_counter()
        examples = 0
        for _ in range(num_batches):
            X, y = self._next()
            X, y = X.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.in_channels != X.shape[1]:
                X = X.expand(-1, self.in_channels, -1, -1)
            if self.channels_last:
                X = X.contiguous(memory_format=torch.channels_last)
            self._step(X, y)
            examples += len(y)
        runtime.synchronize(self.device)
        return examples / (time.perf_counter() - start)

    def describe(self) -> dict:
        return {"name": self.name, "parameters": count_params(self.model),
                "bf16_autocast": self.amp, "channels_last": self.channels_last,
                "compile": self.compiled}


def settings(device: torch.device, smoke: bool) -> dict:
    if smoke:
        return dict(size=32, batch=8, warmup=1, timed=1, min_rounds=2, max_rounds=2, max_seconds=1)
    if device.type == "cuda":
        return dict(size=96, batch=128, warmup=10, timed=20, min_rounds=5, max_rounds=15, max_seconds=60)
    # one batch per round, many rounds: on a shared machine interleaving matters more than length
    return dict(size=96, batch=64, warmup=1, timed=1, min_rounds=8, max_rounds=40, max_seconds=300)


def contenders(device: torch.device, size: int, batch: int, compile: bool) -> list[Contender]:
    import torchvision
    gpu = device.type == "cuda"
    d2l_train, _ = d2l_reference.d2l_loaders(batch, resize=size, workers=None if gpu else 0)
    ours_train, _ = data.load_data_fashion_mnist(batch, resize=size, device=device, normalize=False)
    torch.manual_seed(0)
    reference = models.d2l_densenet().state_dict()

    def ours(name, **speedups):
        model = models.d2l_densenet(fast_cpu=True)      # shared batch statistics on a CPU
        model.load_state_dict(reference)
        return Contender(name, model, ours_train, device, **speedups)

    bc_ours = models.DenseNet(growth_rate=32, block_config=(4, 4, 4, 4), num_init_features=64,
                              num_classes=10, fast_cpu=True)
    bc_tv = torchvision.models.DenseNet(growth_rate=32, block_config=(4, 4, 4, 4),
                                        num_init_features=64, num_classes=10)
    bc_tv.load_state_dict(bc_ours.state_dict(), strict=True)     # same weights, same architecture
    fast = dict(amp=gpu, channels_last=gpu)      # eager: a comparison of the model code
    rows = [Contender(D2L, d2l_reference.d2l_densenet_reference(image_size=size), d2l_train, device),
            ours(OURS),
            ours("ours + bf16 autocast", amp=True),
            ours("ours + channels_last", channels_last=True),
            ours("ours + bf16 + channels_last", amp=True, channels_last=True)]
    if compile:
        rows += [ours("ours + torch.compile", compile=True),
                 ours("ours + bf16 + channels_last + compile", amp=True, channels_last=True,
                      compile=True)]
    rows += [Contender(OURS_BC, bc_ours, ours_train, device, in_channels=3, **fast),
             Contender(TV_BC, bc_tv, ours_train, device, in_channels=3, **fast)]
    return rows


def run(device: torch.device, smoke: bool, compile: bool | None = None,
        batch_size: int | None = None, max_seconds: float | None = None) -> tuple[dict, list, list]:
    """Measure; returns (results, goals, notes) for the JSON record."""
    s = settings(device, smoke)
    s["batch"] = batch_size or s["batch"]
    s["max_seconds"] = max_seconds or s["max_seconds"]
    compile = device.type == "cuda" if compile is None else compile
    rows = contenders(device, s["size"], s["batch"], compile)
    print(f"Fashion-MNIST {s['size']}x{s['size']}, batch {s['batch']}: {s['warmup']} warm-up batches, "
          f"then rounds of {s['timed']} timed batches per contender", flush=True)
    for c in rows:
        c.run(s["warmup"])          # warm-up (compilation, allocator, lazy init)
    pairs = [(c.name, D2L) for c in rows[1:] if c.name.startswith("ours +") or c.name == OURS]
    pairs += [(c.name, OURS) for c in rows if c.name.startswith("ours +")] + [(OURS_BC, TV_BC)]
    rates = _common.interleaved_rounds({c.name: (lambda c=c: c.run(s["timed"])) for c in rows},
                                       pairs, min_rounds=s["min_rounds"], max_rounds=s["max_rounds"],
                                       max_seconds=s["max_seconds"])
    ratios = {f"{a} / {b}": _common.paired_ratio(rates[a], rates[b]) for a, b in pairs}
    print(f"  {'contender':<42} {'examples/s (median)':>20}")
    for c in rows:
        print(f"  {c.name:<42} {statistics.median(rates[c.name]):20.1f}")
    print("  paired ratios of examples/s:")
    for key, ratio in ratios.items():
        print(f"    {key}: {_common.format_ratio(ratio)}")

    vs_d2l, vs_tv = ratios[f"{OURS} / {D2L}"], ratios[f"{OURS_BC} / {TV_BC}"]
    best = max((r for k, r in ratios.items() if k.endswith(f"/ {D2L}")), key=lambda r: r["median"])
    best_name = next(k for k, r in ratios.items() if r is best).split(" / ")[0]
    results = {"image_size": s["size"], "batch_size": s["batch"], "warmup_batches": s["warmup"],
               "timed_batches_per_round": s["timed"], "optimizer": "SGD lr=0.1",
               "rows": [{**c.describe(), "examples_per_s": statistics.median(rates[c.name]),
                         "examples_per_s_per_round": rates[c.name]} for c in rows],
               "paired_ratios": ratios}
    goals = [
        _common.ratio_goal("ours d2l_densenet fp32 (device pipeline) / the d2l way, examples/s",
                           vs_d2l, ">= 1.0", vs_d2l["median"] >= 1.0),
        _common.ratio_goal(f"fastest of ours ({best_name}) / the d2l way, examples/s", best,
                           ">= 1.0", best["median"] >= 1.0),
        _common.ratio_goal("our DenseNet class / torchvision's, same config and weights, examples/s",
                           vs_tv, ">= 1.0", vs_tv["median"] >= 1.0),
    ]
    notes = ["examples/s include data loading; every ratio is the median of per-round ratios "
             "(paired, interleaved rounds, rotating order) with its IQR",
             "d2l way: d2l's DenseNet re-typed from the d2l section (d2l.torch has none), "
             "d2l.load_data_fashion_mnist, d2l's fp32 eager step"]
    if device.type != "cuda":
        notes.append("CPU: the d2l DataLoader uses 0 workers (d2l's 4 would compete for 2 cores)")
    return results, goals, notes


def main(argv=None) -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--compile", action="store_true", help="add torch.compile rows (default: GPU only)")
    args = p.parse_args(argv)
    device, smoke = _common.setup(args, "throughput")
    load_before = _common.load_average()
    print(runtime.describe(device))
    results, goals, notes = run(device, smoke, compile=args.compile or None, batch_size=args.batch_size)
    _common.finish("throughput", args, device, smoke, results, goals, notes, load_before)


if __name__ == "__main__":
    main()

"""Training throughput (examples/s) on Fashion-MNIST at 96x96 px, measured side by side in one run.

Rows (all on the same device, same batch size, SGD, interleaved rounds, data loading included):

* ``d2l way``: the d2l section's DenseNet written as d2l writes it (lazy BN/conv modules, biased
  convolutions, ``init_cnn``'s Xavier init) fed by torchvision's ``FashionMNIST`` dataset with
  ``Resize(96), ToTensor()`` through a ``DataLoader``, trained by d2l's plain fp32 loop.
* ``ours d2l_densenet``: the same architecture from ``dnet_lib.models.d2l_densenet`` fed by
  ``dnet_lib.data``'s device-resident pipeline; on CUDA with bf16 autocast, channels_last and
  ``torch.compile``, on the CPU in plain fp32 (what helps a GPU does not help 2 CPU cores).
* ``ours DenseNet-BC`` vs ``torchvision DenseNet-BC``: a d2l-sized DenseNet-BC (k=32, blocks
  4/4/4/4, 64 stem channels, 1 input channel) from our ``DenseNet`` class and from torchvision's
  ``DenseNet`` class (its ``conv0`` swapped for a 1-channel one), same weights, same pipeline,
  same training step -- a like-for-like comparison of the model code. (torchvision's class always
  uses the bottleneck, so it cannot build d2l's plain DenseNet.)

    python benchmarks/throughput.py            # -> book/results/throughput_{cpu,gpu}.json
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
from torch import nn  # noqa: E402

import _common  # noqa: E402
from dnet_lib import data, models, runtime  # noqa: E402


# --------------------------------------------------------------------------- the d2l way
def d2l_conv_block(num_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=3, padding=1))


class D2LDenseBlock(nn.Module):
    def __init__(self, num_convs: int, num_channels: int):
        super().__init__()
        self.net = nn.Sequential(*[d2l_conv_block(num_channels) for _ in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)      # concatenate after every layer, as d2l does
        return X


def d2l_transition_block(num_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def d2l_densenet_reference(num_channels=64, growth_rate=32, arch=(4, 4, 4, 4), num_classes=10,
                           image_size=96) -> nn.Sequential:
    """The d2l (v1.0, PyTorch) section's DenseNet, materialised with a dry run and d2l's init_cnn."""
    b1 = nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    blocks = [b1]
    for i, num_convs in enumerate(arch):
        blocks.append(D2LDenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            blocks.append(d2l_transition_block(num_channels))
    net = nn.Sequential(*blocks, nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)),
                                               nn.Flatten(), nn.LazyLinear(num_classes)))
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, image_size, image_size))     # materialise the lazy modules
    net.train()
    for m in net.modules():                            # d2l.init_cnn
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return net


# --------------------------------------------------------------------------- ours vs torchvision
def ours_bc(num_classes=10) -> nn.Module:
    return models.DenseNet(growth_rate=32, block_config=(4, 4, 4, 4), num_init_features=64, in_channels=1,
                           num_classes=num_classes)


def torchvision_bc(num_classes=10) -> nn.Module:
    import torchvision
    net = torchvision.models.DenseNet(growth_rate=32, block_config=(4, 4, 4, 4), num_init_features=64,
                                      bn_size=4, num_classes=num_classes)
    net.features.conv0 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


# --------------------------------------------------------------------------- timing
class Contender:
    """A model, its optimizer, its batches and its training step."""

    def __init__(self, name, model, loader, device, fast: bool, lr=0.1):
        self.name, self.device, self.fast = name, device, fast
        self.model = model.to(device)
        if fast:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.model.train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=lr)
        self.forward = torch.compile(self.model) if fast else self.model
        self.loader = loader
        self._batches = iter(loader)

    def _step(self, X, y):
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.fast):
            loss = F.cross_entropy(self.forward(X), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.detach()

    def _next(self):
        try:
            return next(self._batches)
        except StopIteration:
            self._batches = iter(self.loader)
            return next(self._batches)

    def run(self, num_batches: int) -> tuple[int, float]:
        """Train on ``num_batches`` batches; returns (examples, seconds), data loading included."""
        _common_sync(self.device)
        start = time.perf_counter()
        examples = 0
        for _ in range(num_batches):
            X, y = self._next()
            X, y = X.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.fast:
                X = X.contiguous(memory_format=torch.channels_last)
            self._step(X, y)
            examples += len(y)
        _common_sync(self.device)
        return examples, time.perf_counter() - start


def _common_sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv=None) -> None:
    p = _common.parser(__doc__.splitlines()[0])
    p.add_argument("--batch-size", type=int, default=None)
    args = p.parse_args(argv)
    device, smoke = _common.setup(args)
    load_before = _common.load_average()
    print(runtime.describe(device))
    gpu = device.type == "cuda"
    if smoke:
        size, batch, warmup_batches, timed_batches, rounds = 32, 8, 1, 2, 1
    elif gpu:
        size, batch, warmup_batches, timed_batches, rounds = 96, 128, 10, 50, 3
    else:
        # one batch per round, many rounds: on a shared machine interleaving matters more than run length
        size, batch, warmup_batches, timed_batches, rounds = 96, 64, 1, 1, 10
    batch = args.batch_size or batch
    workers = 4 if gpu else 0          # d2l starts 4 workers; on 2 CPU cores they would steal the compute
    torch.manual_seed(0)

    d2l_train, _ = data.classic_loaders(batch, resize=size, normalize=False, num_workers=workers,
                                        pin_memory=gpu)
    dev_train, _ = data.load_data_fashion_mnist(batch, resize=size, device=device, normalize=False)
    fast = gpu
    bc_ours = ours_bc()
    bc_tv = torchvision_bc()
    bc_tv.load_state_dict(bc_ours.state_dict(), strict=True)   # same weights, same architecture
    contenders = [
        Contender("d2l way", d2l_densenet_reference(image_size=size), d2l_train, device, fast=False),
        Contender("ours d2l_densenet", models.d2l_densenet(), dev_train, device, fast=fast),
        Contender("ours DenseNet-BC (k=32, 4/4/4/4)", bc_ours, dev_train, device, fast=fast),
        Contender("torchvision DenseNet-BC (k=32, 4/4/4/4)", bc_tv, dev_train, device, fast=fast),
    ]
    print(f"Fashion-MNIST {size}x{size}, batch {batch}: {warmup_batches} warm-up + {rounds} rounds x "
          f"{timed_batches} timed batches per model")
    for c in contenders:
        c.run(warmup_batches)
    rates: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(rounds):
        for c in contenders:
            n, s = c.run(timed_batches)
            rates[c.name].append(n / s)
    rows = []
    for c in contenders:
        rows.append({"name": c.name, "examples_per_s": statistics.median(rates[c.name]),
                     "examples_per_s_rounds": rates[c.name],
                     "parameters": sum(p.numel() for p in c.model.parameters()),
                     "pipeline": "torchvision DataLoader + Resize/ToTensor" if c.name == "d2l way"
                     else "dnet_lib.data.DeviceLoader",
                     "amp_channels_last_compile": c.fast})
    by = {r["name"]: r["examples_per_s"] for r in rows}
    ours_vs_d2l = by["ours d2l_densenet"] / by["d2l way"]
    ours_vs_tv = by["ours DenseNet-BC (k=32, 4/4/4/4)"] / by["torchvision DenseNet-BC (k=32, 4/4/4/4)"]
    def paired(a: str, b: str) -> float:
        """Median over rounds of a/b measured in the same round (robust to slow spells)."""
        return statistics.median(x / y for x, y in zip(rates[a], rates[b]))

    paired_ratios = {"ours_d2l_densenet_over_d2l_way": paired("ours d2l_densenet", "d2l way"),
                     "ours_bc_over_torchvision_bc": paired("ours DenseNet-BC (k=32, 4/4/4/4)",
                                                           "torchvision DenseNet-BC (k=32, 4/4/4/4)")}
    print(f"  {'model':<42} {'examples/s':>11}")
    for r in rows:
        print(f"  {r['name']:<42} {r['examples_per_s']:11.1f}")
    print(f"  ours d2l_densenet / d2l way: {ours_vs_d2l:.2f}x; ours BC / torchvision BC: {ours_vs_tv:.2f}x "
          f"(per-round paired medians: {paired_ratios['ours_d2l_densenet_over_d2l_way']:.2f}x, "
          f"{paired_ratios['ours_bc_over_torchvision_bc']:.2f}x)")

    results = {"image_size": size, "batch_size": batch, "warmup_batches": warmup_batches,
               "timed_batches_per_round": timed_batches, "rounds": rounds, "d2l_dataloader_workers": workers,
               "optimizer": "SGD lr=0.1", "rows": rows,
               "ratios": {"ours_d2l_densenet_over_d2l_way": ours_vs_d2l,
                          "ours_bc_over_torchvision_bc": ours_vs_tv},
               "paired_round_ratios_median": paired_ratios}
    goals = [
        _common.goal("ours d2l_densenet (device pipeline) / the d2l way, examples/s", round(ours_vs_d2l, 3),
                     ">= 1.0", ours_vs_d2l >= 1.0),
        _common.goal("our DenseNet class / torchvision's, same config, examples/s", round(ours_vs_tv, 3),
                     ">= 1.0", ours_vs_tv >= 1.0),
    ]
    notes = ["examples/s include data loading; median over interleaved rounds; goals use the ratio of the "
             "medians, paired_round_ratios_median gives the median of same-round ratios as a check",
             "d2l way: the d2l section's model code re-typed here (DenseNet is not in d2l.torch), "
             "torchvision FashionMNIST + Resize + ToTensor + DataLoader, fp32 eager loop"]
    if not gpu:
        notes.append("GPU figures: not yet measured (no GPU for this run); on the CPU ours runs fp32 eager "
                     "(no AMP/channels_last/compile) and the d2l DataLoader uses 0 workers")
    if smoke:
        notes.append("smoke run: tiny sizes, numbers mean nothing")
    path = _common.record("throughput", args, device, smoke, results, goals, notes, load_before)
    print("\nGoals:")
    _common.print_goals(goals)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()

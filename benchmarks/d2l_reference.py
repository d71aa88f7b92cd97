"""The d2l baseline, run with d2l's own code: the yardstick the benchmarks measure us against.

* ``d2l_densenet_reference``: the d2l section's DenseNet as d2l writes it (lazy BN/conv modules,
  biased convolutions, concatenation after every layer). d2l 1.0.3 ships no DenseNet in
  ``d2l.torch``, so its few lines are re-typed here; it has exactly the parameters of
  ``dnet_lib.models.d2l_densenet`` (tests/test_benchmarks.py checks).
* ``d2l_resnet18_reference``: the d2l section's ResNet-18 built from ``d2l.torch.Residual``.
* ``d2l_loaders``: ``d2l.load_data_fashion_mnist`` itself (torchvision dataset, ``Resize`` +
  ``ToTensor``, ``DataLoader``), pointed at the local Fashion-MNIST files. d2l hard-codes
  ``root="../data"`` with ``download=True``; ``torchvision_root`` builds that layout in a cache
  folder from the md5-checked files of ``dnet_lib.data`` and d2l is called from a folder whose
  ``../data`` is it.
* ``train_d2l``: ``d2l.train_ch6``'s loop (its Xavier init, plain SGD, cross-entropy,
  ``d2l.evaluate_accuracy_gpu`` after each epoch) without the plotting, with a time budget, and
  recording the test accuracy and training seconds after every epoch.

d2l is optional (``pip install --no-deps d2l==1.0.3``); ``available()`` says whether it is there.
"""
from __future__ import annotations

import contextlib
import gzip
import os
import shutil
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from dnet_lib import data, runtime
from dnet_lib.files import atomic_write


def available() -> bool:
    try:
        import d2l.torch  # noqa: F401
    except ImportError:
        return False
    return True


def _d2l():
    from d2l import torch as d2l
    return d2l


# --------------------------------------------------------------------------- d2l's networks
class DenseBlock(nn.Module):
    """d2l's dense block: BN-ReLU-3x3 conv layers, each output concatenated to its input."""

    def __init__(self, num_convs: int, num_channels: int):
        super().__init__()
        self.net = nn.Sequential(*[
            nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(),
                          nn.LazyConv2d(num_channels, kernel_size=3, padding=1))
            for _ in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


def _transition(num_channels: int) -> nn.Sequential:
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.LazyConv2d(num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def _b1() -> nn.Sequential:
    return nn.Sequential(nn.LazyConv2d(64, kernel_size=7, stride=2, padding=3), nn.LazyBatchNorm2d(),
                         nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))


def _head(num_classes: int) -> nn.Sequential:
    return nn.Sequential(nn.LazyBatchNorm2d(), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                         nn.LazyLinear(num_classes))


def _materialise(net: nn.Module, image_size: int) -> nn.Module:
    """Run one dry batch so the lazy modules get their shapes, then apply d2l's Xavier init."""
    net.eval()
    with torch.no_grad():
        net(torch.zeros(1, 1, image_size, image_size))
    net.train()
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return net


def d2l_densenet_reference(num_classes: int = 10, image_size: int = 96, num_channels: int = 64,
                           growth_rate: int = 32, arch=(4, 4, 4, 4)) -> nn.Sequential:
    blocks = [_b1()]
    for i, num_convs in enumerate(arch):
        blocks.append(DenseBlock(num_convs, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(arch) - 1:
            num_channels //= 2
            blocks.append(_transition(num_channels))
    return _materialise(nn.Sequential(*blocks, _head(num_classes)), image_size)


def d2l_resnet18_reference(num_classes: int = 10, image_size: int = 96) -> nn.Sequential:
    """d2l's ResNet-18: its b1 stem, four stages of two ``d2l.torch.Residual`` blocks, its head."""
    d2l = _d2l()
    stages = []
    for i, channels in enumerate((64, 128, 256, 512)):
        first = [d2l.Residual(channels, use_1x1conv=True, strides=2)] if i else [d2l.Residual(channels)]
        stages.append(nn.Sequential(*first, d2l.Residual(channels)))
    head = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.LazyLinear(num_classes))
    return _materialise(nn.Sequential(_b1(), *stages, head), image_size)


# --------------------------------------------------------------------------- d2l's data
def _d2l_root() -> Path:
    return Path(tempfile.gettempdir()) / "dnet_d2l" / "data"


def torchvision_root(root: str | os.PathLike, data_dir: str | os.PathLike | None = None) -> Path:
    """``root`` with FashionMNIST/raw/ holding the uncompressed IDX files torchvision reads.

    torchvision (download=False) reads only uncompressed files, so the md5-checked .gz files are
    decompressed once into ``root`` (never into the shared data folder).
    """
    root = Path(root)
    raw = root / "FashionMNIST" / "raw"
    folder = data.locate("fashion-mnist", download=False) if data_dir is None else Path(data_dir)
    for filename in data.DATASETS["fashion-mnist"]:
        if not (raw / filename[:-3]).exists():
            path = data.checked_file(folder, filename)
            with gzip.open(path, "rb") as fi:
                atomic_write(raw / filename[:-3], lambda fo: shutil.copyfileobj(fi, fo, 1 << 20))
    return root


@contextlib.contextmanager
def _cwd(path: Path):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def d2l_loaders(batch_size: int, resize: int | None, workers: int | None = None):
    """``d2l.load_data_fashion_mnist(batch_size, resize)`` on the local files.

    ``workers``: override d2l's 4 DataLoader workers (None keeps d2l's choice).
    """
    d2l = _d2l()
    root = _d2l_root()
    torchvision_root(root)                      # decompress the md5-checked files into root
    work = root.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    original = d2l.get_dataloader_workers
    if workers is not None:
        d2l.get_dataloader_workers = lambda: workers
    try:
        with _cwd(work):                        # d2l reads root="../data"
            return d2l.load_data_fashion_mnist(batch_size, resize=resize)
    finally:
        d2l.get_dataloader_workers = original


# --------------------------------------------------------------------------- d2l's loop
def train_d2l(net: nn.Module, train_iter, test_iter, lr: float, device: torch.device, *,
              time_budget_s: float | None = None, epochs: int = 10**9,
              max_batches: int | None = None, report_at_s: float | None = None) -> dict:
    """``d2l.train_ch6`` without its plot: per-epoch test accuracy and seconds of training.

    Stops after ``epochs``, or at the first step boundary after ``time_budget_s`` seconds of
    training (data loading included, evaluation excluded), then evaluates once more.
    ``report_at_s``: also evaluate (off the clock) at the first step boundary after that many
    seconds, e.g. the budget the other contenders had, while training goes on.
    """
    d2l = _d2l()
    net.apply(lambda m: nn.init.xavier_uniform_(m.weight)
              if type(m) in (nn.Linear, nn.Conv2d) else None)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    train_seconds, record, report = 0.0, [], None
    for epoch in range(epochs):
        metric = d2l.Accumulator(3)
        net.train()
        runtime.synchronize(device)
        start = time.perf_counter()
        out_of_time = False
        for i, (X, y) in enumerate(train_iter):
            elapsed = train_seconds + time.perf_counter() - start
            if (time_budget_s is not None and elapsed >= time_budget_s) \
                    or (max_batches is not None and i >= max_batches):
                out_of_time = True
                break
            if report_at_s is not None and report is None and elapsed >= report_at_s:
                runtime.synchronize(device)
                train_seconds += time.perf_counter() - start          # stop the clock
                report = {"train_seconds": train_seconds,
                          "test_acc": float(d2l.evaluate_accuracy_gpu(net, test_iter, device))}
                print(f"    d2l at {train_seconds:.1f} s: test acc {report['test_acc']:.4f}", flush=True)
                net.train()
                start = time.perf_counter()                             # and restart it
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], d2l.accuracy(y_hat, y), X.shape[0])
        runtime.synchronize(device)
        train_seconds += time.perf_counter() - start
        test_acc = d2l.evaluate_accuracy_gpu(net, test_iter, device)
        record.append({"epoch": epoch + 1, "examples": int(metric[2]),
                       "train_loss": float(metric[0] / max(metric[2], 1)),
                       "train_acc": float(metric[1] / max(metric[2], 1)),
                       "test_acc": float(test_acc), "train_seconds": train_seconds})
        print(f"    d2l epoch {epoch + 1}: test acc {test_acc:.4f} after {train_seconds:.1f} s of training",
              flush=True)
        if out_of_time:
            break
    return {"epochs": record, "final_test_acc": record[-1]["test_acc"],
            "train_seconds": train_seconds, "report": report}


def time_to_accuracy(points: list[dict], target: float) -> float | None:
    """Training seconds at the first evaluation (``{train_seconds, test_acc}``) >= ``target``."""
    points = sorted(points, key=lambda p: p["train_seconds"])
    return next((p["train_seconds"] for p in points if p["test_acc"] >= target), None)

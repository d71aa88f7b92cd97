"""dnet_lib.train and the CLI on real Fashion-MNIST, on the CPU."""
from __future__ import annotations

import itertools
import json
import math
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from dnet_lib import data, train
from dnet_lib.models import IMAGENET_STEM, DenseNet

REPO = Path(__file__).resolve().parents[1]
FASHION = data.locate("fashion-mnist", download=False)     # the set-up's copy; never downloads
THREADS = 1   # the same in every process, so results match bit for bit
torch.set_num_threads(THREADS)


def tiny_densenet() -> DenseNet:
    torch.manual_seed(0)
    return DenseNet(growth_rate=4, block_config=(1, 1), num_init_features=8, stem=IMAGENET_STEM,
                    in_channels=1, num_classes=10)


def small_loaders(n=384, batch_size=64, flip=True):
    return data.load_data_fashion_mnist(batch_size, device="cpu", data_dir=FASHION, subset=n,
                                        test_subset=200, flip=flip, seed=0)


def run(tmp, epochs, resume=False, on_epoch_end=None):
    train_iter, test_iter = small_loaders()
    model = tiny_densenet()
    history = train.fit(model, train_iter, test_iter, epochs=epochs, lr=0.05, optimizer="nesterov",
                        schedule="cosine", checkpoint_dir=tmp,
                        resume=resume, progress=False, on_epoch_end=on_epoch_end)
    return history, model


def assert_same_weights(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_short_training_beats_chance():
    torch.manual_seed(0)
    model = DenseNet(growth_rate=12, block_config=(2, 2), num_init_features=16, stem=IMAGENET_STEM,
                     in_channels=1, num_classes=10)
    train_iter, test_iter = data.load_data_fashion_mnist(128, device="cpu", data_dir=FASHION,
                                                         subset=12800, test_subset=2000)
    history = train.fit(model, train_iter, test_iter, epochs=1, lr=0.1, progress=False)
    assert history.epochs == 1 and history.steps == [100]
    assert history.final_test_acc > 0.70, history
    assert history.examples_per_s[0] > 0 and history.device == "cpu"


def test_resume_is_bit_identical(tmp_path):
    full, full_model = run(tmp_path / "full", epochs=2)
    # an exception after the first checkpoint, then resume
    def crash(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "crash", epochs=2, on_epoch_end=crash)
    resumed, crash_model = run(tmp_path / "crash", epochs=2, resume=True)
    assert_same_weights(full_model.state_dict(), crash_model.state_dict())
    assert resumed.train_loss == full.train_loss and resumed.test_acc == full.test_acc
    saved = train.load_checkpoint(tmp_path / "crash" / train.CHECKPOINT_NAME)
    assert saved["epoch"] == 2
    assert_same_weights(full_model.state_dict(), saved["model"])
    assert train.History.load(tmp_path / "crash" / "history.json").train_loss == full.train_loss


def test_resume_after_sigkill(tmp_path):
    """A real SIGKILL right after the first checkpoint, resumed in a fresh process."""
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys, torch
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import test_train as t
        from dnet_lib import train
        torch.set_num_threads({THREADS})
        def kill(epoch, history):
            if epoch == 1:
                os.kill(os.getpid(), signal.SIGKILL)
        t.run({str(tmp_path / 'run')!r}, epochs=2, resume=len(sys.argv) > 1,
              on_epoch_end=None if len(sys.argv) > 1 else kill)
    """))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    killed = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert killed.returncode == -9, killed.stderr
    assert train.load_checkpoint(tmp_path / "run" / train.CHECKPOINT_NAME)["epoch"] == 1
    resumed = subprocess.run([sys.executable, str(script), "resume"], env=env, capture_output=True,
                             text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    _, full_model = run(tmp_path / "full", epochs=2)
    saved = train.load_checkpoint(tmp_path / "run" / train.CHECKPOINT_NAME)
    assert saved["epoch"] == 2
    assert_same_weights(full_model.state_dict(), saved["model"])


class InfModel(nn.Module):
    def __init__(self, bad_from_step: int):
        super().__init__()
        self.linear = nn.Linear(784, 10)
        self.calls, self.bad_from_step = 0, bad_from_step

    def forward(self, x):
        self.calls += 1
        out = self.linear(x.flatten(1))
        return out * float("inf") if self.calls >= self.bad_from_step else out


def test_nan_loss_stops_and_keeps_checkpoint(tmp_path):
    train_iter, test_iter = small_loaders(n=256, flip=False)   # 4 steps per epoch
    model = InfModel(bad_from_step=7)                          # epoch 2, step 3
    with pytest.raises(train.NonFiniteLossError, match="epoch 2, step 3") as info:
        train.fit(model, train_iter, None, epochs=3, lr=0.1, checkpoint_dir=tmp_path, progress=False)
    assert isinstance(info.value, FloatingPointError) and info.value.epoch == 2 and info.value.step == 3
    saved = train.load_checkpoint(tmp_path / train.CHECKPOINT_NAME)
    assert saved["epoch"] == 1 and all(torch.isfinite(v).all() for v in saved["model"].values())
    # a huge learning rate on a real DenseNet diverges too
    with pytest.raises(train.NonFiniteLossError, match="non-finite"):
        train.fit(tiny_densenet(), train_iter, None, epochs=3, lr=1e30, momentum=0.0, progress=False)


class Foreign:
    """Not something a checkpoint holds: weights_only loading must refuse it."""


@pytest.mark.parametrize("damage", ["truncated", "foreign pickle", "foreign tensor"])
def test_damaged_or_foreign_checkpoint_names_the_file(tmp_path, damage):
    run(tmp_path, epochs=1)
    path = tmp_path / train.CHECKPOINT_NAME
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "foreign pickle":
        path.write_bytes(pickle.dumps(Foreign()))
    else:
        torch.save(torch.zeros(3), path)            # loads with weights_only, but is no checkpoint
    with pytest.raises(train.CheckpointError) as info:
        run(tmp_path, epochs=2, resume=True)
    message = str(info.value)
    assert str(path) in message and "Delete" in message and "without resume" in message
    assert "weights_only" not in message and info.value.__cause__ is None
    assert isinstance(info.value, ValueError)        # the CLI prints it as a plain error
    # the CLI says the same in one line, with no traceback
    cmd = [sys.executable, "-m", "dnet_tools.train_cli", "train", "--model", "densenet_cifar", "--model-arg", "depth=10",
           "--model-arg", "growth_rate=4", "--epochs", "2", "--batch-size", "32", "--data-dir", str(FASHION),
           "--subset", "64", "--test-subset", "32", "--out", str(tmp_path), "--resume", "--threads", "1",
           "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 2 and str(path) in result.stderr and "Traceback" not in result.stderr
    assert "weights_only" not in result.stderr


def test_checkpoint_of_another_model_is_refused(tmp_path):
    run(tmp_path, epochs=1)
    train_iter, _ = small_loaders()
    other = DenseNet(growth_rate=6, block_config=(1, 1), num_init_features=8, stem=IMAGENET_STEM,
                     in_channels=1, num_classes=10)
    with pytest.raises(train.CheckpointError, match="does not fit this model"):
        train.fit(other, train_iter, None, epochs=2, checkpoint_dir=tmp_path, resume=True,
                  progress=False)


def test_time_budget_stops_in_time_and_schedules_by_time(monkeypatch):
    train_iter, test_iter = small_loaders(n=2560, batch_size=64)    # 40 steps per epoch
    lrs = []

    class Recorder(nn.Module):
        """tiny_densenet that records the lr of every step it trains on."""

        def __init__(self):
            super().__init__()
            self.net = tiny_densenet()

        def forward(self, x):
            if self.training:
                lrs.append(optimizers[0].param_groups[0]["lr"])
            return self.net(x)

    optimizers = []
    original = train.loop.make_optimizer
    monkeypatch.setattr(train.loop, "make_optimizer",
                        lambda *args: optimizers.append(original(*args)) or optimizers[-1])
    history = train.fit(Recorder(), train_iter, test_iter, time_budget_s=1.5, schedule="one_cycle",
                        lr=0.05, optimizer="adamw", label_smoothing=0.1, test_flip=True, progress=False)
    seconds = sum(history.train_time)
    step = seconds / sum(history.steps)
    assert 1.5 <= seconds <= 1.5 + 3 * step + 0.2, (seconds, step)
    assert history.config["time_budget_s"] == 1.5 and history.config["epochs"] is None
    assert history.test_acc[-1] is not None and len(lrs) == sum(history.steps)
    # one-cycle over elapsed time: starts at lr/25, rises, ends near zero
    assert lrs[0] < 0.1 * 0.05 and max(lrs) > 0.5 * 0.05 and lrs[-1] < 0.2 * 0.05


def test_lr_factor_shapes():
    assert train.lr_factor("cosine", 0) == 1 and train.lr_factor("cosine", 1) == pytest.approx(0)
    assert [train.lr_factor("step", p) for p in (0.49, 0.5, 0.8)] == pytest.approx([1, 0.1, 0.01])
    assert train.lr_factor("one_cycle", 0) == pytest.approx(0.04)
    assert train.lr_factor("one_cycle", train.ONE_CYCLE_WARMUP) == pytest.approx(1)
    assert train.lr_factor("one_cycle", 1) == pytest.approx(0) and train.lr_factor("none", 0.7) == 1
    assert train.lr_factor("one_cycle", 2.0) == train.lr_factor("one_cycle", 1.0)   # clamped


def test_test_flip_averages_an_image_and_its_mirror():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2)).eval()
    x = torch.randn(8, 1, 4, 4)
    y = (model(x) + model(x.flip(-1))).argmax(1)
    flipped_truth = [(x, y)]
    assert train.evaluate(model, flipped_truth, test_flip=True) == 1.0
    plain = (model(x).argmax(1) == y).float().mean().item()
    assert train.evaluate(model, flipped_truth) == pytest.approx(plain)


def test_time_to_accuracy_over_a_history():
    """benchmarks/time_to_accuracy.py: seconds of training until the first test accuracy >= target."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("d2l_reference", REPO / "benchmarks" / "d2l_reference.py")
    d2l_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(d2l_reference)
    h = train.History()
    for acc, seconds in [(0.80, 10.0), (0.85, 10.0), (0.91, 12.0), (0.95, 5.0)]:
        h.append(train_loss=1.0, train_acc=0.5, test_acc=acc, examples_per_s=1.0, train_time=seconds,
                 epoch_time=seconds + 1, steps=1)
    points = [{"test_acc": a, "train_seconds": s}
              for a, s in zip(h.test_acc, itertools.accumulate(h.train_time))]
    assert [p["train_seconds"] for p in points] == [10.0, 20.0, 32.0, 37.0]
    assert d2l_reference.time_to_accuracy(points, 0.90) == 32.0
    assert d2l_reference.time_to_accuracy(points, 0.99) is None


def test_argument_validation():
    train_iter, _ = small_loaders(n=100)
    model = tiny_densenet()
    for kwargs, name in [({"epochs": 0}, "epochs"), ({"epochs": 1, "lr": 0}, "lr"),
                         ({"epochs": 1, "optimizer": "lion"}, "optimizer"),
                         ({"epochs": 1, "schedule": "linear"}, "schedule"),
                         ({"epochs": 1, "momentum": 1.5}, "momentum"),
                         ({"epochs": 1, "label_smoothing": -0.1}, "label_smoothing"),
                         ({"epochs": 1, "resume": True}, "resume"), ({}, "epochs"),
                         ({"time_budget_s": 0}, "time_budget_s"),
                         ({"time_budget_s": math.inf}, "time_budget_s")]:
        with pytest.raises(ValueError, match=name):
            train.fit(model, train_iter, None, progress=False, **kwargs)


def test_history_roundtrip(tmp_path):
    h = train.History({"lr": 0.1}, "cpu")
    h.append(train_loss=1.0, train_acc=0.5, test_acc=None, examples_per_s=10.0, train_time=1.5,
             epoch_time=2.0, steps=3)
    h.append(train_loss=0.5, train_acc=0.7, test_acc=0.68, examples_per_s=12.0, train_time=2.0,
             epoch_time=2.5, steps=3)
    h.save(tmp_path / "h.json")
    back = train.History.load(tmp_path / "h.json")
    assert back.to_dict() == h.to_dict() and back.wall_time == 4.5 and back.final_test_acc == 0.68
    assert "2 epochs" in repr(back) and "0.680" in repr(back)


def test_cli_train(tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "dnet_tools.train_cli", "train", "--model", "densenet_cifar", "--model-arg", "depth=10",
           "--model-arg", "growth_rate=4", "--epochs", "1", "--batch-size", "32", "--data-dir", str(FASHION),
           "--subset", "320", "--test-subset", "100", "--out", str(out), "--max-steps", "5",
           "--threads", "1", "--no-progress"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    history = json.loads((out / "history.json").read_text())
    assert history["steps"] == [5] and history["config"]["model"] == "densenet_cifar"
    assert 0 <= history["test_acc"][0] <= 1
    help_text = subprocess.run([sys.executable, "-m", "dnet_tools.train_cli", "train", "--help"],
                               capture_output=True, text=True, timeout=60, cwd=REPO).stdout
    assert "d2l_densenet" in help_text and "resnet18" in help_text
    bad = subprocess.run(cmd + ["--lr", "-1"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert bad.returncode == 2 and "lr must be" in bad.stderr


DDP_SCRIPT = """
import os, sys, torch, torch.distributed as dist
sys.path.insert(0, {tests!r})
import test_train as t
from dnet_lib import train
torch.set_num_threads(1)
dist.init_process_group("gloo")
train_iter, test_iter = t.small_loaders(n=512, flip=True)
model = t.tiny_densenet()
history = train.fit(model, train_iter, test_iter, epochs=2, lr=0.05, progress=False,
                    checkpoint_dir={out!r})
torch.save(model.state_dict(), os.path.join({out!r}, f"rank{{dist.get_rank()}}.pt"))
assert history.steps == [4, 4], history.steps
dist.destroy_process_group()
"""


def test_ddp_gloo_two_processes(tmp_path):
    script = tmp_path / "ddp.py"
    out = tmp_path / "out"
    out.mkdir()
    script.write_text(DDP_SCRIPT.format(tests=str(Path(__file__).parent), out=str(out)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
                             "--standalone", str(script)], capture_output=True, text=True, timeout=180,
                            env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(out / "rank0.pt", weights_only=True)
    rank1 = torch.load(out / "rank1.pt", weights_only=True)
    assert_same_weights(rank0, rank1)
    saved = train.load_checkpoint(out / train.CHECKPOINT_NAME)
    assert_same_weights(rank0, saved["model"])
    history = train.History.load(out / "history.json")
    assert history.config["world_size"] == 2 and history.epochs == 2
    assert 0 < history.test_acc[-1] <= 1

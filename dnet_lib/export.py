"""The reference DenseNet and ResNet (seed 0) as ONNX files that show their inner feature maps.

``python -m dnet_lib.export`` writes, into ``book/results/onnx/``:

* ``densenet.onnx`` and ``resnet.onnx``: the trained networks of ``reference.load_model``,
  taking raw pixels in [0, 1] of shape (N, 1, 28, 28) (the training set's normalisation is in
  the graph) and returning the logits, the probabilities and the maps the live page draws:
  each dense layer's k new maps and each block's concatenated stack (DenseNet), the stem's
  output and each residual block's output relu(x + F(x)) (ResNet);
* ``live_networks.json``: provenance (device, date, command, versions), the outputs' names and
  shapes, 50 Fashion-MNIST test images (5 per class, the first of each class in the test set)
  and PyTorch's probabilities and predictions for them (one plain forward pass, no flip).

The maps come from ``Taps``, which runs the model's own submodules in order and keeps the
intermediates, so the networks themselves stay unchanged. ``tests/test_export.py`` checks that
onnxruntime gives the same numbers as PyTorch (to 1e-4) on 64 test images.
"""
from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import io
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from . import data, reference, results, validate
from .files import atomic_write, atomic_write_json

__all__ = ["RUNS", "IMAGES_PER_CLASS", "OPSET", "Taps", "taps", "pixel_stats", "page_images",
           "onnx_bytes", "export", "load_record", "decode_images", "main"]

RUNS = {"densenet": "densenet-s0", "resnet": "resnet-s0"}     # network -> reference run
IMAGES_PER_CLASS = 5
OPSET = 17
RECORD = "live_networks.json"


class Taps(nn.Module):
    """``model``'s forward pass on raw pixels, returning its intermediate maps as well.

    ``forward`` returns a tuple in the order of ``self.names``: "logits", "probabilities", then
    the maps. DenseNet: "denseblockB.denselayerL" (the layer's new maps) and "denseblockB" (the
    block's output, the concatenation). ResNet: "stem" and "layerS.J" (block J's output).
    """

    def __init__(self, model: nn.Module, mean: float, std: float):
        super().__init__()
        self.model = model.eval()
        self.register_buffer("mean", torch.tensor(float(mean)))
        self.register_buffer("std", torch.tensor(float(std)))
        self.dense = hasattr(model, "features")
        with torch.no_grad():
            maps = self._maps(torch.zeros(1, 1, 28, 28))
        self.names = ["logits", "probabilities"] + [n for n in maps if n != "logits"]
        self.eval()        # the exporter restores this mode afterwards: it must be eval too

    def _maps(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (pixels - self.mean) / self.std
        maps: dict[str, torch.Tensor] = {}
        if self.dense:
            for name, module in self.model.features.named_children():
                if name.startswith("denseblock"):
                    features = [x]
                    for layer_name, layer in module.items():
                        features.append(layer(features))
                        maps[f"{name}.{layer_name}"] = features[-1]
                    x = maps[name] = torch.cat(features, 1)
                else:
                    x = module(x)
            x = F.relu(x)
            head = self.model.classifier
            pooled = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        else:
            m = self.model
            x = maps["stem"] = m.maxpool(m.relu(m.bn1(m.conv1(x))))
            stage = 1
            while hasattr(m, f"layer{stage}"):
                for j, block in enumerate(getattr(m, f"layer{stage}")):
                    x = maps[f"layer{stage}.{j}"] = block(x)
                stage += 1
            head, pooled = m.fc, torch.flatten(m.avgpool(x), 1)
        maps["logits"] = head(pooled)
        return maps

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self._maps(pixels)
        logits = maps.pop("logits")
        return (logits, torch.softmax(logits, 1), *maps.values())


@functools.lru_cache(maxsize=1)
def pixel_stats() -> tuple[float, float]:
    """Mean and std of the Fashion-MNIST training pixels in [0, 1]: the reference runs' input
    normalisation (``data.load_data_fashion_mnist(normalize=True)``)."""
    pixels = data.load_fashion_mnist(train=True).images.double() / 255.0
    return pixels.mean().item(), pixels.std().item()


def taps(network: str, folder=None) -> Taps:
    """The ``Taps`` of the committed reference network ("densenet" or "resnet", seed 0)."""
    validate.check_choice("network", network, RUNS)
    return Taps(reference.load_model(RUNS[network], folder), *pixel_stats())


def page_images(per_class: int = IMAGES_PER_CLASS) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the test set (the first ``per_class`` images of each class, by class) and
    those images as uint8 (N, 28, 28)."""
    validate.check_int("per_class", per_class, 1, 100)
    labels = data.load_fashion_mnist(train=False).labels
    index = torch.cat([torch.nonzero(labels == c).flatten()[:per_class] for c in range(10)])
    return index, data.load_fashion_mnist(train=False).images[index]


def onnx_bytes(module: Taps) -> bytes:
    """``module`` exported with the TorchScript-based exporter (no onnxscript needed)."""
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in ["pixels", *module.names]}
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated, but the new one needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(module, (torch.zeros(1, 1, 28, 28),), buffer, dynamo=False,
                          input_names=["pixels"], output_names=module.names,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    return buffer.getvalue()


def export(out: str | Path | None = None, weights_folder=None) -> Path:
    """Write both ONNX files and the record into ``out`` (default book/results/onnx)."""
    out = Path(out) if out is not None else results.results_dir() / "onnx"
    index, images = page_images()
    pixels = images.unsqueeze(1).float() / 255.0
    labels = data.load_fashion_mnist(train=False).labels[index]
    record = results.environment(torch.device("cpu"))
    record.update(command="python -m dnet_lib.export", opset=OPSET,
                  versions=dict(record["versions"], onnx_exporter="torch.onnx (TorchScript)"),
                  classes=list(data.FASHION_MNIST_CLASSES), networks={},
                  images={"test_indices": index.tolist(), "labels": labels.tolist(),
                          "shape": list(images.shape), "dtype": "uint8",
                          "pixels_base64": base64.b64encode(images.numpy().tobytes()).decode()},
                  notes=["Inputs are raw pixels in [0, 1]; the graph normalises them with the "
                         "training set's mean and std, as the reference runs did.",
                         "Predictions: one forward pass of each image (the accuracy in "
                         "reference_cpu.json averages each image with its mirror image)."])
    for network, run_id in RUNS.items():
        module = taps(network, weights_folder)
        blob = onnx_bytes(module)
        if any(m.training for m in module.modules()):
            raise RuntimeError("the exporter left the network in training mode")
        atomic_write(out / f"{network}.onnx", lambda f: f.write(blob))
        with torch.no_grad():
            outputs = dict(zip(module.names, module(pixels)))
        record["networks"][network] = {
            "run": run_id, "file": f"{network}.onnx", "bytes": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(), "mean": module.mean.item(),
            "std": module.std.item(),
            "outputs": {n: list(t.shape[1:]) for n, t in outputs.items()},
            "probabilities": [[round(p, 6) for p in row]
                              for row in outputs["probabilities"].tolist()],
            "predictions": outputs["logits"].argmax(1).tolist()}
    return atomic_write_json(out / RECORD, record)


def load_record(folder: str | Path | None = None) -> dict:
    """The committed ``live_networks.json`` (see ``export``)."""
    folder = Path(folder) if folder is not None else results.results_dir() / "onnx"
    return results.load(folder / RECORD)


def decode_images(record: dict) -> torch.Tensor:
    """The record's test images as uint8 (N, 28, 28)."""
    raw = base64.b64decode(record["images"]["pixels_base64"])
    return torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(record["images"]["shape"])


def main(argv=None) -> Path:
    p = argparse.ArgumentParser(prog="python -m dnet_lib.export",
                                description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="folder (default book/results/onnx)")
    args = p.parse_args(argv)
    path = export(args.out)
    print(f"wrote {path} and the ONNX files beside it")
    return path


if __name__ == "__main__":
    main()

"""The live page's ONNX files: ``python -m dnet_tools.onnx_export [--out FOLDER]``.

Writes, into ``book/results/onnx/``:

* ``densenet.onnx`` and ``resnet.onnx``: ``dnet_lib.live.Taps`` of the trained networks of
  ``reference.load_model``, taking raw pixels in [0, 1] of shape (N, 1, 28, 28) (the training
  set's normalisation is in the graph) and returning the logits, the probabilities and the maps
  the live page draws: each dense layer's k new maps and each block's concatenated stack
  (DenseNet), the stem's output and each residual block's output relu(x + F(x)) (ResNet);
* ``live_networks.json``: provenance (device, date, command, versions), the outputs' names and
  shapes, 50 Fashion-MNIST test images (5 per class, the first of each class in the test set)
  and PyTorch's probabilities and predictions for them (one plain forward pass, no flip).

``tests/test_export.py`` checks that onnxruntime gives the same numbers as PyTorch (to 1e-4).
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import warnings
from pathlib import Path

import torch

from dnet_lib import data, live, results, validate
from dnet_lib.files import atomic_write

from . import machine

__all__ = ["IMAGES_PER_CLASS", "OPSET", "page_images", "onnx_bytes", "export", "main"]

IMAGES_PER_CLASS = 5
OPSET = 17
COMMAND = "python -m dnet_tools.onnx_export"


def page_images(per_class: int = IMAGES_PER_CLASS) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices into the test set (the first ``per_class`` images of each class, by class) and
    those images as uint8 (N, 28, 28)."""
    validate.check_int("per_class", per_class, 1, 100)
    test = data.load_fashion_mnist(train=False)
    index = torch.cat([torch.nonzero(test.labels == c).flatten()[:per_class] for c in range(10)])
    return index, test.images[index]


def onnx_bytes(module: live.Taps) -> bytes:
    """``module`` exported with the TorchScript-based exporter (no onnxscript needed)."""
    buffer = io.BytesIO()
    axes = {name: {0: "batch"} for name in ["pixels", *module.names]}
    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter is deprecated, but the new one needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        # the models' input checks read the traced shape: true for every 28x28 batch
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(module, (torch.zeros(1, 1, 28, 28),), buffer, dynamo=False,
                          input_names=["pixels"], output_names=module.names,
                          dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
    return buffer.getvalue()


def export(out: str | Path | None = None) -> Path:
    """Write both ONNX files and the record into ``out`` (default book/results/onnx); returns
    the record's path."""
    out = Path(out) if out is not None else results.results_dir() / "onnx"
    index, images = page_images()
    pixels = images.unsqueeze(1).float() / 255.0
    labels = data.load_fashion_mnist(train=False).labels[index]
    record = machine.environment("cpu")
    record.update(command=COMMAND, opset=OPSET,
                  versions=dict(record["versions"], onnx_exporter="torch.onnx (TorchScript)"),
                  classes=list(data.FASHION_MNIST_CLASSES), networks={},
                  images={"test_indices": index.tolist(), "labels": labels.tolist(),
                          "shape": list(images.shape), "dtype": "uint8",
                          "pixels_base64": base64.b64encode(images.numpy().tobytes()).decode()},
                  notes=["Inputs are raw pixels in [0, 1]; the graph normalises them with the "
                         "training set's mean and std, as the reference runs did.",
                         "Predictions: one forward pass of each image (the accuracy in "
                         "reference_cpu.json averages each image with its mirror image)."])
    for network, run_id in live.RUNS.items():
        module = live.taps(network)
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
    return machine.write_record(out / live.RECORD, record)


def main(argv=None) -> Path:
    """Export into ``--out`` (default book/results/onnx) and return the record's path."""
    p = argparse.ArgumentParser(prog=COMMAND, description=__doc__.split("\n")[0])
    p.add_argument("--out", default=None, help="folder (default book/results/onnx)")
    path = export(p.parse_args(argv).out)
    print(f"wrote {path} and the ONNX files beside it")
    return path


if __name__ == "__main__":
    main()

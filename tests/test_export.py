"""The ONNX files of the live page compute what PyTorch computes (onnxruntime on the CPU);
dnet_tools.onnx_export writes them."""
from __future__ import annotations

import base64
import hashlib

import numpy as np
import pytest
import torch

from dnet_lib import data, live, reference, results
from dnet_tools import onnx_export

ort = pytest.importorskip("onnxruntime")      # a test dependency (requirements.txt)

ONNX = results.results_dir() / "onnx"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def record():
    return live.load_record()


@pytest.fixture(scope="module")
def pixels():
    """64 test images, 6 or 7 of each class, as the networks' input (raw pixels in [0, 1])."""
    index, images = onnx_export.page_images(per_class=7)
    return images[:64].unsqueeze(1).float() / 255.0


def _session(network: str):
    return ort.InferenceSession(str(ONNX / f"{network}.onnx"), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("network", list(live.RUNS))
def test_onnxruntime_matches_pytorch_on_64_images(network, pixels, record):
    taps = live.taps(network)
    with torch.no_grad():
        expected = dict(zip(taps.names, taps(pixels)))
    session = _session(network)
    names = [o.name for o in session.get_outputs()]
    assert names == taps.names
    got = dict(zip(names, session.run(None, {"pixels": pixels.numpy()})))
    for name in names:
        assert got[name].shape == tuple(expected[name].shape), name
        np.testing.assert_allclose(got[name], expected[name].numpy(), rtol=0, atol=TOLERANCE,
                                   err_msg=f"{network}: output {name}")
    # Taps runs the model's own modules: its logits are the model's own forward pass
    model = reference.load_model(live.RUNS[network])
    (mean,), (std,) = data.dataset_stats(data.load_fashion_mnist(train=True).images)
    with torch.no_grad():
        torch.testing.assert_close(expected["logits"], model((pixels - mean) / std),
                                   rtol=0, atol=1e-5)
    assert {n: list(t.shape[1:]) for n, t in expected.items()} == \
        record["networks"][network]["outputs"]


def test_the_maps_are_the_ones_the_page_explains():
    dense, res = live.taps("densenet"), live.taps("resnet")
    with torch.no_grad():
        d = dict(zip(dense.names, dense(torch.rand(2, 1, 28, 28))))
        r = dict(zip(res.names, res(torch.rand(2, 1, 28, 28))))
    block = reference.load_model("densenet-s0").features.denseblock1
    layers = [f"denseblock1.{name}" for name in block]
    # the block's output is its input followed by every layer's k new maps, in order
    k = block.growth_rate
    stack = d["denseblock1"]
    assert stack.shape[1] == block.in_channels + len(layers) * k
    for i, name in enumerate(layers):
        start = block.in_channels + i * k
        torch.testing.assert_close(stack[:, start:start + k], d[name], rtol=0, atol=0)
    # a residual stage keeps its width: each block's output replaces the maps before it
    assert r["stem"].shape == r["layer1.0"].shape == r["layer1.1"].shape
    assert (r["layer1.1"] >= 0).all()                  # relu(x + F(x))
    torch.testing.assert_close(d["probabilities"].sum(1), torch.ones(2))


def test_committed_record_matches_the_files_and_pytorch(record):
    raw = bytearray(base64.b64decode(record["images"]["pixels_base64"]))
    images = torch.frombuffer(raw, dtype=torch.uint8).reshape(record["images"]["shape"])
    test = data.load_fashion_mnist(train=False)
    index = torch.tensor(record["images"]["test_indices"])
    assert images.shape == (50, 28, 28) and torch.equal(images, test.images[index])
    labels = record["images"]["labels"]
    assert labels == test.labels[index].tolist()
    assert sorted(labels) == sorted(list(range(10)) * 5)            # 5 of each class
    for key in ("device", "date", "command", "versions"):
        assert record[key], key
    pixels = images.unsqueeze(1).float() / 255.0
    for network, info in record["networks"].items():
        blob = (ONNX / info["file"]).read_bytes()
        assert hashlib.sha256(blob).hexdigest() == info["sha256"]
        assert 100_000 < len(blob) < 1_000_000, f"{info['file']} is {len(blob)} bytes"
        taps = live.taps(network)
        with torch.no_grad():
            probabilities = taps(pixels)[1]
        np.testing.assert_allclose(info["probabilities"], probabilities.numpy(), atol=1e-5)
        assert info["predictions"] == probabilities.argmax(1).tolist()
        accuracy = np.mean(np.array(info["predictions"]) == np.array(labels))
        assert accuracy >= 0.8, f"{network} gets only {accuracy:.2f} of the page's images right"


def test_export_writes_a_fresh_copy(tmp_path, record):
    path = onnx_export.main(["--out", str(tmp_path)])
    fresh = live.load_record(tmp_path)
    for network in live.RUNS:
        assert fresh["networks"][network]["predictions"] == \
            record["networks"][network]["predictions"]
        session = ort.InferenceSession(str(path.parent / f"{network}.onnx"),
                                       providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()][:2] == ["logits", "probabilities"]


def test_bad_network_name_is_named():
    with pytest.raises(ValueError, match="network"):
        live.taps("vgg")

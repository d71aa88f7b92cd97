"""dnet_lib.data on the real offline Fashion-MNIST and house-price files.

The files come from the set-up (``make data``: ``$DNET_DATA_DIR``, ``../shared/data`` or
``data/``); these tests never download. The download path itself is tested against a local
HTTP server on 127.0.0.1 that serves those same files.
"""
from __future__ import annotations

import functools
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from dnet_lib import data

try:
    FASHION = data.locate("fashion-mnist", download=False)
    HOUSE = data.locate("house-prices", download=False)
    _MISSING = None
except data.DataError as err:
    FASHION = HOUSE = Path("/nonexistent")
    _MISSING = str(err)


@pytest.fixture(autouse=True)
def _data_from_the_setup():
    """Without the set-up's data every test here fails, saying which command provides it."""
    if _MISSING:
        pytest.fail(_MISSING, pytrace=False)

torch.set_num_threads(1)   # faster than 2 on a busy 2-core machine


def test_fashion_mnist_real_counts():
    train = data.load_fashion_mnist(True, FASHION)
    test = data.load_fashion_mnist(False, FASHION)
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert torch.bincount(train.labels).tolist() == [6000] * 10
    assert torch.bincount(test.labels).tolist() == [1000] * 10
    assert int(train.images.min()) == 0 and int(train.images.max()) == 255
    assert len(data.FASHION_MNIST_CLASSES) == 10
    # the same pixels torchvision's own IDX reader gives (first and last image)
    from torchvision.datasets.mnist import read_image_file
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "t10k-images-idx3-ubyte"
        raw.write_bytes(gzip.open(FASHION / "t10k-images-idx3-ubyte.gz").read())
        assert torch.equal(read_image_file(str(raw)), test.images)


def test_md5_missing_and_corrupt(tmp_path):
    for name in data.DATASETS["fashion-mnist"]:
        if "t10k" in name:
            shutil.copy(FASHION / name, tmp_path / name)
    images = tmp_path / "t10k-images-idx3-ubyte.gz"
    blob = bytearray(images.read_bytes())
    blob[1000] ^= 0xFF
    images.write_bytes(bytes(blob))
    with pytest.raises(data.DataError, match="t10k-images-idx3-ubyte.gz.*bef4ecab320f06d8554ea6380940ec79"):
        data.load_fashion_mnist(False, tmp_path)
    images.unlink()
    with pytest.raises(data.DataError, match="missing file .*t10k-images.*bef4ecab320f06d8554ea6380940ec79"):
        data.load_fashion_mnist(False, tmp_path)


def test_device_loader_shapes_normalisation_and_order():
    train = data.load_fashion_mnist(True, FASHION)
    images, labels = train.images[:1000], train.labels[:1000]
    loader = data.DeviceLoader(images, labels, 128, resize=96, mean=0.5, std=0.25, device="cpu", seed=3)
    assert len(loader) == 8
    batches = list(loader)
    assert batches[0][0].shape == (128, 1, 96, 96) and batches[-1][0].shape == (1000 - 7 * 128, 1, 96, 96)
    assert batches[0][0].dtype == torch.float32 and batches[0][1].dtype == torch.int64
    # normalisation: (x/255 - 0.5)/0.25 maps [0, 255] into [-2, 2]; 0 -> -2 exactly
    x = torch.cat([b[0] for b in batches])
    assert x.min().item() == pytest.approx(-2.0) and x.max().item() <= 2.0 + 1e-5
    # every example exactly once, order seeded and different per epoch
    order0 = loader.indices(0)
    assert sorted(order0.tolist()) == list(range(1000))
    assert torch.equal(torch.cat([b[1] for b in batches]), labels[order0])
    assert not torch.equal(order0, loader.indices(1))
    again = data.DeviceLoader(images, labels, 128, device="cpu", seed=3)
    assert torch.equal(again.indices(0), order0)
    assert not torch.equal(data.DeviceLoader(images, labels, 128, device="cpu", seed=4).indices(0), order0)
    # no resize, no normalisation: the exact pixels / 255
    plain = data.DeviceLoader(images, labels, 1000, shuffle=False, device="cpu", drop_last=True)
    (xb, yb), = list(plain)
    assert torch.equal((xb * 255).round(), images.unsqueeze(1).float()) and torch.equal(yb, labels)
    assert len(data.DeviceLoader(images, labels, 300, device="cpu", drop_last=True)) == 3


def test_device_loader_flip_crop_and_shards():
    train = data.load_fashion_mnist(True, FASHION)
    images, labels = train.images[:256], train.labels[:256]
    loader = data.DeviceLoader(images, labels, 256, shuffle=False, flip=True, device="cpu")
    (x, _), = list(loader)
    x = (x * 255).round()
    original = images.unsqueeze(1).float()
    flipped = torch.tensor([torch.equal(a, b.flip(-1)) and not torch.equal(a, b) for a, b in zip(x, original)])
    kept = torch.tensor([torch.equal(a, b) for a, b in zip(x, original)])
    assert bool((flipped | kept).all()) and 80 < int(flipped.sum()) < 176
    from dnet_tools.cifar import RandomCrop      # the training CLI's augment
    cropped = data.DeviceLoader(images, labels, 256, shuffle=False, augment=RandomCrop(2),
                                device="cpu")
    (xc, _), = list(cropped)
    xc = (xc * 255).round()
    assert xc.shape == (256, 1, 28, 28) and not torch.equal(xc, original)
    assert torch.equal(xc.sum((1, 2, 3)) <= original.sum((1, 2, 3)) + 1e-3, torch.ones(256, dtype=torch.bool))
    # two ranks: disjoint halves of the same permutation
    shards = [data.DeviceLoader(images[:250], labels[:250], 32, device="cpu") for _ in range(2)]
    for rank, shard in enumerate(shards):
        shard.set_shard(rank, 2)
    a, b = shards[0].indices(0), shards[1].indices(0)
    assert len(a) == len(b) == 125 and set(a.tolist()).isdisjoint(b.tolist())
    with pytest.raises(ValueError, match="batch_size"):
        data.DeviceLoader(images, labels, 0)


def test_balanced_subset_and_convenience_loader():
    tr, te = data.load_data_fashion_mnist(100, device="cpu", data_dir=FASHION, subset=0.05, seed=1,
                                          test_subset=500)
    assert len(tr.labels) == 3000 and torch.bincount(tr.labels).tolist() == [300] * 10
    assert torch.bincount(te.labels).tolist() == [50] * 10
    tr2, _ = data.load_data_fashion_mnist(100, device="cpu", data_dir=FASHION, subset=0.05, seed=2)
    assert not torch.equal(tr.images, tr2.images)
    x, y = next(iter(tr))
    assert x.shape == (100, 1, 28, 28)
    with pytest.raises(ValueError, match="subset"):
        data.load_data_fashion_mnist(100, device="cpu", data_dir=FASHION, subset=1.5)


def test_the_d2l_baselines_torchvision_layout_holds_the_same_data(tmp_path):
    """benchmarks/d2l_reference.py decompresses the checked files for torchvision's FashionMNIST."""
    import importlib.util
    import torchvision
    spec = importlib.util.spec_from_file_location(
        "d2l_reference", Path(__file__).parents[1] / "benchmarks" / "d2l_reference.py")
    d2l_reference = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(d2l_reference)
    root = d2l_reference.torchvision_root(tmp_path, FASHION)
    ours = data.load_fashion_mnist(False, FASHION)
    theirs = torchvision.datasets.FashionMNIST(str(root), train=False)
    assert torch.equal(theirs.data, ours.images) and torch.equal(theirs.targets, ours.labels)
    assert not [p for p in tmp_path.rglob(".*")]                  # no temporary files left


def test_house_prices():
    train, test = data.load_house_prices(HOUSE)
    assert train.shape == (1460, 81) and test.shape == (1459, 80)
    x_train, y_train, x_test = data.preprocess_house_prices(train, test)
    assert x_train.shape[0] == 1460 and x_test.shape[0] == 1459 and x_train.shape[1] == x_test.shape[1]
    assert y_train.shape == (1460, 1) and x_train.dtype == torch.float32
    assert not torch.isnan(x_train).any() and not torch.isnan(x_test).any()
    assert y_train.min().item() == pytest.approx(np.log(34900), rel=1e-6)
    assert y_train.max().item() == pytest.approx(np.log(755000), rel=1e-6)


def test_house_prices_missing_says_where(tmp_path):
    with pytest.raises(data.DataError, match="kaggle_house_pred_train.csv"):
        data.load_house_prices(tmp_path)


# --------------------------------------------------------------------------- the set-up (downloads)
class _Mirror(http.server.SimpleHTTPRequestHandler):
    """Serves a folder laid out like the data folder; records paths; can misbehave on purpose."""
    requests: list[str]
    cut_after: int | None = None       # send the full Content-Length, then close after N bytes

    def do_GET(self):
        self.requests.append(self.path)
        if self.cut_after is None:
            return super().do_GET()
        body = Path(self.translate_path(self.path)).read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:self.cut_after])
        self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(monkeypatch):
    """Start a mirror on 127.0.0.1 for a folder; DNET_DATA_MIRROR points at it."""
    servers = []

    def start(folder: Path, cut_after: int | None = None) -> list[str]:
        requests: list[str] = []
        handler = type("Handler", (_Mirror,), {"requests": requests, "cut_after": cut_after})
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        monkeypatch.setenv(data.MIRROR_ENV, f"http://127.0.0.1:{httpd.server_address[1]}/")
        return requests

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _setup_command(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dnet_lib.data", "--root", str(root)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ))


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _joined(tmp_path: Path) -> Path:
    """One folder with fashion-mnist/ and house-prices/ when the set-up found them apart."""
    joined = tmp_path / "served"
    joined.mkdir()
    (joined / "fashion-mnist").symlink_to(FASHION)
    (joined / "house-prices").symlink_to(HOUSE)
    return joined


def test_setup_downloads_every_file_once_and_checks_it(tmp_path, mirror):
    # the mirror serves the very files the set-up provided (shared/data or data/)
    requests = mirror(_joined(tmp_path))
    root = tmp_path / "empty"
    proc = _setup_command(root)
    assert proc.returncode == 0, proc.stderr
    assert "downloading train-images-idx3-ubyte.gz from http://127.0.0.1:" in proc.stderr
    from torchvision.datasets.utils import calculate_md5
    expected = {f"{name}/{f}": md5 for name, files in data.DATASETS.items() for f, md5 in files.items()}
    # every file asked for (torchvision's download_url first asks where the URL redirects to)
    assert set(r.lstrip("/") for r in requests) == set(expected)
    assert {p.relative_to(root).as_posix(): calculate_md5(p) for p in _files(root)} == expected
    assert not [p for p in _files(root) if p.name.startswith(".")]   # no temporary files left
    # the downloaded copy is what the loaders read
    assert torch.equal(data.load_fashion_mnist(False, root).labels,
                       data.load_fashion_mnist(False, FASHION).labels)
    assert data.load_house_prices(root, download=False)[0].shape == (1460, 81)
    # a second run verifies and downloads nothing
    requested = len(requests)
    again = _setup_command(root)
    assert again.returncode == 0, again.stderr
    assert len(requests) == requested and "md5 checked" in again.stdout


def test_setup_truncated_download_saves_nothing(tmp_path, mirror):
    mirror(_joined(tmp_path), cut_after=1000)
    root = tmp_path / "empty"
    url = data.data_source("house-prices") + "kaggle_house_pred_train.csv"
    with pytest.raises(data.DataError, match=r"kaggle_house_pred_train\.csv.*expected md5 "
                                             r"80ccab65fb115cbad143dbbd2bcd5577 \(1,000 bytes "
                                             r"received: cut short") as err:
        data.ensure_data(root, ["house-prices"], progress=False)
    assert url in str(err.value)
    assert _files(root) == []


def test_setup_damaged_file_on_the_mirror_is_rejected(tmp_path, mirror):
    served = tmp_path / "served" / "house-prices"
    served.mkdir(parents=True)
    for name in data.DATASETS["house-prices"]:
        (served / name).write_bytes((HOUSE / name).read_bytes()[:-100])   # a short copy
    mirror(served.parent)
    root = tmp_path / "empty"
    with pytest.raises(data.DataError, match=r"kaggle_house_pred_train\.csv from http://127\.0\.0\.1:"
                                             r"\d+/house-prices/.* expected md5 "
                                             r"80ccab65fb115cbad143dbbd2bcd5577"):
        data.ensure_data(root, ["house-prices"], progress=False)
    assert _files(root) == []


def test_setup_404_names_file_and_source_and_saves_nothing(tmp_path, mirror):
    (tmp_path / "nothing").mkdir()
    mirror(tmp_path / "nothing")
    root = tmp_path / "empty"
    proc = _setup_command(root)
    assert proc.returncode == 1
    assert "train-images-idx3-ubyte.gz" in proc.stderr and "404" in proc.stderr
    assert data.data_source("fashion-mnist") + "train-images-idx3-ubyte.gz" in proc.stderr
    assert _files(root) == []


def test_setup_rejects_a_corrupt_local_file(tmp_path):
    folder = tmp_path / "house-prices"
    folder.mkdir()
    for name in data.DATASETS["house-prices"]:
        shutil.copy(HOUSE / name, folder / name)
    (folder / "kaggle_house_pred_test.csv").write_text("Id\n1\n")
    with pytest.raises(data.DataError, match="kaggle_house_pred_test.csv.*"
                                             "dcec4b79bf9c7317bd9e17789bf888f0.*make data"):
        data.ensure_data(tmp_path, ["house-prices"], progress=False)


def test_default_sources_are_the_torchvision_and_d2l_mirrors(monkeypatch):
    import importlib.util
    import torchvision

    monkeypatch.delenv(data.MIRROR_ENV, raising=False)
    assert data.data_source("fashion-mnist") in torchvision.datasets.FashionMNIST.mirrors
    d2l = importlib.util.find_spec("d2l")
    assert d2l is not None, "d2l is part of the tested stack (pip install --no-deps d2l==1.0.3)"
    d2l_source = (Path(d2l.origin).parent / "torch.py").read_text(encoding="utf-8")
    assert f"DATA_URL = '{data.data_source('house-prices')}'" in d2l_source
    monkeypatch.setenv(data.MIRROR_ENV, "http://127.0.0.1:9/mirror/")
    assert data.data_source("house-prices") == "http://127.0.0.1:9/mirror/house-prices/"
    with pytest.raises(ValueError, match="name"):
        data.data_source("cifar-10")


def test_data_root_order(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "dnet_lib").mkdir(parents=True)
    (repo / "pyproject.toml").write_text("")
    monkeypatch.setattr(data.sources, "REPO_ROOT", repo)
    monkeypatch.setenv("DNET_DATA_DIR", str(tmp_path / "mine"))
    assert data.data_root() == tmp_path / "mine"
    monkeypatch.delenv("DNET_DATA_DIR")
    assert data.data_root() == repo / "data"                      # a fresh clone: data/
    (tmp_path / "shared" / "data").mkdir(parents=True)
    assert data.data_root() == tmp_path / "shared" / "data"       # ../shared/data beside it
    (repo / "pyproject.toml").unlink()
    shutil.rmtree(tmp_path / "shared")
    assert data.data_root() == Path.home() / ".cache" / "dnet_lib" / "data"   # installed (Colab)


def test_loaders_never_download_in_tests(tmp_path, monkeypatch):
    assert os.environ["DNET_OFFLINE"] == "1"                      # tests/conftest.py
    monkeypatch.setenv("DNET_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(data.MIRROR_ENV, "http://127.0.0.1:9/")     # nothing listens there
    with pytest.raises(data.DataError, match=r"fashion-mnist data not found.*`make data`"):
        data.load_fashion_mnist(False)
    with pytest.raises(data.DataError, match=r"house-prices data not found.*`make data`"):
        data.load_house_prices()
    with pytest.raises(data.DataError, match="make data"):
        data.locate("fashion-mnist", download=False)
    assert _files(tmp_path) == []

"""Every benchmark runs in smoke mode, writes a complete JSON record, and leaves book/results alone."""
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from dnet_lib import models

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
RESULTS = REPO / "book" / "results"
REQUIRED = ("benchmark", "device", "device_info", "date", "versions", "command", "mode", "results", "goals")


def _load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    sys.path.insert(0, str(BENCH))
    try:
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(BENCH))
    return module


def _snapshot() -> dict:
    if not RESULTS.exists():
        return {}
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(RESULTS.glob("*"))}


def _run_smoke(name: str, tmp_path: Path) -> dict:
    env = dict(os.environ, DNET_SMOKE="1", TMPDIR=str(tmp_path))
    before = _snapshot()
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py")], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert _snapshot() == before, "a smoke run changed book/results"
    path = tmp_path / "dnet_bench_smoke" / f"{name}.json"      # the smoke default, under TMPDIR
    assert path.exists(), proc.stdout[-2000:]
    record = json.loads(path.read_text())
    for key in REQUIRED:
        assert key in record, key
    assert record["benchmark"] == name
    assert record["mode"] == "smoke"
    assert record["device_info"]["type"] in ("cpu", "cuda", "mps") and record["device_info"]["name"]
    assert record["device"] == f"{record['device_info']['type']} ({record['device_info']['name']})"
    assert {"torch", "torchvision", "python"} <= set(record["versions"])
    assert record["command"].startswith("DNET_SMOKE=1 python benchmarks/") and name in record["command"]
    assert record["date"][:4].isdigit()
    for goal in record["goals"]:
        assert set(goal) == {"goal", "measured", "target", "met"} and goal["met"] in (True, False, None)
    assert not list(path.parent.glob(".*.tmp")), "temporary file left behind"
    return record


def test_throughput_smoke(tmp_path):
    record = _run_smoke("throughput", tmp_path)
    rows = {r["name"]: r for r in record["results"]["rows"]}
    assert len(rows) == 4 and all(r["examples_per_s"] > 0 for r in rows.values())
    ratios = record["results"]["ratios"]
    assert ratios["ours_d2l_densenet_over_d2l_way"] == pytest.approx(
        rows["ours d2l_densenet"]["examples_per_s"] / rows["d2l way"]["examples_per_s"])
    # the d2l reference and ours are the same network: same parameter count
    assert rows["d2l way"]["parameters"] == rows["ours d2l_densenet"]["parameters"]


def test_memory_smoke(tmp_path):
    record = _run_smoke("memory", tmp_path)
    bc = {r["name"]: r for r in record["results"]["densenet_bc"]["rows"]}
    assert bc["ours memory_efficient"]["saved_bytes"] < bc["torchvision class memory_efficient"]["saved_bytes"] \
        < bc["ours plain"]["saved_bytes"]
    assert bc["ours plain"]["saved_bytes"] == bc["torchvision class plain"]["saved_bytes"]
    d121 = {r["name"]: r for r in record["results"]["densenet121"]["rows"]}
    assert d121["ours plain"]["saved_bytes"] == d121["torchvision plain"]["saved_bytes"]
    assert len(record["goals"]) == 4


def test_time_to_accuracy_smoke(tmp_path):
    record = _run_smoke("time_to_accuracy", tmp_path)
    cpu = record["results"]["cpu_recipe"]
    assert 0.0 <= cpu["final_test_accuracy"] <= 1.0 and cpu["history"]
    d2l = record["results"]["d2l_recipe"]
    assert set(d2l) >= {"recipe", "d2l_densenet", "d2l_resnet18"}


def test_full_cpu_run_reports_gpu_part_as_not_measured(monkeypatch):
    if torch.cuda.is_available():
        pytest.skip("only meaningful without a GPU")
    tta = _load("time_to_accuracy")
    recorded = {}
    monkeypatch.setattr(tta._common, "record", lambda name, args, device, smoke, results, goals, notes, lb:
                        recorded.update(results=results, notes=notes) or Path("unused"))
    monkeypatch.delenv("DNET_SMOKE", raising=False)
    tta.main(["--skip-cpu"])
    assert recorded["results"]["d2l_recipe"] == "not measured: no GPU"
    assert any("not measured: no GPU" in n for n in recorded["notes"])


def test_d2l_reference_model_is_d2l_densenet():
    throughput = _load("throughput")
    ref = throughput.d2l_densenet_reference(image_size=96)
    ours = models.d2l_densenet()
    assert sum(p.numel() for p in ref.parameters()) == sum(p.numel() for p in ours.parameters())
    assert ref(torch.randn(2, 1, 96, 96)).shape == (2, 10)
    # torchvision's class with a 1-channel stem is our DenseNet-BC config: weights load both ways
    tv = throughput.torchvision_bc()
    tv.load_state_dict(throughput.ours_bc().state_dict(), strict=True)


def test_write_json_is_atomic_and_checks_keys(tmp_path):
    common = _load("_common")
    path = tmp_path / "r.json"
    payload = {k: 1 for k in REQUIRED}
    common.write_json(path, payload)
    assert json.loads(path.read_text()) == payload
    with pytest.raises(ValueError, match="missing keys"):
        common.write_json(path, {"device": "cpu"})
    assert json.loads(path.read_text()) == payload           # the old file survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]


def test_committed_results_name_device_date_command():
    files = sorted(RESULTS.glob("*.json")) if RESULTS.exists() else []
    for path in files:
        record = json.loads(path.read_text())
        if "benchmark" not in record:
            continue                                       # another helper's result file
        for key in REQUIRED:
            assert key in record, (path.name, key)
        assert record["mode"] != "smoke", path.name
        assert record["command"].startswith("python benchmarks/"), path.name
        assert isinstance(record["device"], str) and record["device_info"]["name"]

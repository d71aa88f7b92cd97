"""Every benchmark runs in smoke mode and writes a complete JSON record, the committed records are
complete, the paired statistics are right, and no run on a CPU can write a GPU record."""
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
from dnet_lib.arith import count_params

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "benchmarks"
RESULTS = REPO / "book" / "results"
REQUIRED = ("benchmark", "device", "device_info", "date", "versions", "command", "mode", "results", "goals")
CPU_RECORDS = ("time_to_accuracy", "throughput", "memory", "grade_class")   # committed CPU results
GPU_RECORDS = ("d2l_recipe", "throughput", "memory")              # written by gpu_reference.py


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
    """The result files a benchmark could write (other helpers' files may change meanwhile)."""
    names = [f"{name}_{kind}.json" for name in set(CPU_RECORDS + GPU_RECORDS)
             for kind in ("cpu", "gpu", "smoke")]
    return {n: hashlib.sha256((RESULTS / n).read_bytes()).hexdigest()
            for n in names if (RESULTS / n).exists()}


def _check_record(record: dict, name: str) -> None:
    for key in REQUIRED:
        assert key in record, (name, key)
    assert record["benchmark"] == name
    assert record["device_info"]["type"] in ("cpu", "cuda", "mps") and record["device_info"]["name"]
    assert record["device"] == f"{record['device_info']['type']} ({record['device_info']['name']})"
    assert {"torch", "torchvision", "python"} <= set(record["versions"])
    assert record["date"][:4].isdigit()
    assert record["goals"], name
    for goal in record["goals"]:
        assert set(goal) == {"goal", "measured", "target", "met"} and goal["met"] in (True, False, None)


def _run_smoke(script: str, tmp_path: Path, *args: str, timeout: int = 300) -> Path:
    """Run ``script`` in smoke mode; returns the smoke output folder."""
    env = dict(os.environ, DNET_SMOKE="1", TMPDIR=str(tmp_path))
    before = _snapshot()
    proc = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert _snapshot() == before, "a smoke run changed book/results"
    folder = tmp_path / "dnet_bench_smoke"                    # the smoke default, under TMPDIR
    assert not list(folder.glob(".*.tmp")), "temporary file left behind"
    return folder


def _smoke_record(folder: Path, name: str, script: str | None = None) -> dict:
    path = folder / f"{name}.json"
    assert path.exists(), sorted(folder.iterdir())
    record = json.loads(path.read_text())
    _check_record(record, name)
    assert record["mode"] == "smoke"
    assert record["command"].startswith(f"DNET_SMOKE=1 python benchmarks/{script or name}.py")
    return record


def _assert_paired(ratio: dict) -> None:
    assert {"median", "iqr", "rounds", "precise", "per_round"} <= set(ratio)
    assert len(ratio["per_round"]) == ratio["rounds"] >= 1 and ratio["iqr"] >= 0


@pytest.mark.slow
def test_throughput_smoke(tmp_path):
    record = _smoke_record(_run_smoke("throughput", tmp_path), "throughput")
    rows = {r["name"]: r for r in record["results"]["rows"]}
    assert all(min(r["examples_per_s_per_round"]) > 0 for r in rows.values())
    # the d2l reference and ours are the same network: same parameter count
    assert rows["d2l way"]["parameters"] == rows["ours d2l_densenet fp32"]["parameters"]
    ratios = record["results"]["paired_ratios"]
    for ratio in ratios.values():
        _assert_paired(ratio)
    ours, d2l = rows["ours d2l_densenet fp32"], rows["d2l way"]
    paired = ratios["ours d2l_densenet fp32 / d2l way"]
    assert paired["per_round"] == pytest.approx([a / b for a, b in zip(
        ours["examples_per_s_per_round"], d2l["examples_per_s_per_round"])])
    # one number per goal: the paired median
    assert record["goals"][0]["measured"]["median"] == pytest.approx(paired["median"], abs=1e-4)


@pytest.mark.slow
def test_memory_smoke(tmp_path):
    record = _smoke_record(_run_smoke("memory", tmp_path), "memory")
    bc = {r["name"]: r for r in record["results"]["densenet_bc_40"]["rows"]}
    assert bc["ours memory_efficient"]["saved_bytes"] < bc["ours plain"]["saved_bytes"]
    assert bc["torchvision class memory_efficient"]["saved_bytes"] < bc["ours plain"]["saved_bytes"]
    assert bc["ours plain"]["saved_bytes"] == bc["torchvision class plain"]["saved_bytes"]
    assert bc["ours plain"]["step_time_ratio_to_plain"] is None and bc["ours plain"]["time_ratio"] == 1
    paired = bc["ours memory_efficient"]["step_time_ratio_to_plain"]
    _assert_paired(paired)
    assert bc["ours memory_efficient"]["time_ratio"] == paired["median"]
    d121 = {r["name"]: r for r in record["results"]["densenet121"]["rows"]}
    assert d121["ours plain"]["saved_bytes"] == d121["torchvision plain"]["saved_bytes"]
    assert len(record["goals"]) == 5


@pytest.mark.slow
def test_time_to_accuracy_smoke(tmp_path):
    record = _smoke_record(_run_smoke("time_to_accuracy", tmp_path, "--d2l-budget-s", "3"),
                           "time_to_accuracy")
    results = record["results"]
    for key in ("ours_densenet", "ours_resnet", "d2l_code"):
        assert 0.0 <= results[key]["final_test_accuracy"] <= 1.0, key
    dense = results["ours_densenet"]
    assert dense["history"]["config"]["time_budget_s"] == results["budget_s"]
    assert dense["history"]["config"]["schedule"] == "one_cycle"
    d2l = results["d2l_code"]
    assert d2l["d2l_budget_s"] == 3 and d2l["train_seconds"] <= d2l["total_train_seconds"]
    # the goals are ratios between contenders of this run; the 120 s figure names the machine
    assert [g["target"] for g in record["goals"]] == [">= 5.0x", ">= +0.03", ">= 2x"]
    margin = record["goals"][1]["measured"]
    assert margin["margin"] == pytest.approx(dense["final_test_accuracy"]
                                             - d2l["final_test_accuracy"], abs=1e-4)
    from dnet_tools import machine
    assert results["per_machine_report"]["machine"] == machine.machine_name(record)
    _check_efficiency(record)


def _check_efficiency(record: dict, contenders=("ours_densenet", "ours_resnet", "d2l_code")) -> None:
    """Peaks measured in the run, one efficiency row per contender, the goal their ratio."""
    results = record["results"]
    peaks = results["matmul_peak"]
    assert set(peaks) == {"float32", "bfloat16"}
    assert all(p["flops_per_s"] > 0 and p["threads"] == results["threads"] for p in peaks.values())
    rows = {r["name"]: r for r in results["efficiency"]["rows"]}
    assert len(rows) == len(contenders)
    for key in contenders:
        row = results[key]["efficiency"]
        assert rows[row["name"]] == row and row["training_flops_per_image"] > 0
        if row["images"] == 0:        # a busy machine: its time ran out on the first batch
            assert row["achieved_flops_per_s"] is None and row["of_machine_peak"] is None
            continue
        assert row["achieved_flops_per_s"] == pytest.approx(
            row["training_flops_per_image"] * row["images"] / row["train_seconds"])
        assert row["of_fp32_peak"] == pytest.approx(row["achieved_flops_per_s"]
                                                    / peaks["float32"]["flops_per_s"])
        assert row["of_machine_peak"] == pytest.approx(row["achieved_flops_per_s"] / max(
            p["flops_per_s"] for p in peaks.values()))
    assert results["d2l_code"]["efficiency"]["precision"] == "float32"
    # one denominator for all: the goal's ratio is the ratio of achieved FLOP/s
    ours, d2l = results["ours_densenet"]["efficiency"], results["d2l_code"]["efficiency"]
    goal = record["goals"][-1]
    if ours["images"] and d2l["images"]:
        assert goal["measured"]["ratio"] == pytest.approx(
            ours["achieved_flops_per_s"] / d2l["achieved_flops_per_s"], rel=1e-2)
    else:
        assert goal["met"] is None and goal["measured"].startswith("not measured")


@pytest.mark.slow
def test_efficiency_only_smoke_writes_its_own_record(tmp_path):
    folder = _run_smoke("time_to_accuracy", tmp_path, "--efficiency-only",
                        "--only", "densenet", "--only", "d2l")
    record = _smoke_record(folder, "efficiency", "time_to_accuracy")
    assert len(record["goals"]) == 1 and "per_machine_report" not in record["results"]
    assert not (folder / "time_to_accuracy.json").exists()
    _check_efficiency(record, ("ours_densenet", "d2l_code"))


def test_training_flops_count_forward_and_backward():
    """Two bias-free linear layers 12 -> 5 -> 3: forward 2*12*5 + 2*5*3 per image; backward the
    weight gradients of both and the input gradient of the second (the image needs none)."""
    efficiency = _load("efficiency")
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 5, bias=False),
                                torch.nn.Linear(5, 3, bias=False))
    forward = 2 * 12 * 5 + 2 * 5 * 3
    assert efficiency.training_flops_per_image(model, (3, 4)) == forward + forward + 2 * 5 * 3
    weight = model[1].weight.clone()
    efficiency.training_flops_per_image(model, (3, 4), amp=True)
    assert torch.equal(model[1].weight, weight) and model[1].weight.grad is None
    peak = efficiency.matmul_peak("float32", sizes=(64, 32), min_run_time=0.01)
    assert peak["flops_per_s"] == max(peak["per_size_flops_per_s"].values()) > 0
    assert set(peak["per_size_flops_per_s"]) == {"32", "64"}
    assert peak["threads"] == torch.get_num_threads()
    with pytest.raises(ValueError, match="dtype must be one of"):
        efficiency.matmul_peak("float16")
    # a contender that trained no image (its time ran out on the first batch) is not measured
    peaks = {"float32": {"flops_per_s": 2.0}, "bfloat16": {"flops_per_s": 1.0}}
    none = efficiency.efficiency("d2l", 10.0, 0, 1.1, False, peaks)
    some = efficiency.efficiency("ours", 10.0, 4, 2.0, True, peaks)
    assert none["of_machine_peak"] is None and some["of_machine_peak"] == 10.0
    common = _load("_common")
    assert efficiency.efficiency_goal(some, none, common.goal)["met"] is None


@pytest.mark.slow
def test_gpu_reference_smoke_writes_no_gpu_record(tmp_path):
    folder = _run_smoke("gpu_reference", tmp_path, timeout=600)
    recipe = _smoke_record(folder, "d2l_recipe", "gpu_reference")
    for name in ("d2l_densenet", "d2l_resnet18"):
        entry = recipe["results"][name]
        assert len(entry["runs"]) == 2 and 0 <= entry["mean_test_accuracy"] <= 1
        assert 0 <= entry["d2l_code"]["final_test_acc"] <= 1
    throughput = _smoke_record(folder, "throughput", "gpu_reference")
    assert throughput["results"]["paired_ratios"]
    memory = _smoke_record(folder, "memory", "gpu_reference")
    assert set(memory["results"]) == {"densenet_bc_40", "densenet121"}
    assert not list(RESULTS.glob("*_gpu.json")) or torch.cuda.is_available() or all(
        json.loads(p.read_text())["device_info"]["type"] == "cuda" for p in RESULTS.glob("*_gpu.json"))


def test_gpu_reference_refuses_a_cpu_without_smoke(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("only meaningful without a GPU")
    env = {k: v for k, v in os.environ.items() if k != "DNET_SMOKE"}
    before = _snapshot()
    proc = subprocess.run([sys.executable, str(BENCH / "gpu_reference.py"), "--device", "cpu",
                           "--out", str(tmp_path)], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "--smoke" in proc.stderr
    assert _snapshot() == before and not list(tmp_path.iterdir())


def test_paired_ratio_median_and_iqr():
    common = _load("_common")
    ratio = common.paired_ratio([2.0, 4.0, 6.0, 8.0, 10.0], [1.0, 2.0, 2.0, 4.0, 5.0])
    assert ratio["per_round"] == [2.0, 2.0, 3.0, 2.0, 2.0]
    assert ratio["median"] == 2.0 and ratio["iqr"] == 0.0 and ratio["precise"]
    noisy = common.paired_ratio([1.0, 2.0, 3.0, 4.0, 5.0], [1.0] * 5)
    assert noisy["median"] == 3.0 and noisy["iqr"] == 2.0 and not noisy["precise"]
    assert "NOT under 5%" in common.format_ratio(noisy) and "NOT" not in common.format_ratio(ratio)
    with pytest.raises(ValueError, match="same number"):
        common.paired_ratio([1.0], [1.0, 2.0])


def test_interleaved_rounds_rotate_and_stop_when_precise():
    common = _load("_common")
    calls = []

    def contender(name, value):
        return lambda: calls.append(name) or value

    values = common.interleaved_rounds({"a": contender("a", 2.0), "b": contender("b", 1.0)},
                                       [("a", "b")], min_rounds=3, max_rounds=50, max_seconds=60)
    assert values == {"a": [2.0] * 3, "b": [1.0] * 3}          # precise at once: min_rounds
    assert calls == ["a", "b", "b", "a", "a", "b"]              # the order rotates every round
    noise = iter([1.0, 3.0] * 50)
    values = common.interleaved_rounds({"a": lambda: next(noise), "b": lambda: 1.0}, [("a", "b")],
                                       min_rounds=3, max_rounds=7, max_seconds=60)
    assert len(values["a"]) == 7                                 # never precise: the round limit


def test_d2l_reference_models_match_ours():
    d2l_reference = _load("d2l_reference")
    if not d2l_reference.available():
        pytest.skip("d2l is not installed (pip install --no-deps d2l==1.0.3)")
    dense = d2l_reference.d2l_densenet_reference(image_size=96)
    assert count_params(dense) == count_params(models.d2l_densenet())
    assert dense(torch.randn(2, 1, 96, 96)).shape == (2, 10)
    assert count_params(d2l_reference.d2l_resnet18_reference()) == count_params(models.d2l_resnet18())


def test_time_to_accuracy_networks_are_library_models_of_similar_size():
    tta = _load("time_to_accuracy")
    dense, res = tta.fashion_densenet(), tta.fashion_resnet()
    assert isinstance(dense, models.DenseNet) and isinstance(res, models.ResNet)
    assert count_params(dense) == 80_706
    assert abs(count_params(res) - count_params(dense)) < 0.1 * count_params(dense)
    assert dense(torch.randn(2, 1, 28, 28)).shape == res(torch.randn(2, 1, 28, 28)).shape == (2, 10)


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


@pytest.mark.parametrize("name", CPU_RECORDS)
def test_committed_cpu_record_is_complete(name):
    path = RESULTS / f"{name}_cpu.json"
    assert path.exists(), f"{path} is missing: run python benchmarks/{name}.py"
    record = json.loads(path.read_text())
    _check_record(record, name)
    assert record["mode"] == "cpu" and record["device_info"]["type"] == "cpu"
    assert record["command"].startswith(f"python benchmarks/{name}.py")


@pytest.mark.parametrize("name", GPU_RECORDS)
def test_committed_gpu_record_comes_from_a_gpu(name):
    path = RESULTS / f"{name}_gpu.json"
    if not path.exists():
        pytest.skip(f"{path.name}: GPU figures not yet measured")
    record = json.loads(path.read_text())
    _check_record(record, name)
    assert record["mode"] == "gpu" and record["device_info"]["type"] == "cuda"
    assert record["command"].startswith("python benchmarks/gpu_reference.py")


def test_a_busy_cpu_cannot_write_a_reference_result(monkeypatch):
    """A full run that would write book/results refuses to time anything while other processes
    keep the CPU busy (how a committed record once showed 35 images/s for a 10,000 images/s
    network); --shared-machine or --out lets it run, and smoke runs are never checked."""
    from dnet_tools import machine
    common = _load("_common")
    monkeypatch.delenv("DNET_SMOKE", raising=False)
    monkeypatch.setattr(machine, "cpu_busy_fraction", lambda seconds=2.0: 0.9)
    parser = common.parser("test")
    with pytest.raises(RuntimeError, match="90% of the CPU busy.*--shared-machine"):
        common.setup(parser.parse_args(["--device", "cpu"]))
    for extra in (["--shared-machine"], ["--out", "elsewhere.json"]):
        args = parser.parse_args(["--device", "cpu", *extra])
        assert common.setup(args) == (torch.device("cpu"), False)
    monkeypatch.setattr(machine, "cpu_busy_fraction", lambda seconds=2.0: 0.05)
    args = parser.parse_args(["--device", "cpu"])
    common.setup(args)
    assert args.cpu_busy_before == 0.05


def test_a_record_from_another_machine_is_never_replaced_silently(tmp_path):
    """--out names records per machine ({machine}); replacing another machine's record is
    refused, before any timing, unless --force."""
    from dnet_tools import machine
    common = _load("_common")
    parser = common.parser("test")
    here = common.environment(torch.device("cpu"))
    args = parser.parse_args(["--device", "cpu", "--out", str(tmp_path / "t_{machine}.json")])
    path = common.output_path("t", args, torch.device("cpu"), False)
    assert path.name == f"t_{machine.machine_slug(here)}.json"
    other = tmp_path / "other.json"
    # a CPU this machine is not: an EPYC on an Intel machine, a Xeon anywhere else
    name = ("AMD EPYC 7B13" if "Intel" in here["device_info"]["name"]
            else "Intel(R) Xeon(R) Processor")
    other.write_text(json.dumps({"device": f"cpu ({name})", "device_info": {
        "type": "cpu", "name": name, "cpu_count": 2}}))
    assert not machine.same_machine(json.loads(other.read_text()), here)
    before = other.read_text()
    args = parser.parse_args(["--device", "cpu", "--out", str(other)])
    with pytest.raises(RuntimeError, match=f"measured on {name[:5]}.*--force"):
        common.setup(args, "t")
    with pytest.raises(RuntimeError, match=f"measured on {name[:5]}"):
        common.record("t", args, torch.device("cpu"), False, {}, [], [], None)
    assert other.read_text() == before
    forced = parser.parse_args(["--device", "cpu", "--out", str(other), "--force"])
    common.setup(forced, "t")
    common.record("t", forced, torch.device("cpu"), False, {}, [], [], None)
    replaced = json.loads(other.read_text())
    assert machine.same_machine(replaced, here)
    common.record("t", args, torch.device("cpu"), False, {}, [], [], None)   # same machine: fine

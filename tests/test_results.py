"""dnet_lib.results: reading the committed result files and showing them as tables and figures.

The benchmark files (memory, throughput, time to accuracy) and the reference runs are the real
committed files in book/results; expected values are read from the JSON directly, not restated.
"""
import json
import math
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from dnet_lib import drawing, results  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "book" / "results"
BENCHMARK_FILES = ("memory_cpu.json", "throughput_cpu.json", "time_to_accuracy_cpu.json")


def raw(name):
    return json.loads((RESULTS / name).read_text())


def test_results_dir_is_found_from_the_repository_and_below_it(monkeypatch, tmp_path):
    monkeypatch.delenv("DNET_RESULTS_DIR", raising=False)
    for folder in (REPO, REPO / "chapters"):
        monkeypatch.chdir(folder)
        assert results.results_dir() == RESULTS
    monkeypatch.chdir(tmp_path)                 # outside the repository: beside the package
    assert results.results_dir() == RESULTS


def test_results_dir_can_be_pointed_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setenv("DNET_RESULTS_DIR", str(tmp_path))
    assert results.results_dir() == tmp_path
    assert "not yet measured" in results.gpu_sentence("*.json")
    monkeypatch.setenv("DNET_RESULTS_DIR", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="DNET_RESULTS_DIR"):
        results.results_dir()


def test_load_committed_files_by_name_or_path():
    for name in BENCHMARK_FILES:
        record = results.load(name)
        assert record["benchmark"] == raw(name)["benchmark"]
        assert results.load(RESULTS / name)["date"] == raw(name)["date"]
    with pytest.raises(FileNotFoundError, match="no_such_result"):
        results.load("no_such_result.json")


@pytest.mark.parametrize("name", BENCHMARK_FILES)
def test_provenance_names_device_date_and_command(name):
    data = raw(name)
    line = results.provenance(data, "measured")
    assert line.startswith(f"measured on {data['device']} on {data['date'][:10]} by ")
    assert f"`{data['command']}`" in line and data["versions"]["torch"] in line


def test_every_committed_record_names_its_device_as_one_line():
    for path in RESULTS.glob("**/*.json"):
        record = json.loads(path.read_text())
        assert isinstance(record.get("device"), str), path


def test_stamp_names_the_device_date_and_versions():
    from dnet_lib import runtime
    stamp = results.stamp("cpu")
    assert stamp["device"] == f"cpu ({runtime.device_name()})"
    assert stamp["date"].endswith("+00:00") and set(stamp["versions"]) >= {"python", "torch"}


def test_gpu_sentence_says_not_measured_until_a_gpu_file_exists(monkeypatch, tmp_path):
    monkeypatch.setenv("DNET_RESULTS_DIR", str(tmp_path))
    for name in BENCHMARK_FILES:
        (tmp_path / name).write_text((RESULTS / name).read_text())
    assert "not yet measured" in results.gpu_sentence("*.json")
    (tmp_path / "x_gpu.json").write_text(json.dumps({"device": "cpu (AMD EPYC)"}))
    assert "not yet measured" in results.gpu_sentence("*_gpu.json")
    gpu = dict(raw("memory_cpu.json"), device="cuda (NVIDIA H100 80GB HBM3)")
    (tmp_path / "memory_gpu.json").write_text(json.dumps(gpu))
    (tmp_path / "mac_gpu.json").write_text(json.dumps(dict(gpu, device="mps (Apple M2)")))
    sentence = results.gpu_sentence("*_gpu.json")
    assert "not yet measured" not in sentence and "x_gpu.json" not in sentence
    assert "memory_gpu.json" in sentence and "NVIDIA H100" in sentence
    assert "mac_gpu.json" in sentence and "mps (Apple M2)" in sentence


def test_benchmark_tables_drop_lists_and_add_mebibytes():
    data = raw("memory_cpu.json")
    tables = results.benchmark_tables(data)
    sections = [s for s in data["results"].values() if isinstance(s, dict) and s.get("rows")]
    assert len(tables) == len(sections) > 0
    for table, section in zip(tables.values(), sections):
        assert len(table) == len(section["rows"])
        for column in table.columns:
            assert not any(isinstance(v, (list, dict)) for v in table[column])
        if "saved_bytes" in table:
            expected = [row["saved_bytes"] / 2**20 for row in section["rows"]]
            assert table["saved_MiB"].tolist() == pytest.approx(expected)


def test_mean_std_text():
    assert results.mean_std([0.9, 0.92, 0.94]) == "0.920 ± 0.020 (3 seeds)"
    assert results.mean_std([0.9]) == "0.900 (1 seed)"


# --------------------------------------------------------------------------- reference runs
def fake_history(losses, tests, seconds):
    n = len(losses)
    return {"train_loss": losses, "train_acc": [1 - x for x in losses], "test_acc": tests,
            "examples_per_s": [1000.0 + i for i in range(n)], "train_time": seconds,
            "epoch_time": seconds, "steps": [10] * n}


def small_record():
    """A reference record in the format python -m dnet_tools.reference_runs writes (two networks)."""
    runs = {}
    for net, base in (("densenet", 0.90), ("resnet", 0.88)):
        for seed in range(2):
            acc = base + 0.01 * seed
            runs[f"{net}-s{seed}"] = dict(
                run=f"{net}-s{seed}", network=net, group="main", seed=seed,
                train_examples=60000, parameters=100 if net == "densenet" else 110,
                flops_per_image=2e6, epochs=3, steps=30, final_test_acc=acc,
                final_train_acc=0.95, history=fake_history([0.5, 0.3, 0.2],
                                                           [0.8, None, acc], [10.0, 11.0, 12.0]))
        runs[f"{net}-n2000-s0"] = dict(
            run=f"{net}-n2000-s0", network=net, group="less_data", seed=0, train_examples=2000,
            parameters=100, flops_per_image=2e6, epochs=90, steps=30, final_test_acc=base - 0.1,
            final_train_acc=1.0, history=fake_history([0.1], [base - 0.1], [30.0]))
    return {"device": "cpu (test)", "date": "2026-11-27T10:00:00+00:00", "command": "x",
            "networks": {"densenet": {"label": "DenseNet (small)"},
                         "resnet": {"label": "ResNet (small)"}},
            "runs": runs}


def test_runs_and_summary_tables_from_a_record():
    record = small_record()
    runs = results.runs_table(record)
    assert len(runs) == 4 and set(runs.network) == {"DenseNet (small)", "ResNet (small)"}
    assert runs.train_seconds.tolist() == [33.0] * 4
    summary = results.summary_table(record)
    assert summary.loc["DenseNet (small)", "test accuracy"] == results.mean_std([0.90, 0.91])
    assert summary.loc["ResNet (small)", "parameters"] == "110"


def test_curves_keep_every_epoch_and_seed():
    table = results.curves(small_record())
    assert len(table) == 4 * 3
    assert table.train_seconds.max() == 33.0
    assert math.isnan(table[(table.epoch == 2)].test_acc.iloc[0])


def test_learning_curve_figure_has_a_line_per_seed_and_network():
    fig = drawing.plot_learning_curves(small_record())
    loss_ax, acc_ax = fig.axes[:2]
    assert len(loss_ax.lines) == 4 and len(acc_ax.lines) == 4
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == \
        ["DenseNet (small)", "ResNet (small)"]
    assert list(acc_ax.lines[0].get_xdata()) == [1, 3]     # epoch 2 was not evaluated
    plt.close(fig)
    with pytest.raises(ValueError, match="no runs"):
        drawing.plot_learning_curves({"runs": {}})


def test_committed_reference_runs_are_complete_and_readable():
    record = results.load("reference_cpu.json")
    assert results.provenance(record).startswith(f"trained on {record['device']}")
    assert record["device"].startswith("cpu")
    runs = results.runs_table(record)
    assert set(runs.seed) >= {0}
    assert runs.test_acc.between(0, 1).all()
    for run in record["runs"].values():
        history = run["history"]
        assert len(history["train_loss"]) == run["epochs"]
        assert history["test_acc"][-1] == run["final_test_acc"]
    fig = drawing.plot_learning_curves(record)
    plt.close(fig)
    assert np.isfinite(results.curves(record).train_loss).all()


@pytest.mark.slow
def test_a_non_editable_install_carries_the_results(tmp_path):
    """Colab installs dnet_lib from git without a clone: the wheel must carry book/results, and
    results_dir() must find the installed copy from a folder outside any repository."""
    import subprocess
    import sys
    import zipfile

    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(wheels), str(REPO)], check=True, timeout=300)
    (wheel,) = wheels.glob("dnet_lib-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # the library and every exercise's visible checks, none of the tooling (Colab needs none of it)
    assert "dnet_lib/exercises/ex02_parameters.py" in names
    assert not [n for n in names if n.startswith("dnet_tools/")], "the wheel ships dnet_tools"
    committed = sorted(p.relative_to(RESULTS).as_posix() for p in RESULTS.rglob("*")
                       if p.is_file() and p.suffix in (".json", ".pt", ".onnx"))
    assert committed
    shipped = sorted(n.split("share/dnet_lib/results/", 1)[1] for n in names
                     if "/data/share/dnet_lib/results/" in n)
    assert shipped == committed

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          capture_output=True, text=True, check=True).stdout.strip()
    # --ignore-installed: never uninstall the editable dnet_lib of the environment running this
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--ignore-installed", "--prefix", str(venv), str(wheel)], check=True, timeout=300)
    # the installed dnet_lib, with this interpreter's packages (torch...) behind it
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join([site, *deps]), "HOME": str(tmp_path)}
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          "import dnet_lib, dnet_lib.results as r; print(dnet_lib.__file__); "
                          "print(r.results_dir()); "
                          "print(len(list(r.results_dir().glob('reference_*.json'))))"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    module, folder, count = out.stdout.split()
    assert module.startswith(str(venv)) and folder.startswith(str(venv)), out.stdout
    assert Path(folder).name == "results" and int(count) >= 1


def test_the_teaching_page_quotes_the_committed_class_timing():
    """book/teaching.md copies its class-grading figures from grade_class_cpu.json."""
    record = raw("grade_class_cpu.json")["results"]
    page = (REPO / "book" / "teaching.md").read_text()
    assert (f"graded **{record['graded']} submissions in {record['autograde_s']:.0f} s, "
            f"{record['per_submission_s']:.1f} s each**") in page
    assert record["errors"] == [] and record["wrongly_scored"] == []

"""dnet_tools.reference_runs: the batch runner that trains the reference runs into book/results."""
import json
import os

import pytest
import torch

from dnet_lib import reference
from dnet_tools import machine, reference_runs


def test_bad_job_count_is_refused():
    with pytest.raises(ValueError, match="--jobs"):
        reference_runs.main(["--jobs", "0", "--smoke"])


def test_a_busy_cpu_is_refused_unless_the_run_says_it_is_shared(tmp_path, monkeypatch):
    monkeypatch.delenv("DNET_SMOKE", raising=False)       # earlier tests may have set it
    monkeypatch.delenv(reference_runs.SHARED_ENV, raising=False)
    monkeypatch.setattr(machine, "cpu_busy_fraction", lambda seconds=2.0: 0.9)
    with pytest.raises(RuntimeError, match="--shared-machine"):
        reference_runs.main(["--runs", "resnet-s0", "--out", str(tmp_path)])
    assert not (tmp_path / "reference_cpu.json").exists()
    monkeypatch.setattr(reference, "train_run", lambda run_id, **kw: {
        "run": run_id, "group": "main", "final_test_acc": 0.5, "wall_seconds": 1.0, "epochs": 1})
    threads = torch.get_num_threads()                      # main() sets the thread count
    try:
        reference_runs.main(["--runs", "resnet-s0", "--out", str(tmp_path), "--shared-machine"])
    finally:
        torch.set_num_threads(threads)
        os.environ.pop(reference_runs.SHARED_ENV, None)
    record = json.loads((tmp_path / "reference_cpu.json").read_text())
    assert reference_runs.SHARED_NOTE in record["notes"]
    assert reference_runs.NOTES[-1] not in record["notes"]

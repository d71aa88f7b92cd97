"""dnet_lib.reference: the reference runs' networks, run list, training record and weights."""
import json
import math
import tempfile
from pathlib import Path

import pytest
import torch

from dnet_lib import arith, reference, results


def test_the_compared_networks_are_matched_in_parameters():
    dense, res = reference.build("densenet"), reference.build("resnet")
    p_dense, p_res = arith.count_params(dense), arith.count_params(res)
    assert abs(p_dense - p_res) / p_res < 0.05          # the matching the book states
    # same stem spec, same input, same classes
    x = torch.zeros(2, 1, 28, 28)
    assert dense.eval()(x).shape == res.eval()(x).shape == (2, 10)
    assert type(dense.features.pool0) is type(res.maxpool) is torch.nn.MaxPool2d
    # the DenseNet pays in FLOPs for its parameter economy
    assert arith.count_flops(dense, (1, 1, 28, 28)) > arith.count_flops(res, (1, 1, 28, 28))


def test_run_list_covers_seeds_sizes_and_the_dual_path_net():
    main = reference.run_ids("main")
    assert sorted(main) == sorted(f"{n}-s{s}" for n in ("densenet", "resnet") for s in (0, 1, 2))
    sizes = {spec["train_examples"] for spec in reference.RUNS.values()
             if spec["network"] == "densenet" and spec["seed"] == 0}
    assert len(sizes) >= 3 and reference.FULL_SIZE in sizes
    assert reference.run_ids("dualpath") == ["dualpath-s0"]
    assert reference.RUNS["dualpath-s0"]["train_examples"] == reference.FULL_SIZE
    assert main == list(reference.RUNS)[:6]              # the matched pair runs first
    assert reference.run_ids("main", "densenet") == ["densenet-s0", "densenet-s1", "densenet-s2"]
    with pytest.raises(ValueError, match="group"):
        reference.run_ids("everything")


def test_the_dual_path_net_uses_its_parents_stem():
    dpn, dense = reference.build("dualpath"), reference.build("densenet")
    stem = dense.features[:len(dpn.stem)]          # conv0, norm0, relu0, pool0
    assert [type(m) for m in dpn.stem] == [type(m) for m in stem]
    x = torch.randn(2, 1, 28, 28)
    assert dpn.stem(x).shape[-2:] == stem(x).shape[-2:] == (14, 14)
    # pooling first makes it cheaper per image than the DenseNet parent
    assert arith.count_flops(dpn, (1, 1, 28, 28)) < arith.count_flops(dense, (1, 1, 28, 28))


def test_bad_names_are_refused():
    with pytest.raises(ValueError, match="network"):
        reference.build("vgg")
    with pytest.raises(ValueError, match="run_id"):
        reference.weights_path("densenet-s9")


def test_a_smoke_run_records_its_history_and_saves_loadable_weights(tmp_path):
    torch.set_num_threads(1)
    record = reference.train_run("resnet-s0", smoke=True, weights_folder=tmp_path)
    batches = math.ceil(reference.SMOKE["subset"] / reference.RECIPE["batch_size"])
    assert record["network"] == "resnet"
    assert record["steps"] == min(batches, reference.SMOKE["max_steps"])
    assert record["train_examples"] == reference.SMOKE["subset"]
    assert record["parameters"] == arith.count_params(reference.build("resnet"))
    assert record["history"]["test_acc"][-1] == record["final_test_acc"]
    json.dumps(record)                                   # the record is plain JSON
    model = reference.load_model("resnet-s0", folder=tmp_path)
    saved = torch.load(tmp_path / record["weights"], weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())
    assert not model.training
    with pytest.raises(FileNotFoundError, match="python -m dnet_tools.reference_runs"):
        reference.load_model("densenet-s1", folder=tmp_path)


def test_committed_weights_reproduce_the_committed_accuracy():
    """The committed ResNet weights give the test accuracy the result file records."""
    from dnet_lib import data, train
    record = results.load("reference_cpu.json")
    run = record["runs"]["resnet-s0"]
    model = reference.load_model("resnet-s0")
    _, test_iter = data.load_data_fashion_mnist(1000, device="cpu")
    accuracy = train.evaluate(model, test_iter, test_flip=reference.RECIPE["test_flip"])
    assert accuracy == pytest.approx(run["final_test_acc"], abs=2e-4)


def test_retrain_in_smoke_mode_returns_a_record_the_chapters_can_show(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))     # retrain's weights go there
    record = reference.retrain("smoke", progress=False)
    # two seeds of each network, so chapter 6's seed statistics are defined
    assert set(record["runs"]) == {"densenet-s0", "resnet-s0", "densenet-s1", "resnet-s1"}
    assert record["mode"] == "smoke" and record["command"] == "reference.retrain('smoke')"
    assert results.provenance(record).startswith(f"trained on {record['device']}")
    summary = results.summary_table(record)
    assert list(summary.index) == [reference.NETWORKS[n]["label"] for n in ("densenet", "resnet")]
    assert Path(record["weights_folder"]).parent == tmp_path
    assert sorted(p.name for p in Path(record["weights_folder"]).iterdir()) == [
        "reference_densenet-s0.pt", "reference_densenet-s1.pt", "reference_resnet-s0.pt",
        "reference_resnet-s1.pt"]
    with pytest.raises(ValueError, match="mode"):
        reference.retrain("tpu")


def test_retrain_named_runs_gives_weights_load_model_reads(tmp_path, monkeypatch):
    """Chapters 8 and 9 retrain only the runs they analyse, then load from the record's folder."""
    torch.set_num_threads(1)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    record = reference.retrain("smoke", ["dualpath-s0"], progress=False)
    assert list(record["runs"]) == ["dualpath-s0"] and record["runs"]["dualpath-s0"]["steps"] > 0
    model = reference.load_model("dualpath-s0", folder=record["weights_folder"])
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
    with pytest.raises(ValueError, match="runs"):
        reference.retrain("smoke", ["densenet-s7"])


def test_retrain_is_requested_by_the_environment(monkeypatch):
    monkeypatch.delenv("DNET_RETRAIN", raising=False)
    assert not reference.retrain_requested()
    monkeypatch.setenv("DNET_RETRAIN", "1")
    assert reference.retrain_requested()

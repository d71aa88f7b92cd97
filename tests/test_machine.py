"""dnet_tools.machine: which machine a record was measured on, and how busy its CPU was."""
import json
from pathlib import Path

import torch

from dnet_lib import runtime
from dnet_tools import machine

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"


def raw(name):
    return json.loads((RESULTS / name).read_text())


XEON_AMX = {"device_info": {"type": "cpu", "name": "Intel(R) Xeon(R) Processor",
                            "cpu_model": "Intel(R) Xeon(R) Processor", "cpu_count": 2,
                            "cpu_features": ["avx2", "fma", "avx512f", "avx512_bf16",
                                             "amx_tile", "amx_bf16"]}}


def test_environment_records_the_cpu_model_and_its_features():
    env = machine.environment("cpu")
    info = env["device_info"]
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        text = cpuinfo.read_text()
        model = next(line.split(":", 1)[1].strip() for line in text.splitlines()
                     if line.startswith("model name"))
        flags = set(next(line for line in text.splitlines() if line.startswith("flags"))
                    .split(":", 1)[1].split())
        assert info["name"] == info["cpu_model"] == model
        assert info["cpu_features"] == [f for f in machine.CPU_FEATURES if f in flags]
    assert env["device"] == f"cpu ({info['name']})"
    assert info["name"] in runtime.describe(torch.device("cpu"))


def test_machine_name_tells_two_cpus_apart():
    here = machine.environment("cpu")
    assert machine.machine_name(here).startswith(here["device_info"]["cpu_model"])
    assert machine.machine_name(XEON_AMX) == ("Intel(R) Xeon(R) Processor, 2 cores, AVX-512, "
                                              "AVX-512 BF16, AMX")
    assert machine.machine_slug(XEON_AMX) == "intel-xeon-2c-amx"
    old = raw("time_to_accuracy_cpu.json")          # committed before the CPU features
    assert machine.machine_name(old).startswith(old["device_info"]["name"])
    assert machine.same_machine(here, here) and not machine.same_machine(here, XEON_AMX)
    amd = {"device_info": {"type": "cpu", "name": "AMD EPYC", "cpu_count": 2}}
    assert not machine.same_machine(amd, XEON_AMX)
    assert machine.machine_name({"device_info": {"type": "cuda", "name": "NVIDIA A100"}}) \
        == "NVIDIA A100"


def test_cpu_busy_fraction_measures_this_machine():
    busy = machine.cpu_busy_fraction(0.2)
    if not Path("/proc/stat").exists():
        assert busy is None
    else:
        assert 0.0 <= busy <= 1.0


def test_write_record_is_indented_json_with_a_final_newline(tmp_path):
    path = machine.write_record(tmp_path / "sub" / "r.json", {"a": 1})
    assert path.read_text() == '{\n  "a": 1\n}\n'

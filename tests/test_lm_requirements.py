"""What a run needs from the machine is checked before any work, each gap one user error with its fix."""

from __future__ import annotations

import sys

import pytest

from deeprnn.errors import ConfigError, DependencyError
from deeprnn.lm.config import TrainConfig
from deeprnn.lm.requirements import TORCHRUN_ENV, check_requirements, require

TORCHRUN = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}
assert set(TORCHRUN) == set(TORCHRUN_ENV)

CASES = {  # name -> (TrainConfig fields, torchrun environment?, the error's fragments or None for no error)
    "numpy_cpu": ({}, False, None),
    "numpy_cuda": ({"device": "cuda"}, False, ["expected --engine torch for --device cuda", "numpy engine"]),
    "numpy_distributed": ({"distributed": True}, True, ["expected --engine torch for --distributed"]),
    "torch_cpu": ({"engine": "torch"}, False, None),
    "torch_without_torchrun": ({"engine": "torch", "distributed": True}, False, ["under torchrun", "RANK", "torchrun --"]),
    "torch_under_torchrun": ({"engine": "torch", "distributed": True, "batch_size": 4}, True, None),
    "batch_not_divisible": ({"engine": "torch", "distributed": True, "batch_size": 5}, True,
                            ["expected batch_size divisible by the 2 processes, got 5"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_device_and_processes_are_checked_up_front(monkeypatch, case):
    fields, torchrun, fragments = CASES[case]
    if fields.get("engine") == "torch":
        pytest.importorskip("torch")
    for var in TORCHRUN_ENV:
        monkeypatch.delenv(var, raising=False)
    for var, value in (TORCHRUN if torchrun else {}).items():
        monkeypatch.setenv(var, value)
    t = TrainConfig(**fields)
    if fragments is None:
        check_requirements(t)
        return
    with pytest.raises(ConfigError) as e:
        check_requirements(t)
    assert all(f in str(e.value) for f in fragments), str(e.value)


def test_cuda_without_a_gpu_is_a_config_error():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ConfigError, match="expected a CUDA GPU for --device cuda, got none"):
        check_requirements(TrainConfig(engine="torch", device="cuda"))


def test_a_missing_package_is_a_dependency_error_that_is_also_an_import_error(monkeypatch):
    from deeprnn.torch_engine import INSTALL_HINT

    with pytest.raises(ImportError, match=r"^plotting needs deeprnn_no_such_module: pip install 'deeprnn\[lm\]'$"):
        require("deeprnn_no_such_module", "plotting")
    with monkeypatch.context() as mp:
        mp.setitem(sys.modules, "safetensors", None)  # `import safetensors` now raises ImportError
        with pytest.raises(DependencyError, match=r"^reading and writing run folders needs safetensors: pip install"):
            check_requirements(TrainConfig())
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(DependencyError) as e:
        check_requirements(TrainConfig(engine="torch"))
    assert str(e.value) == INSTALL_HINT

"""Weight blocks larger than physical memory are refused before torch allocates them.

Where the kernel overcommits memory, torch grants a request of terabytes and the process is
killed once the weights are initialised (a lent GPU machine: the CLI test of ``--hidden
10**11`` crashed its pytest worker). Here physical memory is set small instead, so the test
needs no large allocation on any machine."""

from __future__ import annotations

import pytest

from biovae.config import NetworkConfig
from biovae.nn import MLP, memory
from biovae.nn.family import FamilyDecoder, FamilyEncoder
from tests.cli._run import run


@pytest.fixture
def one_mib(monkeypatch):
    monkeypatch.setattr(memory, "physical_memory", lambda: 2**20)


def test_a_layer_beyond_physical_memory_is_a_memory_error_naming_its_size(one_mib):
    with pytest.raises(MemoryError, match=r"can't allocate memory: .* 1,000 × 300 .*1200000 bytes"):
        MLP(300, 0, (1000,), NetworkConfig())
    MLP(300, 0, (100,), NetworkConfig())  # 120 kB fits


def test_family_networks_check_their_own_blocks(one_mib):
    with pytest.raises(MemoryError, match="first-layer weights"):
        FamilyEncoder(length=300, letters=21, hidden=(100, 10), n_latent=2)
    from biovae.config import LikelihoodConfig
    from biovae.likelihoods.categorical import Categorical

    lik = Categorical((300,), LikelihoodConfig(), n_letters=21)
    with pytest.raises(MemoryError, match="decoder weights"):
        FamilyDecoder(lik, n_latent=2, hidden=(10, 100), rank=40)


def test_shapes_built_on_the_meta_device_are_not_checked(one_mib):
    """A model folder's config is built on ``meta`` (no memory) to compare its shapes with the
    weights file's: a config edited to absurd sizes must reach that comparison."""
    import torch

    with torch.device("meta"):
        assert MLP(300, 0, (1000,), NetworkConfig()).linears[0].weight.is_meta


def test_unknown_physical_memory_checks_nothing(monkeypatch):
    monkeypatch.setattr(memory, "physical_memory", lambda: None)
    memory.check_fits((10**12, 10**12), "weights")


def test_the_command_line_reports_it_in_one_line_and_writes_nothing(one_mib, tmp_path, capsys):
    from tests.conftest import FIXTURES

    out = tmp_path / "m"
    rc, _, err = run(
        capsys, "fit", FIXTURES / "crc_abundance_60x50.tsv", "--out", out, "--epochs", "1",
        "--hidden", "10000", "--quiet",
    )  # fmt: skip
    assert rc == 2 and "error: out of memory (" in err and "--hidden" in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_blocks_that_each_fit_but_not_together_are_refused_before_any_is_built(monkeypatch):
    """Sixty layers of 40 kB (encoder and decoder) fit one by one in 1 MiB but need 2.4 MB
    together: refused before the first is allocated (on an overcommitting machine, building
    them is the kill)."""
    from biovae.config import LikelihoodConfig, ModelConfig
    from biovae.likelihoods.gaussian import Gaussian
    from biovae.models.vae import build_model

    monkeypatch.setattr(memory, "physical_memory", lambda: 2**20)
    lik = Gaussian((300,), LikelihoodConfig())
    deep, shallow = NetworkConfig(hidden=(100,) * 30), NetworkConfig(hidden=(100,) * 3)
    with pytest.raises(MemoryError, match=r"memory: the model would allocate \d+ bytes"):
        build_model(lik, 0, ModelConfig(n_latent=2, network=deep))
    build_model(lik, 0, ModelConfig(n_latent=2, network=shallow))  # 0.4 MB fits


def test_training_state_beyond_memory_is_refused_when_the_optimiser_is_made(monkeypatch):
    """Weights of 0.4 MB fit in 1 MiB, their training state (×4: gradients, Adam's moments)
    does not: refused before the first step allocates it."""
    import torch

    from biovae.training.optim import adam

    weights = [torch.nn.Parameter(torch.zeros(100_000))]
    monkeypatch.setattr(memory, "physical_memory", lambda: 2**20)
    with pytest.raises(MemoryError, match=r"training .* 1600000 bytes \(100,000 weights × 4 "):
        adam(weights, 1e-3)
    adam([{"params": iter([torch.nn.Parameter(torch.zeros(10_000))])}], 1e-3).step()

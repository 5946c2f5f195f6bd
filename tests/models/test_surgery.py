"""Architecture surgery: column maps by hand, transplanted models that decode old levels exactly
as before, and training that moves only the new entries."""

from __future__ import annotations

import numpy as np
import torch

from biovae import likelihoods
from biovae.config import LikelihoodConfig, ModelConfig, NetworkConfig
from biovae.models import build_model
from biovae.models.covariates import CovariateSpec
from biovae.models.surgery import column_map, extend_levels, freeze_except, transplant

OLD = CovariateSpec(("batch", "site"), (("a", "b"), ("x",)), ("age",), (40.0,), (10.0,))


def test_extend_levels_appends_new_levels_sorted_once():
    new = extend_levels(OLD, {"batch": ["d", "c", "a", "c"], "site": ["x"]})
    assert new.categories == (("a", "b", "c", "d"), ("x",))
    assert new.continuous == OLD.continuous and new.means == OLD.means
    assert extend_levels(OLD, {"batch": ["a"]}) == OLD


def test_column_map_by_hand():
    new = extend_levels(OLD, {"batch": ["c"], "site": ["y"]})
    # old layout: a b | x | age → new: a b c | x y | age
    cmap = column_map(OLD, new)
    np.testing.assert_array_equal(cmap.old_to_new, [0, 1, 3, 5])
    np.testing.assert_array_equal(cmap.new, [2, 4])
    assert cmap.width == 6 and cmap.first_block == (2, 3)


def _model(cov: CovariateSpec, norm: str, per_batch: bool):
    cfg = ModelConfig(
        n_latent=3,
        likelihood=LikelihoodConfig("nb", dispersion="gene-batch" if per_batch else "gene"),
        network=NetworkConfig(hidden=(8, 8), norm=norm, inject_covariates=True),
    )
    lik = likelihoods.build(cfg.likelihood, (5,), 0, len(cov.categories[0]) if per_batch else 0)
    return build_model(lik, cov.width, cfg)


def _encode(cov: CovariateSpec, n: int, rng) -> tuple[torch.Tensor, dict]:
    obs = {
        "batch": rng.choice(["a", "b"], n).astype(object),
        "site": np.full(n, "x", dtype=object),
        "age": rng.normal(40, 10, n),
    }
    return cov.encode(obs, n), obs


def test_transplanted_model_treats_old_levels_exactly_as_before():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    for norm, per_batch in (("layer", True), ("batch", False)):
        old = _model(OLD, norm, per_batch).eval()
        new_cov = extend_levels(OLD, {"batch": ["c"], "site": ["y"]})
        new = _model(new_cov, norm, per_batch).eval()
        masks = transplant(old, new, column_map(OLD, new_cov))
        c_old, obs = _encode(OLD, 6, rng)
        c_new = new_cov.encode(obs, 6)
        x = torch.poisson(torch.full((6, 5), 3.0))
        z = torch.randn(6, 3)
        ctx = {"library": x.sum(1, keepdim=True)}
        torch.testing.assert_close(new.encode(x, c_new).mean, old.encode(x, c_old).mean)
        lp_old = old.decode(z, c_old, ctx).log_prob(x)
        torch.testing.assert_close(new.decode(z, c_new, ctx).log_prob(x), lp_old)
        grown = {k for k, m in masks.items() if m.any()}
        assert any("linears.1.weight" in k for k in grown)  # injected into every layer
        assert ("decoder.shared.log_theta" in grown) == per_batch


def test_training_moves_only_the_new_entries_and_undo_restores():
    torch.manual_seed(1)
    old = _model(OLD, "batch", True).eval()
    new_cov = extend_levels(OLD, {"batch": ["c"]})
    new = _model(new_cov, "batch", True)
    masks = transplant(old, new, column_map(OLD, new_cov))
    before = {k: v.clone() for k, v in new.state_dict().items()}
    undo = freeze_except(new, masks)
    new.train()
    assert not any(m.training for m in new.modules() if isinstance(m, torch.nn.BatchNorm1d))
    opt = torch.optim.SGD([p for p in new.parameters() if p.requires_grad], lr=0.1)
    obs = {"batch": np.array(["c"] * 8, dtype=object), "site": np.full(8, "x", dtype=object)}
    c = new_cov.encode({**obs, "age": np.full(8, 50.0)}, 8)
    x = torch.poisson(torch.full((8, 5), 4.0))
    for _ in range(3):
        opt.zero_grad()
        px = new.decode(new.encode(x, c).rsample(), c, {"library": x.sum(1, keepdim=True)})
        (-px.log_prob(x).sum()).backward()
        opt.step()
    after = new.state_dict()
    for name, value in after.items():
        changed = value != before[name]
        if name in masks:
            assert changed.any() and not (changed & ~masks[name]).any(), name
        else:
            assert not changed.any(), name  # weights and batch-norm statistics alike
    undo()
    assert all(p.requires_grad for p in new.parameters())
    new.train()
    assert all(m.training for m in new.modules())

"""Semi-supervised VAE: a latent map guided by (partial) labels, with label predictions.

The generative model (Kingma et al. 2014, M2, with the label acting on z as in scANVI):

    y ~ Cat(1/C),   z | y ~ N(μ_y, I),   x | z, c ~ p(x|z, c)  (any registered likelihood),

inference q(z|x, c) = N(m(x, c), diag s²(x, c)) and a classifier q(y|·) = softmax(g(·)) that
reads z (``classifier_input="z"``, scANVI), the featurised x (``"x"``, M2's q(y|x)), the
centred log-ratios of x (``"clr"``, :func:`clr`), those log-ratios with the covariates' linear
effects removed (``"clr_residual"``, :meth:`SemiSupervisedVAE.fit_input_offset`) or
standardised per feature (``"clr_std"``); below q(y|z) stands for any of them.
With KL_y = KL(q(z|x) || N(μ_y, I)) (analytic) the per-record bounds are

    labelled   (x, y):  ELBO = E_q log p(x|z) − KL_y − log C
    unlabelled (x):     ELBO = E_q log p(x|z) − Σ_y q(y|z) [KL_y + log q(y|z) + log C]

and the loss is −mean ELBO (KL terms weighted by β; with free bits λ the rate of z counts as
Σ_k max(λ, batch mean of its KL_k), as in :func:`biovae.objectives.elbo`) + α · mean over
labelled records (weighted by the record weights) of −log q(y|z) (the classification term of
M2; α = ``objective.classification_weight``), plus the optional MMD de-confounding penalty of
:func:`biovae.objectives.batch_mmd`.
Records with label −1 (missing or "unknown") are unlabelled. The marginal prior
p(z) = Σ_y N(z; μ_y, I) / C is what :meth:`prior` returns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor, nn
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    Normal,
)

from biovae.config import ModelConfig, ObjectiveConfig
from biovae.errors import ConfigError
from biovae.likelihoods import Likelihood
from biovae.likelihoods.base import one_hot
from biovae.nn import MLP, Decoder, GaussianEncoder
from biovae.nn.memory import linear
from biovae.objectives import (
    Batch,
    LossOutput,
    _base_normal,
    _weighted_mean,
    batch_mmd,
    beta_at,
    draw,
)

#: Pseudocount δ added to proportions before the log in :func:`clr` (below the 1e-5 detection
#: floor of profilers such as MetaPhlAn, so every detected taxon stays above every absent one).
CLR_PSEUDOCOUNT = 1e-6


def clr(x: Tensor) -> Tensor:
    """Centred log-ratio of each record's composition, shape (n, f):
    clr(x)_j = log(p_j + δ) − mean_i log(p_i + δ), p = x / Σ x (Aitchison 1986),
    δ = :data:`CLR_PSEUDOCOUNT`. Invariant to the record's total (read depth or scaling)."""
    x_nf = x.flatten(1).float()
    p_nf = x_nf / x_nf.sum(-1, keepdim=True).clamp_min(1e-30)
    log_nf = torch.log(p_nf + CLR_PSEUDOCOUNT)
    return log_nf - log_nf.mean(-1, keepdim=True)


def covariate_design(c: Tensor | None, n: int, device: torch.device | None = None) -> Tensor:
    """The design matrix [1, c] (n, 1 + d) of an intercept and the encoded covariates."""
    ones = torch.ones(n, 1, device=device)
    return ones if c is None or c.shape[-1] == 0 else torch.cat([ones, c.float()], -1)


class SemiSupervisedVAE(nn.Module):
    """Encoder q(z|x,c), classifier q(y|z), class-conditional prior p(z|y), decoder p(x|z,c)."""

    stochastic = True

    def __init__(
        self, likelihood: Likelihood, n_cov: int, n_classes: int, config: ModelConfig
    ) -> None:
        super().__init__()
        if n_classes < 2:
            raise ValueError("a semi-supervised VAE needs at least two label levels")
        if config.classifier_input.startswith("clr") and (
            likelihood.allows_missing or likelihood.n_letters
        ):
            raise ConfigError(
                f"classifier_input {config.classifier_input!r} reads log-ratios of compositions, "
                f"which '{likelihood.name}' data are not; use classifier_input 'z' or 'x'"
            )
        self.likelihood = likelihood
        self.config = config
        self.n_latent = config.n_latent
        self.n_classes = n_classes
        net = config.network
        self.encoder = GaussianEncoder(likelihood.n_inputs, n_cov, config.n_latent, net)
        self.decoder = Decoder(likelihood, n_cov, config.n_latent, net)
        self.classifier_input = config.classifier_input
        n_in = config.n_latent if config.classifier_input == "z" else likelihood.n_inputs
        if config.classifier_input == "clr_residual":
            self.register_buffer("clr_offset", torch.zeros(1 + n_cov, likelihood.n_inputs))
        if config.classifier_input == "clr_std":  # rows: centre, scale of every log-ratio
            centre_scale = torch.tensor([[0.0], [1.0]]).expand(2, likelihood.n_inputs)
            self.register_buffer("clr_scale", centre_scale.clone())
        trunk = MLP(n_in, 0, net.hidden[-1:], net)
        self.classifier = nn.Sequential(trunk, linear(trunk.out_features, n_classes))
        self.class_means = nn.Parameter(torch.randn(n_classes, config.n_latent))

    def encode(self, x: Tensor, c: Tensor | None = None) -> Distribution:
        """q(z|x, c) with batch shape (n,) and event shape (k,)."""
        return self.encoder(self.likelihood.featurize(x), c)

    def decode(
        self, z: Tensor, c: Tensor | None = None, context: dict[str, Tensor] | None = None
    ) -> Distribution:
        """p(x|z, c)."""
        return self.decoder(z, c, context or {})

    def classify(self, h: Tensor) -> Categorical:
        """q(y|h) over the C label levels; ``h`` is z or the featurised x (classifier_input)."""
        return Categorical(logits=self.classifier[1](self.classifier[0](h, None)))

    def _classifier_features(self, x: Tensor, z: Tensor, c: Tensor | None) -> Tensor:
        if self.classifier_input == "z":
            return z
        if self.classifier_input == "clr_residual":
            return clr(x) - covariate_design(c, x.shape[0], x.device) @ self.clr_offset
        if self.classifier_input == "clr_std":
            return (clr(x) - self.clr_scale[0]) / self.clr_scale[1]
        return clr(x) if self.classifier_input == "clr" else self.likelihood.featurize(x)

    @torch.no_grad()
    def fit_input_offset(self, batches: Iterable[Batch]) -> None:
        """For ``classifier_input="clr_residual"``: B = argmin Σ ‖clr(x) − [1, c] B‖² over the
        given records (labels unused), accumulated batch by batch (memory (1 + d) × f).

        With one categorical covariate this is the per-level mean of every log-ratio, so the
        classifier reads each record's log-ratios centred within its batch: a taxon-specific
        multiplicative bias of a batch (e.g. a sequencing protocol's) becomes an additive offset
        in log-ratio space and is removed. Collinear designs (several one-hot blocks) take the
        minimum-norm solution; the residual is the same for every solution. A no-op for other
        classifier inputs."""
        if self.classifier_input == "clr_std":
            self._fit_input_scale(batches)
            return
        if self.classifier_input != "clr_residual":
            return
        gram = cross = None
        for b in batches:
            d, r = covariate_design(b.c, len(b), b.x.device).double(), clr(b.x).double()
            gram = d.T @ d if gram is None else gram + d.T @ d
            cross = d.T @ r if cross is None else cross + d.T @ r
        if gram is None:
            raise ValueError("fit_input_offset needs at least one record")
        solution = torch.linalg.pinv(gram, rtol=1e-10, hermitian=True) @ cross
        self.clr_offset.copy_(solution.to(self.clr_offset.dtype))

    @torch.no_grad()
    def _fit_input_scale(self, batches: Iterable[Batch]) -> None:
        """For ``classifier_input="clr_std"``: every log-ratio's mean m and standard deviation
        s over the given records (labels unused); the classifier reads (clr(x) − m) / (s + q),
        q the 10 % quantile of s over features — SIAMCAT's ``log.std`` normalisation (Wirbel
        et al. 2021), which keeps rare, nearly constant taxa from being blown up."""
        n, total, squares = 0, 0.0, 0.0
        for b in batches:
            r = clr(b.x).double()
            n, total, squares = n + len(r), total + r.sum(0), squares + r.square().sum(0)
        if n < 2:
            raise ValueError("fit_input_offset needs at least two records for clr_std")
        mean = total / n
        sd = ((squares - n * mean.square()) / (n - 1)).clamp_min(0.0).sqrt()
        scale = sd + torch.quantile(sd, 0.1)
        self.clr_scale.copy_(torch.stack([mean, scale.clamp_min(1e-12)]).to(self.clr_scale.dtype))

    def label_distribution(self, x: Tensor, c: Tensor | None = None) -> Categorical:
        """q(y|x) for prediction (at the posterior mean of z when the classifier reads z)."""
        return self.classify(self._classifier_features(x, self.encode(x, c).mean, c))

    def prior(self) -> Distribution:
        """Marginal p(z) = Σ_y N(z; μ_y, I) / C."""
        mix = Categorical(logits=torch.zeros(self.n_classes, device=self.class_means.device))
        comp = Independent(Normal(self.class_means, torch.ones_like(self.class_means)), 1)
        return MixtureSameFamily(mix, comp)

    def class_prior(self, y: int) -> Distribution:
        """p(z|y) = N(μ_y, I) of label level ``y`` (0 ≤ y < C), event shape (k,)."""
        loc = self.class_means[y]
        return Independent(Normal(loc, torch.ones_like(loc)), 1)

    def context(self, x: Tensor) -> dict[str, Tensor]:
        return self.likelihood.context(x)

    def forward(self, batch: Batch, config: ObjectiveConfig, epoch: int = 0) -> LossOutput:
        return self.loss(batch, config, epoch)

    def kl_per_class(self, qz: Distribution) -> Tensor:
        """KL(q(z_k|x) || N(μ_{y,k}, 1)) for every class, shape (n, C, k)."""
        q = _base_normal(qz)
        loc, scale = q.loc.unsqueeze(-2), q.scale.unsqueeze(-2)
        return -torch.log(scale) + 0.5 * (scale**2 + (loc - self.class_means) ** 2) - 0.5

    def rate_terms(self, x: Tensor, c: Tensor | None, qz: Distribution) -> tuple[Tensor, Tensor]:
        """The rate of the unlabelled bound with q(y|x) from the classifier at the posterior
        mean (as :meth:`label_distribution`): Σ_y q(y|x) KL(q(z_k|x) || N(μ_{y,k}, 1)) per
        dimension (n, k), and the label's KL(q(y|x) || Uniform) (n,). Any q(y) gives a lower
        bound on the marginal log p(x), so the diagnostics treat every record as unlabelled."""
        probs = self.classify(self._classifier_features(x, qz.mean, c)).probs
        kl_nk = (probs.unsqueeze(-1) * self.kl_per_class(qz)).sum(-2)
        return kl_nk, torch.xlogy(probs, probs).sum(-1) + math.log(self.n_classes)

    def loss(self, batch: Batch, config: ObjectiveConfig, epoch: int = 0) -> LossOutput:
        """Negative semi-supervised ELBO plus the weighted classification term.

        With free bits λ > 0 the rate of z enters the loss as Σ_k max(λ, batch mean of
        Σ_y r_y KL(q(z_k|x) || N(μ_{y,k}, 1))), r the one-hot label or q(y|z), as
        :func:`biovae.objectives.elbo` does for the VAE; the label's KL and the reported
        per-record ELBO keep no free bits."""
        qz = self.encode(batch.x, batch.c)
        z = draw(qz, batch)
        recon_n = -self.decode(z, batch.c, self.context(batch.x)).log_prob(batch.x)
        log_q_nc = self.classify(self._classifier_features(batch.x, z, batch.c)).logits
        y = batch.y if batch.y is not None else torch.full_like(recon_n, -1, dtype=torch.long)
        labelled = y >= 0
        onehot = one_hot(y.clamp_min(0), self.n_classes, log_q_nc.dtype)
        resp_nc = torch.where(labelled[:, None], onehot, log_q_nc.exp())
        kl_nk = (resp_nc.unsqueeze(-1) * self.kl_per_class(qz)).sum(-2)
        kl_y_n = torch.xlogy(resp_nc, resp_nc).sum(-1) + math.log(self.n_classes)
        kl_n = kl_nk.sum(-1) + kl_y_n
        if config.free_bits > 0:
            rate_z = _weighted_mean(kl_nk, batch.w).clamp_min(config.free_bits).sum()
            rate = rate_z + _weighted_mean(kl_y_n, batch.w)
        else:
            rate = _weighted_mean(kl_n, batch.w)
        ce, lab_weight = self._classification(log_q_nc, onehot, labelled, batch.w)
        loss = _weighted_mean(recon_n, batch.w) + beta_at(config, epoch) * rate
        loss = loss + config.classification_weight * ce
        extras = {"classification": ce.detach(), "labelled": lab_weight.detach()}
        penalty = batch_mmd(qz, batch, config.mmd_batch)
        if penalty is not None:
            loss = loss + penalty
            extras["mmd"] = penalty.detach()
        return LossOutput(
            loss,
            recon_n.detach(),
            kl_n.detach(),
            kl_nk.detach(),
            -(recon_n + kl_n).detach(),
            extras,
        )

    @staticmethod
    def _classification(
        log_q_nc: Tensor, onehot: Tensor, labelled: Tensor, w: Tensor | None
    ) -> tuple[Tensor, Tensor]:
        """The classification term Σ_i v_i (−log q(y_i|·)) / Σ_i v_i, v_i = w_i 1[i labelled]
        (w_i = 1 without weights; 0 when Σ v_i = 0), and Σ v_i (the labelled records' weight,
        which pools the term over batches)."""
        ce_n = -(onehot * log_q_nc).sum(-1)
        v_n = labelled.to(ce_n.dtype) if w is None else labelled * w.to(ce_n.dtype)
        total = v_n.sum()
        return (ce_n * v_n).sum() / torch.where(total > 0, total, 1.0), total

"""Posterior-collapse report: KL per dimension, active units, mutual information, a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from biovae.config import FitConfig

#: Mutual information (nats) below which the code is said to carry ≈ 0: the Monte-Carlo
#: estimate scatters around 0, and can come out just below it.
NO_INFORMATION = 0.005


@dataclass(frozen=True)
class CollapseReport:
    """Numbers behind the verdict and the verdict itself in plain language."""

    kl_per_dim: np.ndarray
    unit_variance: np.ndarray
    active: np.ndarray
    mutual_information: dict[str, float]
    verdict: str
    remedies: list[str] = field(default_factory=list)

    @property
    def n_active(self) -> int:
        return int(self.active.sum())

    def to_dict(self) -> dict:
        return {
            "n_latent": len(self.active),
            "n_active": self.n_active,
            "active": self.active.tolist(),
            "kl_per_dim": self.kl_per_dim.tolist(),
            "unit_variance": self.unit_variance.tolist(),
            "mutual_information": self.mutual_information,
            "verdict": self.verdict,
            "remedies": self.remedies,
        }


def collapse_report(
    kl_per_dim: np.ndarray,
    unit_variance: np.ndarray,
    active: np.ndarray,
    mutual_information: dict[str, float],
    config: FitConfig,
) -> CollapseReport:
    """Assemble the verdict from the measured numbers and the training configuration."""
    k, n_active = len(active), int(active.sum())
    verdict = f"{n_active} of {k} latent dimensions are active (variance of E_q[z_k] > 0.01)"
    mi = mutual_information.get("mutual_information", float("nan"))
    verdict += (
        f"; the code carries about {mi:.2f} nats about the data"
        if not mi < NO_INFORMATION
        else "; the code carries next to no information about the data (≈ 0 nats)"
    )
    if n_active == k:
        return CollapseReport(
            kl_per_dim,
            unit_variance,
            active,
            mutual_information,
            verdict + "; no sign of posterior collapse.",
            [],
        )
    causes = _likely_causes(config, n_active)
    verdict += (
        "; the model has collapsed to the prior"
        if n_active == 0
        else f"; {k - n_active} dimension{'s' if k - n_active > 1 else ''} collapsed to the prior"
    )
    verdict += f" — likely because {causes}." if causes else "."
    return CollapseReport(
        kl_per_dim, unit_variance, active, mutual_information, verdict, _remedies(config, n_active)
    )


def _likely_causes(config: FitConfig, n_active: int) -> str:
    reasons = []
    if config.objective.beta > 1:
        reasons.append(f"β = {config.objective.beta:g} > 1 makes information expensive")
    if n_active > 0 and config.objective.beta <= 1:
        reasons.append("the data need fewer dimensions than the model offers (often harmless)")
    if n_active == 0 and len(config.model.network.hidden) >= 2:
        reasons.append("a flexible decoder can model the data without the code")
    return " and ".join(reasons)


def _remedies(config: FitConfig, n_active: int) -> list[str]:
    out = []
    if config.objective.beta > 1:
        out.append("lower β (--beta), or trace the rate–distortion curve with 'biovae sweep'")
    if config.objective.kl_warmup_epochs == 0:
        out.append("KL warm-up (--kl-warmup 50) lets the encoder learn before the KL bites")
    if config.objective.free_bits == 0:
        out.append("free bits (--free-bits 0.1) stop the KL pressure below λ nats per dimension")
    if n_active == 0:
        out.append("a weaker decoder (fewer/narrower hidden layers) must rely on the code")
    if n_active > 0:
        out.append("if the collapsed dimensions are simply unneeded, a smaller --latent is fine")
    return out

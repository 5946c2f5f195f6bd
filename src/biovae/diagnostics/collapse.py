"""Posterior-collapse report: KL per dimension, active units, mutual information, a verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from biovae.config import FitConfig
from biovae.setting_names import setting

#: Mutual information (nats) below which the code is said to carry ≈ 0: the Monte-Carlo
#: estimate scatters around 0, and can come out just below it.
NO_INFORMATION = 0.005

#: Standard errors by which the estimate of I(x; z) may pass the rate and be called noise.
NOISE_SE = 3.0


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
    verdict += information_phrase(mutual_information)
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
    out, objective = [], config.objective
    if objective.iwae_samples > 1:  # no KL term: training refuses β, warm-up and free bits
        out.append(
            f"trained on the IWAE-{objective.iwae_samples} bound, which has no KL term to weigh: "
            "β, KL warm-up and free bits apply on the ELBO "
            f"({setting('objective.iwae_samples', 1)})"
        )
    else:
        out += _elbo_remedies(objective)
    if n_active == 0:
        out.append("a weaker decoder (fewer/narrower hidden layers) must rely on the code")
    if n_active > 0:
        smaller = setting("model.n_latent")
        out.append(f"if the collapsed dimensions are simply unneeded, a smaller {smaller} is fine")
    return out


def _elbo_remedies(objective) -> list[str]:
    """The ELBO's own levers against a collapse that ``objective`` does not use yet."""
    out = []
    if objective.beta > 1:
        out.append(
            f"lower β ({setting('objective.beta')}), or trace the rate–distortion curve with "
            "'biovae sweep'"
        )
    if objective.kl_warmup_epochs == 0:
        warmup = setting("objective.kl_warmup_epochs", 50)
        out.append(f"KL warm-up ({warmup}) lets the encoder learn before the KL bites")
    if objective.free_bits == 0:
        bits = setting("objective.free_bits", 0.1)
        out.append(f"free bits ({bits}) stop the KL pressure below λ nats per dimension")
    return out


def information_phrase(mi: dict[str, float]) -> str:
    """The verdict's clause on I(x; z) (a :func:`~biovae.diagnostics.rate_distortion.
    mutual_information` dict): never more than the rate of the same records allows."""
    value, est, se, rate = _reading(mi)
    if not value >= NO_INFORMATION:  # NaN too
        return "; the code carries next to no information about the data (≈ 0 nats)"
    if est <= value:
        spread = "" if se is None else f" ± {se:.3f}"
        of = "" if rate is None else f" (of a rate of {rate:.3f})"
        return f"; the code carries about {value:.3f}{spread} nats about the data{of}"
    bound = "all of its rate" if value == rate else "all that its N records can hold, log N"
    return (
        f"; the code carries about {value:.3f} nats about the data, {bound} (the estimate, "
        f"{est:.3f}, passed that bound {_by_noise(mi, est - value)})"
    )


def information_note(mi: dict[str, float]) -> str:
    """The report's note on I(x; z): the value with its standard error, the rate of the same
    records it is part of, and why a Monte-Carlo estimate past a bound is shown as the bound."""
    value, est, se, rate = _reading(mi)
    spread = "" if se is None else f" ± {se:.3f}"
    how = "estimated through the aggregate posterior (at most log N of the records used)"
    how += "" if se is None else "; ± one standard error over records"
    if not value >= NO_INFORMATION:
        return (
            f"Mutual information I(x; z) ≈ 0 nats (estimate {est:.3f}{spread}, Monte-Carlo "
            f"noise around 0), {how}."
        )
    if est > value:
        n = mi.get("n", "N")
        bound = f"the rate of the same {n} records" if value == rate else f"log {n}"
        return (
            f"Mutual information I(x; z) ≈ {value:.3f} nats, {bound}, which I(x; z) cannot "
            f"exceed: the estimate {est:.3f}{spread} passed it {_by_noise(mi, est - value)}; "
            f"{how}."
        )
    part = ""
    if rate is not None:
        kl = mi.get("marginal_kl", rate - value)
        part = (
            f" of a rate of {rate:.3f} on the same {mi.get('n', 'N')} records (rate = I(x; z) + "
            f"KL(q(z) ‖ p(z)), the marginal KL ≈ {kl:.3f})"
        )
    return f"Mutual information I(x; z) ≈ {value:.3f}{spread} nats{part}, {how}."


def _reading(mi: dict[str, float]) -> tuple[float, float, float | None, float | None]:
    """The value shown (NaN if none), the raw estimate, its standard error and the rate.
    Results of earlier versions held the raw estimate alone, as ``mutual_information``: it is
    clipped to the rate and log N here alike."""
    est = mi.get("estimate", mi.get("mutual_information"))
    est = float("nan") if est is None else est
    value = mi["mutual_information"] if "estimate" in mi else est
    bounds = [b for b in (mi.get("rate"), mi.get("max")) if b is not None]
    return min([value, *bounds]), est, mi.get("se"), mi.get("rate")


def _by_noise(mi: dict[str, float], excess: float) -> str:
    """How far past a bound the estimate went, in standard errors of the marginal KL (the
    noise of estimate − rate): within Monte-Carlo noise, or beyond it."""
    se = mi.get("marginal_kl_se")
    if se is None or not se > 0:
        return f"by {excess:.3f}"
    times = excess / se
    if times <= NOISE_SE:
        return f"by {excess:.3f}, {times:.1f} standard errors: Monte-Carlo noise"
    return f"by {excess:.3f}, {times:.1f} standard errors: more than noise explains, distrust it"

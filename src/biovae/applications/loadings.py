"""Feature loadings of a linearly decoded VAE (LDVAE; Svensson et al. 2020, *Bioinformatics*).

With ``network.decoder = "linear"`` the decoder's raw parameter for feature j is θ_j = Σ_k W_jk
z_k + Σ_m V_jm c_m + b_j (in evaluation; the batch norm of
:class:`biovae.nn.decoder.LinearHead` folded into W and b): latent dimension k is a factor and
W_jk its loading on feature j. For a count likelihood θ is the logit of the feature's share of
the counts (h = softmax(θ)), so exp(W_jk) is the factor's multiplicative effect on feature j's
expression per unit of z_k, relative to the other features. Adding a constant to all of column
k changes no probability (the softmax is shift-invariant), so the loadings of that output are
reported centred over the features (``centre=True``): the identifiable part. Other outputs
(e.g. ZINB's ``pi_logits``, a per-feature sigmoid) have no such freedom and are reported as
they are; centring them on request gives their deviation from the mean loading, not a
loading of the model. A sequence model's logits have one loading per position and letter,
centred over the letters of each position (a softmax per position). A PCA model's
loadings are probabilistic PCA's W = U (Λ − σ² I)^{1/2} on the featurised data (log1p counts),
for comparison.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from biovae.errors import ConfigError, model_phrase
from biovae.setting_names import setting


def loadings(est: Any, output: str | None = None, centre: bool | None = None) -> pd.DataFrame:
    """Features × ``z_1..z_k`` loadings of a fitted model with a linear decoder.

    Parameters
    ----------
    est
        A fitted VAE, semi-supervised VAE or autoencoder whose config has
        ``model.network.decoder = "linear"``, or a fitted PCA.
    output
        The likelihood's raw parameter (default: its first, e.g. ``rho`` of NB/ZINB/Poisson,
        ``loc`` of a Gaussian, ``logits`` of a Bernoulli).
    centre
        Subtract each factor's mean loading over the features; default: yes for the softmax
        output of count likelihoods with a library size (``rho``; module docstring), no for
        any other output. A sequence model's logits (positions × letters) give one row per
        position and letter, ``"12:A"``, centred over the letters of each position by default
        (its softmax over the letters ignores a constant).
    """
    fit = getattr(est, "fit_", None)
    if fit is not None and hasattr(fit, "loadings"):  # PCA
        if output is not None:
            raise ConfigError(
                f"a PCA has one set of loadings, no decoder output {output!r}; leave it out"
            )
        return _frame(est, fit.loadings.cpu().numpy(), centre=bool(centre))
    model = getattr(est, "model_", None)
    decoder = getattr(model, "decoder", None)
    heads = getattr(decoder, "heads", None)
    if heads is None:
        raise ConfigError(f"loadings need a fitted neural model, not {model_phrase(est)}")
    if est.config_.model.network.decoder != "linear":
        raise ConfigError(
            "loadings are the weights of a linear decoder: fit with "
            + setting("model.network.decoder", "linear")
        )
    name = output or next(iter(heads))
    if name not in heads:
        raise ConfigError(f"no decoder output {name!r}; outputs: {', '.join(heads)}")
    letters = _letters(est, name, tuple(decoder.shapes[name]))
    w = heads[name].effective_weight().detach().cpu().double().numpy()[:, : model.n_latent]
    if centre is None:
        centre = bool(letters) or name == getattr(model.likelihood, "composition_output", None)
    return _frame(est, w, centre, letters)


def _letters(est: Any, name: str, shape: tuple[int, ...]) -> str:
    """The alphabet of an output with one value per position and letter (a sequence model's
    logits), '' for one value per feature; any other shape is refused."""
    alphabet = est.schema_.alphabet or ""
    if len(shape) == 1:
        return ""
    if len(shape) == 2 and alphabet and shape[1] == len(alphabet):
        return alphabet
    raise ConfigError(
        f"loadings are one row per feature (or per position and letter); output {name!r} has "
        f"shape {shape}"
    )


def _frame(est: Any, w: np.ndarray, centre: bool, letters: str = "") -> pd.DataFrame:
    """Rows ``feature``, or ``position:letter`` (position-major, as the head's outputs) for
    sequences, whose loadings are centred over the letters of each position."""
    n_rows = w.shape[0] // max(len(letters), 1)
    features = tuple(est.schema_.features) or tuple(f"f{j}" for j in range(n_rows))
    if len(features) * max(len(letters), 1) != w.shape[0]:
        raise ConfigError(
            f"loadings are one row per feature: {w.shape[0]} rows for {len(features)} features"
        )
    if letters:
        w_lak = w.reshape(len(features), len(letters), -1)
        if centre:  # each position's softmax ignores a constant added to its letters' logits
            w_lak = w_lak - w_lak.mean(axis=1, keepdims=True)
        w = w_lak.reshape(w.shape)
        features = tuple(f"{f}:{a}" for f in features for a in letters)
    elif centre:
        w = w - w.mean(axis=0, keepdims=True)
    columns = [f"z_{k + 1}" for k in range(w.shape[1])]
    return pd.DataFrame(w, index=pd.Index(features, name="feature"), columns=columns)


def top_features(table: pd.DataFrame, n: int = 10) -> dict[str, tuple[list[str], list[str]]]:
    """Per factor, the (at most) ``n`` features with the largest positive loadings, largest
    first, and the ``n`` with the largest negative ones, most negative first: a feature with a
    positive loading is never listed as a negative one, nor the other way round."""
    out = {}
    names = table.index.to_numpy()
    for col in table.columns:
        values = table[col].to_numpy()
        order = np.argsort(values, kind="stable")
        up = [i for i in order[::-1][:n] if values[i] > 0]
        down = [i for i in order[:n] if values[i] < 0]
        out[col] = ([str(names[i]) for i in up], [str(names[i]) for i in down])
    return out

"""Monte-Carlo noise keyed by record: a record's draws depend on the seed, its id and the draw's
number, not on which records share its file or batch, nor on their order.

A Monte-Carlo score (ELBO, IWAE) drawn from one random stream spent in file order gives a
record another estimate in another file; with :class:`RecordNoise` a record scores the same
alone, in its file, shuffled or in any batch size. The standard normals come from a counter-
based generator: value t of a record is splitmix64's output mixer applied to
key + (t + 1)·γ (γ = 2⁶⁴/φ, the generator's own increment), two such 53-bit uniforms per normal
through Box–Muller; the key is a BLAKE2b hash of (seed, id).
"""

from __future__ import annotations

import hashlib
import operator
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from biovae.errors import ConfigError

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def checked_seed(seed: object) -> int:
    """``seed`` as an int, once known to be one that numpy's and torch's generators take
    (0 .. 2**63 − 1); anything else is a one-line error, not a traceback from the generator."""
    try:
        value = operator.index(seed)
    except TypeError:
        value = -1
    if not 0 <= value < 2**63:
        raise ConfigError(f"seed must be an integer in 0 .. 2**63 - 1, got {seed!r}")
    return value


def checked_draws(iwae: object, n_samples: object, stochastic: bool, model: str) -> tuple[int, int]:
    """``score``'s ``iwae`` (K) and ``n_samples`` as whole numbers >= 1, as ``biovae score``
    takes ``--iwae`` and ``--samples``; IWAE-K > 1 only of a model with a posterior to draw z
    from (``model`` names the model for the message). Anything else is a one-line error: 0 or
    −3 draws were scored as 1, 2.5 failed inside ``range``, and an autoencoder's or PCA's
    ``iwae=100`` returned its one deterministic score as if it were an IWAE bound."""
    counts = []
    for name, value in (("iwae", iwae), ("n_samples", n_samples)):
        try:
            count = -1 if isinstance(value, bool) else operator.index(value)
        except TypeError:
            count = -1
        if count < 1:
            raise ConfigError(f"{name}={value!r}: give a whole number >= 1 of draws per record")
        counts.append(count)
    if counts[0] > 1 and not stochastic:
        raise ConfigError(
            f"iwae={iwae!r} needs a VAE; {model} has no posterior to draw z from (its score is "
            "PCA's exact log-likelihood or an autoencoder's log p(x | z = f(x))); leave iwae at 1"
        )
    return counts[0], counts[1]


def record_keys(ids: Sequence[object], seed: int, stream: str = "") -> np.ndarray:
    """One 64-bit key per record (uint64, shape (n,)) from ``seed`` and the record's id;
    ``stream`` (≤ 16 bytes) names an independent set of keys for another use of the same
    seed (``biovae diagnose``: one per diagnostic; "" is ``score``'s)."""
    value = checked_seed(seed)
    salt, person = value.to_bytes(8, "little"), stream.encode()
    return np.array(
        [
            int.from_bytes(
                hashlib.blake2b(str(i).encode(), digest_size=8, salt=salt, person=person).digest(),
                "little",
            )
            for i in ids
        ],
        dtype=np.uint64,
    )


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's output function (a bijection of uint64 with full avalanche)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _uniform(keys: np.ndarray, counters: np.ndarray) -> np.ndarray:
    """Uniforms in (0, 1] (float64), one per broadcast (key, counter) pair."""
    bits = _mix(keys + (counters + np.uint64(1)) * _GAMMA)
    return ((bits >> np.uint64(11)).astype(np.float64) + 1.0) * 2.0**-53


class RecordNoise:
    """Standard normal draws for a batch of records with keys ``keys`` (see
    :func:`record_keys`). Successive calls continue each record's stream: call i of a batch
    gives every record its draws i·s … of the same sequence it would get in any other batch."""

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64)
        self.drawn = 0  # values of each record's stream used so far

    def __len__(self) -> int:
        return len(self.keys)

    def fork(self) -> RecordNoise:
        """A copy whose draws are this one's next draws (common random numbers: two estimates
        from the same values of each record's stream); neither advances the other."""
        twin = RecordNoise(self.keys)
        twin.drawn = self.drawn
        return twin

    def to(self, device: torch.device) -> RecordNoise:
        """Itself: draws are made on the device asked for at each call."""
        return self

    def standard_normal(self, n_draws: int, k: int, dtype, device) -> Tensor:
        """Shape (n_draws, n, k): draw s, record r, dimension j is value drawn + s·k + j of
        record r's stream."""
        t = self.drawn + np.arange(n_draws * k, dtype=np.uint64).reshape(n_draws, 1, k)
        self.drawn += n_draws * k
        key = self.keys.reshape(1, -1, 1)
        with np.errstate(over="ignore"):  # uint64 arithmetic wraps by design
            u1 = _uniform(key, np.uint64(2) * t)
            u2 = _uniform(key, np.uint64(2) * t + np.uint64(1))
        eps = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
        return torch.from_numpy(eps).to(device=device, dtype=dtype)

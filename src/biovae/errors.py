"""User-facing error types.

Every error a user can fix is a :class:`BiovaeError` whose message is one sentence saying what
is wrong, where (file, record, column) and how to fix it. The command line prints the message
without a traceback and exits with status 2.
"""

from __future__ import annotations

import functools
import sys
import warnings


class BiovaeError(Exception):
    """Base class of errors caused by user input, configuration or environment."""


class DataError(BiovaeError, ValueError):
    """Input data are missing, malformed or do not fit the chosen likelihood."""


class MissingFileError(DataError):
    """An input file, or an output's folder, is not there. It may be one node's alone, so
    under ``torchrun`` every process reports it (other input errors: rank 0 only)."""


class ConfigError(BiovaeError, ValueError):
    """A configuration value or key is invalid."""


class NotFittedError(ConfigError, AttributeError):
    """A fitted model's method or attribute was asked of an unfitted estimator. An
    ``AttributeError`` as well, as scikit-learn's ``NotFittedError`` is: ``hasattr(est,
    "classes_")`` is False before ``fit``. Once scikit-learn is imported (by the user: biovae
    does not import it for this), the error raised is scikit-learn's ``NotFittedError`` too,
    so ``except sklearn.exceptions.NotFittedError`` catches it as well."""

    def __new__(cls, *args: object) -> NotFittedError:
        if cls is NotFittedError:
            theirs = sys.modules.get("sklearn.exceptions")
            cls = _also_sklearns(theirs.NotFittedError) if theirs else cls
        return super().__new__(cls, *args)

    def __reduce__(self):  # pickled (joblib's workers) by the name the class is found by
        return NotFittedError, self.args, self.__dict__ or None


@functools.cache
def _also_sklearns(theirs: type[Exception]) -> type[NotFittedError]:
    """biovae's :class:`NotFittedError` that is scikit-learn's ``theirs`` as well (it can only
    be made once scikit-learn is imported, and ``except`` clauses match by class)."""
    attrs = {"__module__": __name__, "__qualname__": "NotFittedError"}
    return type("NotFittedError", (NotFittedError, theirs), attrs)


class TrainingError(BiovaeError, RuntimeError):
    """Training could not continue (for example the loss became NaN)."""


class PeerStoppedError(BiovaeError, RuntimeError):
    """Under ``torchrun``, another process stopped (its own message says why), so this one
    stopped with it instead of waiting for it. Every process reports it, with its rank."""


class LaunchError(ConfigError):
    """The environment describes a ``torchrun`` launch this process cannot join (``WORLD_SIZE``
    without ``RANK``, ...). Every process meets its own, so every one says it."""


class ModelFileError(BiovaeError, ValueError):
    """A saved model folder is missing, incomplete or from an incompatible version."""


class MissingDependencyError(BiovaeError, ImportError):
    """An optional dependency needed for this feature is not installed."""


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside biovae: the
    user's line, however deep the call that found the problem (a fixed ``stacklevel`` points
    into biovae, or into a dataclass's generated ``__init__`` (``<string>``), on some paths)."""
    frame, level = sys._getframe(1), 2  # stacklevel 2 is warn_at_caller's caller
    while frame.f_back is not None and _in_biovae(frame):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _in_biovae(frame) -> bool:
    """Whether ``frame`` runs biovae's code (generated code such as a dataclass's ``__init__``
    runs in the globals of the module that made it), or contextlib's between two of biovae's."""
    name = str(frame.f_globals.get("__name__", ""))
    # contextlib's frames run biovae's context managers (a warning from one's exit)
    return name in ("biovae", "contextlib") or name.startswith("biovae.")


#: Optional packages whose name on PyPI is not the name they are imported by.
_DISTRIBUTIONS = {"sklearn": "scikit-learn", "biom": "biom-format"}


def require(module: str, extra: str):
    """Import an optional dependency or raise a one-line install hint.

    Parameters
    ----------
    module
        Importable module name, e.g. ``"anndata"`` or ``"sklearn.neighbors"``.
    extra
        The biovae extra that installs it, e.g. ``"singlecell"``.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # the package a user installs, not the submodule: 'scikit-learn', not 'sklearn.neighbors'
        top = module.partition(".")[0]
        raise MissingDependencyError(
            f"this feature needs the optional package '{_DISTRIBUTIONS.get(top, top)}'; "
            f"install it with pip install 'biovae[{extra}]'"
        ) from exc


def model_phrase(est: object) -> str:
    """``"a plain autoencoder"``, ``"a probabilistic PCA"``, ... for messages; ``"an unfitted
    model"`` before ``fit``."""
    cfg = getattr(est, "config_", None)
    if cfg is None:
        return "an unfitted model"
    from biovae.config import kind_name

    return f"a {kind_name(cfg.model.kind)}"

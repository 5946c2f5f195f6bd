"""biovae: variational autoencoders for biological data.

The estimators (:class:`VAE`, :class:`Autoencoder`, :class:`PCA`, :class:`SemiSupervisedVAE`,
:class:`ConformationVAE`) follow scikit-learn's
conventions; :func:`load_model` loads any saved one; :mod:`biovae.tl` writes results into
AnnData objects.
"""

from biovae._version import __version__

__all__ = [
    "PCA",
    "VAE",
    "Autoencoder",
    "ConformationVAE",
    "SemiSupervisedVAE",
    "__version__",
    "load_model",
    "tl",
]


def __getattr__(name: str):
    # Lazy imports keep `import biovae` fast: torch loads with the first estimator (the CLI's
    # parser loads none of it, so that --help answers at once).
    if name in ("VAE", "Autoencoder", "PCA", "load_model"):
        from biovae import estimator

        return getattr(estimator, name)
    if name == "SemiSupervisedVAE":
        from biovae import ssvae_estimator

        return ssvae_estimator.SemiSupervisedVAE
    if name == "ConformationVAE":
        from biovae import structure_estimator

        return structure_estimator.ConformationVAE
    if name == "tl":
        import importlib

        return importlib.import_module("biovae.tl")
    raise AttributeError(f"module 'biovae' has no attribute {name!r}")

"""Models: the (conditional) VAE, the plain autoencoder and probabilistic PCA."""

from biovae.models.covariates import CovariateSpec
from biovae.models.schema import DataSchema
from biovae.models.vae import LatentVariableModel, build_model

__all__ = ["CovariateSpec", "DataSchema", "LatentVariableModel", "build_model"]

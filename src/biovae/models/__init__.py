"""Models: the (conditional) VAE, the semi-supervised VAE, the plain autoencoder and PCA."""

from biovae.models.covariates import CovariateSpec
from biovae.models.labels import LabelSpec
from biovae.models.schema import DataSchema
from biovae.models.vae import LatentVariableModel, build_model

__all__ = ["CovariateSpec", "DataSchema", "LabelSpec", "LatentVariableModel", "build_model"]

"""Encoder and decoder networks."""

from biovae.nn.decoder import Decoder
from biovae.nn.encoder import GaussianEncoder, PointEncoder
from biovae.nn.mlp import MLP

__all__ = ["MLP", "Decoder", "GaussianEncoder", "PointEncoder"]

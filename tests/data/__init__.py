"""Tests of biovae.data."""

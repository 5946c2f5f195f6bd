"""The torch-free list of likelihood names (what ``biovae fit --help`` shows) is the registry's."""

from __future__ import annotations

import importlib.util

import pytest

from biovae import likelihood_names, likelihoods
from biovae.cli.parser import build_parser


def test_names_are_the_registered_likelihoods() -> None:
    assert likelihoods.available() == likelihood_names.LIKELIHOOD_NAMES
    for name in likelihood_names.LIKELIHOOD_NAMES:
        assert likelihoods.get(name).name == name


def test_fit_help_lists_every_registered_likelihood() -> None:
    fit = next(a for a in build_parser()._actions if a.dest == "command").choices["fit"]
    text = next(a for a in fit._actions if a.dest == "cfg__model__likelihood__name").help
    listed = text.split("p(x|z) family: ", 1)[1].split(" (default", 1)[0].split(", ")
    assert tuple(listed) == likelihoods.available()


def test_registry_refuses_a_name_list_that_differs(monkeypatch) -> None:
    """A family registered but not named (or named but not registered) stops the import."""
    spec = importlib.util.spec_from_file_location("_registry_copy", likelihoods.__file__)
    copy = importlib.util.module_from_spec(spec)
    names = tuple(n for n in likelihood_names.LIKELIHOOD_NAMES if n != "zinb")
    monkeypatch.setattr(likelihood_names, "LIKELIHOOD_NAMES", names)
    with pytest.raises(ImportError, match="zinb"):
        spec.loader.exec_module(copy)

"""Chain selection, shared by the structure readers (PDB/trajectories and mmCIF).

A chain is named as the file writes it, case-sensitive: the chainID of a PDB record (column
22), the ``auth_asym_id`` of an mmCIF atom (gemmi's chain name, the id the PDB's own pages
show). Atoms without a chain id (a blank column 22, a PSF or GRO topology) are named by their
segment id (segid, PDB columns 73–76), in feature names too (``PROA:ALA:52:CA:x``; models
saved before name them ``A`` and load unchanged) and written back as that segid; atoms with
neither are named ``A``, the chain id they carry in feature names and written files.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from biovae.errors import DataError

#: The chain id of atoms that have neither a chain id nor a segment id.
NO_CHAIN = "A"


def chain_selection(chains: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """``chains`` as a tuple of distinct chain ids (a single string is one id); ``None``
    keeps every chain."""
    if chains is None:
        return None
    ids = (chains,) if isinstance(chains, str) else tuple(chains)
    if not ids or any(not isinstance(c, str) or not c.strip() for c in ids):
        raise DataError(
            f"chains={chains!r} is not a list of chain ids; give ids such as ('A',) or "
            "('A', 'B'), or None for every chain"
        )
    return tuple(dict.fromkeys(ids))


def check_chains(path: object, wanted: tuple[str, ...] | None, found: Iterable[str]) -> None:
    """A one-line error naming ``path`` and its chains (``found``, the chains holding selected
    atoms, in file order) unless every chain of ``wanted`` is among them."""
    have = tuple(dict.fromkeys(found))
    missing = [c for c in wanted or () if c not in have]
    if missing:
        raise DataError(
            f"{path}: no chain {missing[0]!r} among its protein chains ({', '.join(have)}); "
            "chain ids are case-sensitive, pass one of these with --chain"
        )

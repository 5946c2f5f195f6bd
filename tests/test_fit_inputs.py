"""What a fit derives before training: the validation split."""

from __future__ import annotations

import torch

from biovae.fit_inputs import validation_split


def test_a_level_whose_labels_were_all_held_out_keeps_one_in_training():
    n = 100
    _, val = validation_split(n, 0.2, 0)
    y = torch.full((n,), -1)
    y[::7] = 0  # level 0 has records on both sides of the split
    y[val[:2]] = 1  # level 1's two labelled records were both drawn for validation
    train, held = validation_split(n, 0.2, 0, y)
    assert (y[train] == 1).sum() == 1 and (y[held] == 1).sum() == 1
    assert len(train) + len(held) == n and not set(train.tolist()) & set(held.tolist())
    assert torch.equal(train, train.sort().values) and torch.equal(held, held.sort().values)
    y[val[:2]] = -1  # every level already in training: the split drawn without labels
    plain = validation_split(n, 0.2, 0)
    assert all(torch.equal(a, b) for a, b in zip(validation_split(n, 0.2, 0, y), plain))

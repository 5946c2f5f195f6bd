"""Progress bar over epochs (tqdm on a terminal, silent otherwise)."""

from __future__ import annotations

import sys


class Progress:
    """Epoch progress with the latest losses; disabled bars cost nothing."""

    def __init__(self, total: int, initial: int = 0, enabled: bool = True) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                unit="epoch",
                desc="training",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                disable=None,  # silent when stderr is not a terminal (logs, CI)
                mininterval=0.5,
            )

    def update(self, row: dict[str, float]) -> None:
        if self.bar is None:
            return
        shown = {"elbo": row.get("elbo")}
        if "val_elbo" in row:
            shown["val_elbo"] = row["val_elbo"]
        self.bar.set_postfix({k: f"{v:.4g}" for k, v in shown.items() if v is not None})
        self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

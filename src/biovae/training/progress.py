"""Progress bar over epochs or updates (tqdm on a terminal, silent otherwise)."""

from __future__ import annotations

import sys


class Progress:
    """Progress with the latest losses; disabled bars cost nothing."""

    def __init__(
        self,
        total: int,
        initial: int = 0,
        enabled: bool = True,
        *,
        unit: str = "epoch",
        desc: str = "training",
    ) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=total,
                initial=initial,
                unit=unit,
                desc=desc,
                file=sys.stderr,
                dynamic_ncols=True,
                leave=False,
                disable=None,  # silent when stderr is not a terminal (logs, CI)
                mininterval=0.5,
            )

    def update(self, row: dict[str, float] | None = None, n: int = 1) -> None:
        """Advance by ``n``, showing the ELBO (and held-out ELBO) of ``row`` when given."""
        if self.bar is None:
            return
        if row is not None:
            shown = {"elbo": row.get("elbo")}
            if "val_elbo" in row:
                shown["val_elbo"] = row["val_elbo"]
            shown = {k: f"{v:.4g}" for k, v in shown.items() if v is not None}
            self.bar.set_postfix(shown, refresh=False)
        self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # on an error too: an open bar had the error printed on its line

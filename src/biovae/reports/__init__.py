"""HTML reports of fitted models (needs the ``report`` extra: matplotlib).

>>> from biovae.reports import write_report
>>> write_report(vae, "report.html", data=dataset)  # doctest: +SKIP
"""

from biovae.reports.html import write_report

__all__ = ["write_report"]

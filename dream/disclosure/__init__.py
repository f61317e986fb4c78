"""Disclosure control for published count tables (YdelsesAktivitetBenchmark): primary suppression of small
cells, secondary suppression by Gaussian elimination in exact arithmetic, interval protection, carry-over
between releases, and an audit by linear programming. See docs/disclosure.md.

    from dream.disclosure import Dimension, geografi, suppress, audit

    dims = [geografi(), Dimension.flat("ydelsesgruppe"), Dimension.flat("visitationsgruppe"),
            Dimension.flat("aktivering")]
    result = suppress(inner, dims, value="antal")        # one period; inner: one row per leaf combination
    result.cells                                          # every published cell, suppressed + reason
    audit(result.published(), dims, value="antal").ok     # anyone can check it
"""

from dream.disclosure.audit import AuditResult, audit, audit_releases
from dream.disclosure.dimensions import Dimension, geografi
from dream.disclosure.errors import AuditFailure, DisclosureError, DisclosureInputError
from dream.disclosure.suppression import SuppressionResult, suppress

__all__ = ["Dimension", "geografi", "suppress", "SuppressionResult", "audit", "audit_releases", "AuditResult",
           "AuditFailure", "DisclosureError", "DisclosureInputError"]

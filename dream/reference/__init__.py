"""Versioned reference data shipped with the package: benefit codes, groups and municipalities."""

from dream.reference.codes import BenefitCode, benefit_codes, code_lookup, reference_version
from dream.reference.kommuner import Kommune, kommuner, UNKNOWN_KOMMUNE

__all__ = [
    "BenefitCode",
    "benefit_codes",
    "code_lookup",
    "reference_version",
    "Kommune",
    "kommuner",
    "UNKNOWN_KOMMUNE",
]

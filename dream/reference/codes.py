"""The DREAM benefit code list and its mapping to groups, activation types and flags.

Both halves are data (``ydelseskoder.csv`` and ``ydelsesgrupper.yaml``); this module only joins them and
refuses a code list that the mapping does not cover.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

import yaml

from dream.errors import ReferenceDataError

_PACKAGE = "dream.reference"


@dataclass(frozen=True)
class BenefitCode:
    ydelseskode: str
    tekst: str
    ydelsesgruppe: str
    ydelsesfamilie: str | None  # cash-benefit family whose group follows the visitation category
    aktiveringstype: str
    aktiv: bool
    offentlig_forsoergelse: bool
    exit: bool


def _expand(ranges: list[str]) -> set[str]:
    """``["111", "213-219"]`` -> the set of 3-digit code strings those ranges cover."""
    codes: set[str] = set()
    for item in ranges:
        low, _, high = str(item).partition("-")
        high = high or low
        if not (low.isdigit() and high.isdigit() and len(low) == len(high) == 3 and low <= high):
            raise ReferenceDataError(f"malformed code range {item!r} in ydelsesgrupper.yaml")
        codes.update(f"{c:03d}" for c in range(int(low), int(high) + 1))
    return codes


@functools.cache
def _mapping() -> dict:
    text = resources.files(_PACKAGE).joinpath("ydelsesgrupper.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def reference_version() -> str:
    return str(_mapping()["version"])


@functools.cache
def _code_texts() -> tuple[tuple[str, str], ...]:
    with resources.files(_PACKAGE).joinpath("ydelseskoder.csv").open(encoding="utf-8") as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return tuple((r["ydelseskode"], r["tekst"]) for r in rows)


def _activation_type(code: str, m: dict, families: set[str]) -> str:
    if code in m["activation_codes"]:
        return m["activation_codes"][code]
    if code in families:
        return m["activation_by_last_digit"].get(code[-1], m["no_activation"])
    return m["no_activation"]


@functools.cache
def benefit_codes() -> tuple[BenefitCode, ...]:
    """Every code of the code list with its mapping, in code order."""
    m = _mapping()
    groups = [(name, _expand(r)) for name, r in m["groups"].items()]
    families = [(name, _expand(f["codes"])) for name, f in m["visitation_families"].items()]
    activation_families = _expand(m["activation_families"])
    public = _expand(m["public_support"])
    exits = _expand(m["exit_codes"])
    out = []
    for code, text in _code_texts():
        group = next((name for name, codes in groups if code in codes), m["other_group"])
        activation = _activation_type(code, m, activation_families)
        out.append(
            BenefitCode(
                ydelseskode=code,
                tekst=text,
                ydelsesgruppe=group,
                ydelsesfamilie=next((name for name, codes in families if code in codes), None),
                aktiveringstype=activation,
                aktiv=activation not in ("Passiv", m["no_activation"]),
                offentlig_forsoergelse=code in public,
                exit=code in exits,
            )
        )
    return tuple(out)


def code_lookup() -> dict[str, BenefitCode]:
    return {c.ydelseskode: c for c in benefit_codes()}


def group_names() -> list[str]:
    """Every ydelsesgruppe, in the order of the mapping, ending with the catch-all and the blank group."""
    m = _mapping()
    return [*m["groups"], m["other_group"], m["blank_group"]]


def blank_group() -> str:
    return str(_mapping()["blank_group"])


def visitation_families() -> dict[str, dict[str, str]]:
    """Family name -> {"jobparat": group, "aktivitetsparat": group}."""
    return {
        name: {k: v for k, v in f.items() if k != "codes"}
        for name, f in _mapping()["visitation_families"].items()
    }


def visitation_categories() -> dict[str, str]:
    """Visitation category -> "jobparat" or "aktivitetsparat" (the family variant it selects)."""
    return dict(_mapping()["visitation_categories"])


def recipient_status() -> dict[str, str]:
    """"same" / "other" / "none" -> the status text of seed 000."""
    return dict(_mapping()["recipient_status"])


def key_figure_groups() -> list[str]:
    return list(_mapping()["key_figure_groups"])


def selected_groups() -> tuple[str, list[str]]:
    s = _mapping()["selected_groups"]
    return s["name"], list(s["groups"])

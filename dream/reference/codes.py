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


# Spells and jobindsats-style measures (seed 002, 003, 004).

def exit_codes() -> list[str]:
    """The codes that end a person's history (996-999): no benefit, so never part of a benefit spell."""
    return [c.ydelseskode for c in benefit_codes() if c.exit]


def activation_groups() -> list[str]:
    """The groups with at least one active code, in mapping order: the groups a passive share means
    something for (a group without active codes would be 100 % passive by construction)."""
    active = {c.ydelsesgruppe for c in benefit_codes() if c.aktiv}
    return [g for g in group_names() if g in active]


@dataclass(frozen=True)
class DurationInterval:
    inddeling: str  # "maaned", "sum" or "aar": the intervals of one inddeling partition the recipients
    sortering: int
    varighed: str
    fra: int  # days, included
    til: int | None  # days, included; None = open


_INDDELINGER = ("maaned", "sum", "aar")


def duration_intervals() -> list[DurationInterval]:
    """The duration intervals of seed 003 Skema 1, in days; checked so that each inddeling covers its
    range without gaps or overlaps."""
    out = [DurationInterval(r["inddeling"], i, r["varighed"], int(r["fra"]),
                            None if r["til"] is None else int(r["til"]))
           for i, r in enumerate(_mapping()["duration_intervals"], start=1)]
    for name in _INDDELINGER:
        parts = [d for d in out if d.inddeling == name]
        ends, starts = [d.til for d in parts[:-1]], [d.fra for d in parts[1:]]
        if not parts or None in ends or parts[-1].til is not None \
                or any(start != end + 1 for end, start in zip(ends, starts)):
            raise ReferenceDataError(f"duration_intervals in ydelsesgrupper.yaml: the {name!r} intervals must "
                                     "follow each other without gaps or overlaps and end open (til: null)")
    if unknown := {d.inddeling for d in out} - set(_INDDELINGER):
        raise ReferenceDataError(f"duration_intervals in ydelsesgrupper.yaml: unknown inddeling {sorted(unknown)}; "
                                 f"use one of {list(_INDDELINGER)}")
    return out


@dataclass(frozen=True)
class ProgressionRules:
    employment_codes: frozenset[str]
    company_activation_types: frozenset[str]
    status: dict  # "employment" / "company" / "other" / "unknown" -> status text


def progression_rules() -> ProgressionRules:
    p = _mapping()["progression"]
    known_types = {c.aktiveringstype for c in benefit_codes()}
    if unknown := set(p["company_activation_types"]) - known_types:
        raise ReferenceDataError(f"progression.company_activation_types in ydelsesgrupper.yaml: {sorted(unknown)} "
                                 f"is not an activation type; known: {sorted(known_types)}")
    return ProgressionRules(frozenset(_expand(p["employment_codes"])), frozenset(p["company_activation_types"]),
                            dict(p["status"]))


def public_support_total() -> str:
    """The label of the all-groups row in the public-support measures."""
    return str(_mapping()["public_support_total"])

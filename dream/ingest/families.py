"""Column families: which input column holds which value for which period (configuration in
``conf/families.yaml``), and the column plan of one delivery, worked out from its column names alone."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dream.calendar import IsoWeek, expand_two_digit_year, weeks_in_year
from dream.config import conf_dir
from dream.errors import ConfigError, InputError

GRAINS = ("week", "month", "quarter", "year")
CHECKS = ("benefit_code", "kommune", "fraction", "text")
_FAMILY_KEYS = {"pattern", "prefix", "grain", "table", "value", "check"}


@dataclass(frozen=True)
class Family:
    name: str
    pattern: re.Pattern
    prefix: str
    grain: str
    table: str
    value: str
    check: str


@dataclass(frozen=True)
class FamilySpec:
    person_ids: tuple[str, ...]
    person_attributes: tuple[str, ...]
    families: tuple[Family, ...]


@dataclass(frozen=True)
class Period:
    """Where one input column lands: ISO/calendar year, the period within it (week, month, quarter; 0 for
    a year) and the period's first day (the Monday of a week)."""

    aar: int
    periode: int
    start: dt.date


@dataclass
class ColumnPlan:
    person_id: str
    attributes: list[str]
    columns: dict[str, list[tuple[str, Period]]] = field(default_factory=dict)  # family -> [(column, period)]
    malformed: dict[str, list[str]] = field(default_factory=dict)  # family -> columns with a bad period
    unmatched: list[str] = field(default_factory=list)

    def residence_columns(self) -> dict[int, str]:
        """ISO/calendar year -> the nykom column giving the residence at that year's end."""
        return {period.aar: column for column, period in self.columns.get("nykom", [])}


def load_families(directory: str | Path | None = None) -> FamilySpec:
    path = conf_dir(directory) / "families.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(raw) - {"person", "families"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {sorted(unknown)} (known: person, families)")
    families = []
    for name, item in raw["families"].items():
        extra = set(item) - _FAMILY_KEYS
        if extra or set(item) != _FAMILY_KEYS:
            raise ConfigError(f"{path}: family {name!r} must have exactly the keys {sorted(_FAMILY_KEYS)}; "
                              f"unknown {sorted(extra)}, missing {sorted(_FAMILY_KEYS - set(item))}")
        if item["grain"] not in GRAINS or item["check"] not in CHECKS:
            raise ConfigError(f"{path}: family {name!r}: grain must be one of {GRAINS}, check one of {CHECKS}")
        families.append(Family(name=name, pattern=re.compile(item["pattern"]), **{
            k: item[k] for k in ("prefix", "grain", "table", "value", "check")}))
    person = raw["person"]
    return FamilySpec(tuple(person["id"]), tuple(person["attributes"]), tuple(families))


def period_of(family: Family, match: re.Match) -> Period | None:
    """The period a matching column name stands for, or None when the name is malformed (week 54, month 13)."""
    g = match.groupdict()
    if family.grain == "week":
        year, week = expand_two_digit_year(int(g["yy"])), int(g["ww"])
        if not 1 <= week <= weeks_in_year(year):
            return None
        return Period(year, week, IsoWeek(year, week).monday)
    year = int(g["year"])
    if family.grain == "month":
        month = int(g["month"])
        return Period(year, month, dt.date(year, month, 1)) if 1 <= month <= 12 else None
    if family.grain == "quarter":
        quarter = int(g["quarter"])
        return Period(year, quarter, dt.date(year, 3 * quarter - 2, 1)) if 1 <= quarter <= 4 else None
    return Period(year, 0, dt.date(year, 1, 1))


def plan_columns(names: list[str], spec: FamilySpec, source: str) -> ColumnPlan:
    """Sort a delivery's columns into families. Raises InputError when the delivery cannot be used."""
    lower = {name.lower(): name for name in names}
    person_id = next((lower[c] for c in spec.person_ids if c in lower), None)
    if person_id is None:
        raise InputError(f"{source}: no person column: expected one of {list(spec.person_ids)} "
                         f"among its {len(names)} columns")
    plan = ColumnPlan(person_id=person_id, attributes=[lower[a] for a in spec.person_attributes if a in lower])
    taken = {person_id, *plan.attributes}
    for name in names:
        if name in taken:
            continue
        key = name.lower()
        family = next((f for f in spec.families if key.startswith(f.prefix)), None)
        if family is None:
            plan.unmatched.append(name)
            continue
        match = family.pattern.match(key)
        period = period_of(family, match) if match else None
        if period is None:
            plan.malformed.setdefault(family.name, []).append(name)
        else:
            plan.columns.setdefault(family.name, []).append((name, period))
    if not plan.columns.get("y"):
        raise InputError(f"{source}: no weekly benefit columns (y_YYWW) found: is this a DREAM delivery?")
    return plan

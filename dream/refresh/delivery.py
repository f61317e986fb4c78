"""What a delivery is, before anything is written: its month, its weeks, its persons, its fingerprint, and
the checks a whole delivery must pass (the row-level checks are the ingest's).

A delivery is named by its month (``YYYY-MM``): by default the month, by the Thursday rule, of its last
weekly column. The checks here catch what would otherwise publish wrong figures without a single bad
cell: a missing week in the middle (every person would look off benefits that week), CPR numbers
delivered as numbers (the leading zero is lost), codes delivered as decimals or dates, a delivery older
than the one already published, a delivery whose weeks run past its own month, and a delivery that has
lost a large share of the persons of the last one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from dream.calendar import IsoWeek, week_range
from dream.errors import InputError
from dream.ingest.families import FamilySpec, plan_columns
from dream.ingest.sources import Delivery

log = logging.getLogger(__name__)

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_TAIL_BYTES = 1 << 20  # a Parquet file's footer (schema, row counts, statistics) lies in its last bytes


@dataclass(frozen=True)
class DeliveryInfo:
    source: str
    leverance: str  # YYYY-MM
    first_week: IsoWeek
    last_week: IsoWeek
    persons: int
    fingerprint: str


def parse_month(text: str) -> tuple[int, int]:
    match = _MONTH.match(text or "")
    if not match:
        raise InputError(f"the delivery must be named by its month as YYYY-MM, got {text!r}")
    return int(match.group(1)), int(match.group(2))


def inspect_delivery(source: str, delivery: Delivery, spec: FamilySpec, leverance: str | None) -> DeliveryInfo:
    """Checks the delivery as a whole and describes it. Raises InputError naming what to fix."""
    plan = plan_columns(delivery.columns, spec, source)
    schema = pq.ParquetFile(delivery.files[0]).schema_arrow
    _check_types(source, schema, plan.person_id, [c for c, _ in plan.columns["y"]])
    weeks = sorted(IsoWeek(p.aar, p.periode) for _, p in plan.columns["y"])
    _check_contiguous(source, weeks)
    last_month = weeks[-1].maaned
    if leverance is None:
        leverance = f"{last_month[0]}-{last_month[1]:02d}"
    elif last_month > parse_month(leverance):
        raise InputError(f"{source}: delivery {leverance} holds weeks up to {weeks[-1].column} "
                         f"({last_month[0]}-{last_month[1]:02d} by its Thursday): is it the right file, "
                         "or the right --delivery?")
    return DeliveryInfo(source, leverance, weeks[0], weeks[-1], delivery.rows, fingerprint(delivery.files))


def check_against_last(info: DeliveryInfo, last_leverance: str | None, last_persons: int | None,
                       max_person_drop: int, allow_older: bool) -> None:
    """A delivery older than the published one, or with far fewer persons, stops the refresh."""
    if last_leverance and info.leverance < last_leverance and not allow_older:
        raise InputError(f"{info.source}: delivery {info.leverance} is older than the published delivery "
                         f"{last_leverance}; refreshing would replace newer figures with older ones "
                         "(pass --allow-older to do it on purpose)")
    if last_persons and info.persons < last_persons * (100 - max_person_drop) / 100:
        raise InputError(f"{info.source}: {info.persons:,} persons, {max_person_drop}% or more fewer than the "
                         f"{last_persons:,} of delivery {last_leverance}: is the file complete? "
                         "(refresh.max_person_drop sets the limit)")


def fingerprint(files: list[str]) -> str:
    """A digest of the delivery's files: sizes and footers (schema, row groups, statistics), not every byte,
    so a national file is fingerprinted in milliseconds and any change of content changes it."""
    digest = hashlib.sha256()
    for file in sorted(files):
        path = Path(file)
        size = path.stat().st_size
        digest.update(f"{path.name}:{size}".encode())
        with path.open("rb") as f:
            f.seek(max(0, size - _TAIL_BYTES))
            digest.update(f.read())
    return digest.hexdigest()[:32]


def _check_types(source: str, schema: pa.Schema, person_column: str, week_columns: list[str]) -> None:
    person_type = schema.field(person_column).type
    if not _is_text(person_type):
        raise InputError(f"{source}: the person column {person_column!r} is {person_type}: CPR numbers must be "
                         "delivered as text (as numbers, the leading zero of persons born on the 1st-9th of a "
                         "month is lost)")
    wrong = [c for c in week_columns if not (_is_text(schema.field(c).type) or pa.types.is_integer(schema.field(c).type)
                                             or pa.types.is_null(schema.field(c).type))]
    if wrong:
        raise InputError(f"{source}: {len(wrong)} weekly columns are not text or whole numbers "
                         f"(e.g. {wrong[0]!r} is {schema.field(wrong[0]).type}): benefit codes are 3-digit codes")


def _is_text(type_: pa.DataType) -> bool:
    if pa.types.is_dictionary(type_):
        type_ = type_.value_type
    return pa.types.is_string(type_) or pa.types.is_large_string(type_)


def _check_contiguous(source: str, weeks: list[IsoWeek]) -> None:
    expected = week_range(weeks[0], weeks[-1])
    missing = sorted(set(expected) - set(weeks))
    if missing:
        names = ", ".join(w.column for w in missing[:5])
        raise InputError(f"{source}: {len(missing)} weekly columns are missing between {weeks[0].column} and "
                         f"{weeks[-1].column} (first: {names}); a missing week would read as no benefit for "
                         "everyone. Ask for a complete delivery.")

"""``maaling_passivandel``: the passive share among recipients with at least 12 months on the benefit, per
municipality, month and group (seed 004, "manglende aktiv indsats"; jobindsats "passivandel ... seneste
12 mdr.").

Definition
- Population: the recipients of a group in the month (at least one week of the group in the month, by
  Thursday) whose current spell, counted as in ``maaling_varighed`` up to their last week of the group in
  the month, is at least 12 months: 365 days or more (seed 003 Skema 1). 52 weeks are 364 days: not yet.
- Passive: no active week of the group (a code whose activation type is neither passive nor "Ikke
  relevant") in the last 52 calendar weeks of the spell, i.e. the 52 weeks ending with that last week.
  At 365+ days those 52 weeks lie wholly inside the spell.
- ``passivandel`` = passive / population. Only the groups that have active codes at all are measured
  (``activation_groups()``; a group without them would be 100 % passive by construction).
- Municipality: residence in the person's last week of the group in the month (seed 003).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from dream.reference.codes import activation_groups

DAYS_12_MONTHS = 365  # seed 003 Skema 1: "12 måneder og derover: 365 dage +"
PASSIV_COLUMNS = ["periode", "kommune", "ydelsesgruppe", "antal_personer", "antal_passive", "passivandel"]


def build_passive_share(months: DataFrame) -> DataFrame:
    """``months``: ``fact_forloeb_maaned``."""
    long_spells = months.where(F.col("ydelsesgruppe").isin(activation_groups()) & (F.col("dage") >= DAYS_12_MONTHS))
    return (long_spells.groupBy("periode", "kommune", "ydelsesgruppe")
            .agg(F.count(F.lit(1)).alias("antal_personer"),
                 F.count(F.when(F.col("aktive_uger_52") == 0, 1)).alias("antal_passive"))
            .withColumn("passivandel", F.col("antal_passive") / F.col("antal_personer"))
            .select(*PASSIV_COLUMNS))

"""``build_model``: the long tables of a warehouse -> dimensions, ``fact_dream``, ``overgang_52`` and
``noegletal`` as Delta tables in the same warehouse."""

from __future__ import annotations

import logging
import time

from delta.tables import DeltaTable
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dream.model.dimensions import dim_kommune, dim_modtagerstatus, dim_tid, dim_ydelse, dim_ydelsesgruppe
from dream.model.fact import build_fact, monthly_values
from dream.model.keyfigures import build_key_figures
from dream.model.transitions import build_transitions
from dream.tables import table_path, write_table

log = logging.getLogger(__name__)

# Families a delivery may lack (the weekly table and the persons it may not): their empty shapes.
OPTIONAL = {
    "dsa_visit": "person_id string, aar int, kvartal int, visitationskategori string, kommune string",
    "dsa_match": "person_id string, aar int, kvartal int, matchkategori string, kommune string",
    "dsa_branche": "person_id string, aar int, maaned int, branche string, kommune string",
    "dsa_arbsted": "person_id string, aar int, maaned int, arbejdsstedskommune string, kommune string",
    "dsa_virkform": "person_id string, aar int, maaned int, virkform string, kommune string",
    "dsa_grad": "person_id string, aar int, maaned int, grad double, kommune string",
    "dsa_ak": "person_id string, aar int, akasse string, kommune string",
    "dsa_afm": "person_id string, aar int, akasse_medlem string, kommune string",
}


def build_model(spark: SparkSession, warehouse: str) -> dict[str, int]:
    """Returns table -> new Delta version."""
    started = time.monotonic()

    def read(name):
        path = table_path(warehouse, name)
        if name in OPTIONAL and not DeltaTable.isDeltaTable(spark, path):
            log.warning("No %s table in %s: its values are empty in fact_dream", name, warehouse)
            return spark.createDataFrame([], OPTIONAL[name])
        return spark.read.format("delta").load(path)

    versions = {}
    log.info("Model 1/4: dimensions")
    weeks = read("dsa_uger")
    dims = {"dim_tid": dim_tid(weeks), "dim_kommune": dim_kommune(spark), "dim_ydelse": dim_ydelse(spark),
            "dim_ydelsesgruppe": dim_ydelsesgruppe(spark), "dim_modtagerstatus": dim_modtagerstatus(spark)}
    for name, df in dims.items():
        versions[name] = write_table(df.coalesce(1), warehouse, name, [])

    log.info("Model 2/4: fact_dream")
    monthly = monthly_values(read("dsa_branche"), read("dsa_arbsted"), read("dsa_virkform"), read("dsa_grad"))
    fact = build_fact(read("dsa_y"), read("dim_ydelse"), read("dsa_borger"), read("dsa_visit"), read("dsa_match"),
                      monthly, read("dsa_ak"), read("dsa_afm"))
    versions["fact_dream"] = write_table(fact, warehouse, "fact_dream", ["aar"])

    log.info("Model 3/4: overgang_52")
    last_monday = weeks.agg(F.max("uge_start")).first()[0]  # one value
    overgang = build_transitions(read("fact_dream"), last_monday)
    versions["overgang_52"] = write_table(overgang, warehouse, "overgang_52", ["aar"])

    log.info("Model 4/4: noegletal")
    key_figures = build_key_figures(read("overgang_52"), read("dim_kommune"))
    versions["noegletal"] = write_table(key_figures.coalesce(4), warehouse, "noegletal", ["periodetype"])
    log.info("Model built in %.1f s", time.monotonic() - started)
    return versions

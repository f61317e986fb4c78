# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # DREAM quickstart
#
# Reads the long Delta tables of a warehouse made by `dream run` or `dream ingest`. On Databricks the
# existing session is used; paths are parameters (widgets there, environment variables elsewhere).

# %% tags=["parameters"]
import os

WAREHOUSE = os.environ.get("DREAM_WAREHOUSE", "data/warehouse")
ENV = os.environ.get("DREAM_ENV", "local")

# %%
from pyspark.sql import functions as F

from dream.config import load_config
from dream.reference import benefit_codes
from dream.session import get_spark

spark = get_spark(load_config(ENV))
dsa_y = spark.read.format("delta").load(f"{WAREHOUSE}/dsa_y")

# %% [markdown]
# Recipients per benefit group in the last delivered week (distinct persons).

# %%
groups = spark.createDataFrame([(c.ydelseskode, c.ydelsesgruppe) for c in benefit_codes()],
                               "ydelseskode string, ydelsesgruppe string")
last = dsa_y.agg(F.max(F.struct("aar", "uge")).alias("w")).first().w
per_group = (dsa_y.where((F.col("aar") == last.aar) & (F.col("uge") == last.uge))
             .join(F.broadcast(groups), "ydelseskode")
             .groupBy("ydelsesgruppe").agg(F.countDistinct("person_id").alias("antal_borgere"))
             .orderBy(F.desc("antal_borgere")))
per_group.show(truncate=False)

# %% [markdown]
# The run log: what each ingest read, wrote and quarantined.

# %%
spark.read.format("delta").load(f"{WAREHOUSE}/koersel_log").orderBy("tidspunkt", "tabel").show(truncate=False)
QUICKSTART_RESULT = {r.ydelsesgruppe: r.antal_borgere for r in per_group.collect()}

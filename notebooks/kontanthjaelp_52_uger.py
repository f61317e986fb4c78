# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Kontanthjælp (Jobparate): hvor er de 52 uger efter?
#
# The standard report of seed 000, bilag 1 (§10): one week of one municipality, the recipients of one
# benefit group, where they are 52 weeks later (*Dream modtagerstatus* and *Ydelsesgruppe 52 uger efter*),
# and for those no longer on any benefit their branche and workplace municipality.
#
# Reads `fact_dream`, `overgang_52`, `dsa_branche`, `dsa_arbsted` and `dim_kommune` of a warehouse made by
# `dream run` or `dream model`. On Databricks the existing session is used.
#
# **Disclosure.** This notebook runs in the restricted layer, for the municipality's own analyst. It still
# shows counts of persons only, never person ids: do not add a cell that does.

# %% tags=["parameters"]
import os

WAREHOUSE = os.environ.get("DREAM_WAREHOUSE", "data/warehouse")
ENV = os.environ.get("DREAM_ENV", "local")
KOMMUNE = os.environ.get("DREAM_KOMMUNE", "101")
# Empty: the latest week whose follow-up 52 weeks on is delivered (the latest week of overgang_52).
AAR = os.environ.get("DREAM_AAR", "")
UGE = os.environ.get("DREAM_UGE", "")
YDELSESGRUPPE = os.environ.get("DREAM_YDELSESGRUPPE", "Kontanthjælp (Jobparate)")

# %%
from pyspark.sql import functions as F

from dream.config import load_config
from dream.model.weeks import thursday, week_52_later
from dream.reference.codes import recipient_status
from dream.session import get_spark

spark = get_spark(load_config(ENV))


def table(name):
    return spark.read.format("delta").load(f"{WAREHOUSE}/{name}")


fact = table("fact_dream")
overgang = table("overgang_52")

STATUS = recipient_status()  # "same" / "other" / "none" -> the status texts
NO_BRANCHE = "Ingen kendt beskæftigelse"
NO_WORKPLACE = "Uoplyst"

kommune = f"{int(str(KOMMUNE).strip()):03d}"  # "101", 101 and "0101" all mean København
if str(AAR).strip() and str(UGE).strip():
    aar, uge = int(str(AAR).strip()), int(str(UGE).strip())
elif str(AAR).strip() or str(UGE).strip():
    raise ValueError(f"give both AAR and UGE, or neither (got AAR={AAR!r}, UGE={UGE!r})")
else:
    latest = overgang.agg(F.max(F.struct("aar", "uge")).alias("w")).first().w  # one row
    if latest is None:
        raise ValueError(f"overgang_52 in {WAREHOUSE} is empty: no week has a follow-up 52 weeks on yet")
    aar, uge = latest.aar, latest.uge
print(f"Kommune {kommune}, uge {aar}-W{uge:02d}, ydelsesgruppe {YDELSESGRUPPE!r}")

in_week = (F.col("aar") == aar) & (F.col("uge") == uge) & (F.col("kommune") == kommune)

# %% [markdown]
# ## 1. Borgere fordelt på ydelsesgrupper
#
# Recipients per benefit group in the chosen week and municipality (distinct persons, from `fact_dream`;
# the municipality is the person's residence that week).

# %%
per_group = (fact.where(in_week)
             .groupBy("ydelsesgruppe").agg(F.countDistinct("person_id").alias("antal_borgere"))
             .orderBy(F.desc("antal_borgere"), "ydelsesgruppe"))
per_group.show(50, truncate=False)

# %% [markdown]
# ## 2. Modtagerstatus og ydelsesgruppe 52 uger efter
#
# The chosen group's recipients by where they are in the calendar week exactly 52 weeks later (from
# `overgang_52`). A week whose follow-up lies past the last delivered week has no rows there (censored).

# %%
cohort = overgang.where(in_week & (F.col("ydelsesgruppe") == YDELSESGRUPPE))
status_order = F.create_map(*[x for i, k in enumerate(("same", "other", "none"))
                              for x in (F.lit(STATUS[k]), F.lit(i))])
per_status = (cohort.groupBy("modtagerstatus", "ydelsesgruppe_52")
              .agg(F.countDistinct("person_id").alias("antal_borgere"))
              .orderBy(status_order[F.col("modtagerstatus")], F.desc("antal_borgere"), "ydelsesgruppe_52"))
per_status.show(50, truncate=False)

# %% [markdown]
# ## 3. De, der ikke længere modtager ydelser: branche og arbejdsstedskommune
#
# `fact_dream` has no rows for the blank (self-supporting) weeks, so their monthly values are read from
# `dsa_branche` and `dsa_arbsted` at the month of the week 52 weeks later (the month of its Thursday).
# No branche that month is *Ingen kendt beskæftigelse*, no workplace municipality *Uoplyst*.

# %%
thursday_52 = thursday(week_52_later(F.col("uge_start")))
ended = (cohort.where(F.col("modtagerstatus") == STATUS["none"])
         .select("person_id", F.year(thursday_52).alias("aar"), F.month(thursday_52).alias("maaned"))
         .distinct())
keys = ["person_id", "aar", "maaned"]


def one_value(name, column):
    """One value per person-month (the delivery has one; the minimum keeps every person once regardless)."""
    values = table(name).select(*keys, F.nullif(F.trim(column), F.lit("")).alias(column))
    return values.where(F.col(column).isNotNull()).groupBy(*keys).agg(F.min(column).alias(column))


per_branche = (ended.join(one_value("dsa_branche", "branche"), keys, "left")
               .withColumn("branche", F.coalesce("branche", F.lit(NO_BRANCHE)))
               .groupBy("branche").agg(F.count(F.lit(1)).alias("antal_borgere"))
               .orderBy(F.desc("antal_borgere"), "branche"))
per_branche.show(50, truncate=False)

names = table("dim_kommune").select(F.col("kommune").alias("arbejdsstedskommune"), "kommunenavn")
per_workplace = (ended.join(one_value("dsa_arbsted", "arbejdsstedskommune"), keys, "left")
                 .join(F.broadcast(names), "arbejdsstedskommune", "left")
                 .withColumn("kommunenavn", F.coalesce("kommunenavn", "arbejdsstedskommune", F.lit(NO_WORKPLACE)))
                 .withColumn("arbejdsstedskommune", F.coalesce("arbejdsstedskommune", F.lit(NO_WORKPLACE)))
                 .withColumn("i_kommunen", F.col("arbejdsstedskommune") == kommune)
                 .groupBy("arbejdsstedskommune", "kommunenavn", "i_kommunen")
                 .agg(F.count(F.lit(1)).alias("antal_borgere"))
                 .orderBy(F.desc("antal_borgere"), "arbejdsstedskommune"))
per_workplace.show(100, truncate=False)

# %% [markdown]
# The small result tables, for the chart and for whoever runs this notebook from a job or a test.

# %%
rows_group = [(r.ydelsesgruppe, r.antal_borgere) for r in per_group.collect()]
rows_status = [(r.modtagerstatus, r.ydelsesgruppe_52, r.antal_borgere) for r in per_status.collect()]
rows_branche = [(r.branche, r.antal_borgere) for r in per_branche.collect()]
rows_workplace = [(r.arbejdsstedskommune, r.kommunenavn, r.i_kommunen, r.antal_borgere)
                  for r in per_workplace.collect()]
RESULT = {
    "parametre": {"kommune": kommune, "aar": aar, "uge": uge, "ydelsesgruppe": YDELSESGRUPPE},
    "ydelsesgrupper": rows_group,
    "modtagerstatus": rows_status,
    "branche": rows_branche,
    "arbejdsstedskommune": rows_workplace,
}
recipients = dict(rows_group).get(YDELSESGRUPPE, 0)
followed = sum(n for _, _, n in rows_status)
print(f"{recipients} modtagere af {YDELSESGRUPPE!r}; {followed} fulgt 52 uger frem; "
      f"{sum(n for *_, n in rows_branche)} modtager ikke længere ydelser, heraf "
      f"{sum(n for _, _, inside, n in rows_workplace if inside)} med arbejdssted i kommunen")
if followed < recipients:
    print("Bemærk: uge 52 uger senere er endnu ikke leveret for alle (censureret); vælg en tidligere uge.")

# %% [markdown]
# ## 4. Diagram
#
# A bar chart of step 2, drawn only where matplotlib is installed (it is not a dependency of the project).

# %%
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("matplotlib er ikke installeret: intet diagram")

if plt is not None and rows_status:
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(10, 0.4 * len(rows_status) + 1.8))
    ax.barh([f"{status} / {group}" for status, group, _ in rows_status], [n for *_, n in rows_status])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("Antal borgere")
    ax.set_title(f"{YDELSESGRUPPE}, kommune {kommune}, uge {aar}-W{uge:02d}:\n"
                 "modtagerstatus og ydelsesgruppe 52 uger efter")
    fig.tight_layout()
    plt.show()

# %%
# Run as a script (`python notebooks/kontanthjaelp_52_uger.py`), the result tables are the last line of
# the output, as JSON. In Jupyter or on Databricks (IPython, where __name__ is also "__main__") nothing is printed.
try:
    get_ipython  # noqa: F821 - defined only under IPython
except NameError:
    if __name__ == "__main__":
        import json

        print(json.dumps(RESULT))

# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # YdelsesAktivitetBenchmark: én kommune mod de øvrige 97
#
# Where a municipality stands among the 98 in one month: recipients and activated persons per 1,000
# residents aged 16-66, its rank (1 = the highest rate), its percentile, the national and regional rates,
# per benefit group, and over the months published.
#
# Reads only the published `ydelsesaktivitet_benchmark_noegletal` of a warehouse made by `dream run`,
# `dream model` or `dream refresh` (disclosure-controlled: a suppressed cell has no figures, and is neither
# ranked nor counted). On Databricks the existing session is used.

# %% tags=["parameters"]
import os

WAREHOUSE = os.environ.get("DREAM_WAREHOUSE", "data/warehouse")
ENV = os.environ.get("DREAM_ENV", "local")
KOMMUNE = os.environ.get("DREAM_KOMMUNE", "101")
PERIODE = os.environ.get("DREAM_PERIODE", "")  # 'YYYY-MM'; empty: the latest month published
# Where the charts go when neither matplotlib nor IPython can show them.
CHART_DIR = os.environ.get("DREAM_CHART_DIR", "data/dashboard")

# %%
from pyspark.sql import functions as F

from dream.benchmark.cells import ACTIVATED, RECIPIENTS, TOTAL
from dream.config import load_config
from dream.reference.kommuner import kommuner
from dream.report import resolve_kommune
from dream.session import get_spark

spark = get_spark(load_config(ENV))
kommune = resolve_kommune(KOMMUNE)  # "101", 101 and "0101" all mean København; an unknown code is an error
names = {k.kommunekode: k.kommunenavn for k in kommuner()}

figures = spark.read.format("delta").load(f"{WAREHOUSE}/ydelsesaktivitet_benchmark_noegletal")
periode = PERIODE.strip() or figures.agg(F.max("periode")).first()[0]  # one value
totals = (F.col("visitationsgruppe") == TOTAL) & (F.col("aktivering") == TOTAL)
month = figures.where((F.col("periode") == periode) & totals)
print(f"Kommune {kommune.kommunekode} {kommune.kommunenavn} ({kommune.regionsnavn}), måned {periode}")

# %% [markdown]
# ## 1. Alle kommuner: ydelsesmodtagere og aktiverede pr. 1.000 16-66-årige
#
# The all-groups cell of every kommune with a published rate, highest first.

# %%
columns = ["omraade", "antal", "pr_1000", "rang", "antal_rangeret", "percentil"]
all_kommuner = {maal: (month.where((F.col("niveau") == "kommune") & (F.col("ydelsesgruppe") == TOTAL)
                                   & (F.col("maal") == maal) & F.col("pr_1000").isNotNull())
                       .select(*columns).orderBy("rang", "omraade").toPandas())  # 98 rows at most
                for maal in (RECIPIENTS, ACTIVATED)}
for maal, frame in all_kommuner.items():
    frame.insert(1, "kommunenavn", frame["omraade"].map(names))
    print(f"\n{maal}: {len(frame)} kommuner med et offentliggjort tal")
    print(frame.to_string(index=False, max_rows=12))

# %% [markdown]
# ## 2. Kommunen mod de øvrige 97
#
# The kommune's rate, rank and percentile beside the whole country, its region and the spread of the
# other kommuner (lowest, median, highest).

# %%
def compare(maal):
    frame = all_kommuner[maal]
    own = frame[frame["omraade"] == kommune.kommunekode]
    others = frame[frame["omraade"] != kommune.kommunekode]["pr_1000"]
    land = (month.where((F.col("niveau") == "land") & (F.col("ydelsesgruppe") == TOTAL) & (F.col("maal") == maal))
            .select("pr_1000").first())  # one row
    row = own.iloc[0] if len(own) else None
    return {
        "maal": maal,
        "pr_1000": None if row is None else round(float(row.pr_1000), 6),
        "rang": None if row is None else int(row.rang),
        "antal_rangeret": None if row is None else int(row.antal_rangeret),
        "percentil": None if row is None else round(float(row.percentil), 6),
        "pr_1000_land": None if land is None or land.pr_1000 is None else round(float(land.pr_1000), 6),
        "oevrige": len(others),
        "oevrige_min": None if others.empty else round(float(others.min()), 6),
        "oevrige_median": None if others.empty else round(float(others.median()), 6),
        "oevrige_max": None if others.empty else round(float(others.max()), 6),
    }


def rate(value):
    return "–" if value is None else f"{value:.1f}"  # "–": suppressed (or no rate)


comparison = [compare(maal) for maal in (RECIPIENTS, ACTIVATED)]
for c in comparison:
    if c["rang"] is None:
        print(f"{c['maal']}: kommunens tal er undertrykt eller ukendt i {periode}")
    else:
        print(f"{c['maal']}: {rate(c['pr_1000'])} pr. 1.000 (hele landet {rate(c['pr_1000_land'])}); "
              f"nr. {c['rang']} af {c['antal_rangeret']}, percentil {c['percentil'] * 100:.0f}; de øvrige "
              f"{c['oevrige']}: {rate(c['oevrige_min'])} - {rate(c['oevrige_median'])} (median) - "
              f"{rate(c['oevrige_max'])}")

# %% [markdown]
# ## 3. Per ydelsesgruppe
#
# Recipients per 1,000 in each benefit group: the kommune, the country, the region, and the kommune's rank.

# %%
per_group = (month.where((F.col("niveau") == "kommune") & (F.col("omraade") == kommune.kommunekode)
                         & (F.col("maal") == RECIPIENTS))
             .select("ydelsesgruppe", "antal", "undertrykt", "pr_1000", "pr_1000_land", "pr_1000_region", "rang",
                     "antal_rangeret")
             .orderBy(F.col("ydelsesgruppe") != TOTAL, "ydelsesgruppe").toPandas())  # one row per group
print(per_group.to_string(index=False))

# %% [markdown]
# ## 4. Over de offentliggjorte måneder
#
# The kommune's all-groups rate of recipients month by month, with the country's and its rank.

# %%
history = (figures.where(totals & (F.col("niveau") == "kommune") & (F.col("omraade") == kommune.kommunekode)
                         & (F.col("ydelsesgruppe") == TOTAL) & (F.col("maal") == RECIPIENTS))
           .select("periode", "antal", "pr_1000", "pr_1000_land", "rang", "antal_rangeret", "aendring_pr_1000",
                   "pr_1000_12_mdr")
           .orderBy("periode").toPandas())  # 13 months per release
print(history.to_string(index=False))

# %% [markdown]
# ## 5. Diagrammer
#
# With matplotlib where it is installed; otherwise the report's SVG charts (`dream.report.charts`), shown
# by IPython where that is available and written to `CHART_DIR` where not.

# %%
recipients = all_kommuner[RECIPIENTS]
land_rate = comparison[0]["pr_1000_land"]
try:
    import matplotlib.pyplot as plt
except ImportError:
    plt = None

charts_written = []
if plt is not None:
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 8))
    colors = ["#c2410c" if k == kommune.kommunekode else "#1f4e79" for k in recipients["omraade"]]
    top.bar(range(len(recipients)), recipients["pr_1000"], color=colors)
    if land_rate is not None:
        top.axhline(land_rate, color="black", linestyle="--", label="Hele landet")
        top.legend()
    top.set_xticks([])
    top.set_ylabel("pr. 1.000 16-66-årige")
    top.set_title(f"Ydelsesmodtagere pr. 1.000, {periode}: {kommune.kommunenavn} blandt kommunerne")
    bottom.plot(history["periode"], history["pr_1000"], marker="o", label=kommune.kommunenavn)
    bottom.plot(history["periode"], history["pr_1000_land"], marker="o", label="Hele landet")
    bottom.legend()
    bottom.tick_params(axis="x", rotation=45)
    fig.tight_layout()
    plt.show()
else:
    from dream.report import charts

    def number(v):
        return f"{v:,.0f}".replace(",", ".")

    svgs = {
        "rang": charts.rank_chart([(names[k], float(v)) for k, v in zip(recipients["omraade"], recipients["pr_1000"])],
                                  kommune.kommunenavn, f"Ydelsesmodtagere pr. 1.000 16-66-årige, {periode}", number,
                                  ("Hele landet", land_rate) if land_rate is not None else None),
        "maaneder": charts.line_chart(
            [charts.Series(kommune.kommunenavn, [(p, None if v is None or v != v else float(v))
                                                 for p, v in zip(history["periode"], history["pr_1000"])]),
             charts.Series("Hele landet", [(p, None if v is None or v != v else float(v))
                                           for p, v in zip(history["periode"], history["pr_1000_land"])],
                           charts.PALETTE[1])],
            f"Ydelsesmodtagere pr. 1.000, {kommune.kommunenavn}", number),
    }
    try:
        from IPython.display import SVG, display

        get_ipython  # noqa: F821 - defined only under IPython: a script has nowhere to show them
        for svg in svgs.values():
            display(SVG(svg))
    except (ImportError, NameError):
        os.makedirs(CHART_DIR, exist_ok=True)
        for name, svg in svgs.items():
            path = os.path.join(CHART_DIR, f"benchmark_{kommune.kommunekode}_{name}.svg")
            with open(path, "w", encoding="utf-8") as f:
                f.write(svg)
            charts_written.append(path)
        print(f"Diagrammer skrevet til {', '.join(charts_written)}")

# %%
# Run as a script, the figures are the last line of the output, as JSON (for a job or a test). In Jupyter or
# on Databricks (IPython) nothing is printed.
def plain(value, integer=False):
    """A figure for JSON: None for a suppressed or missing one."""
    if value is None or value != value:  # None or NaN
        return None
    return int(value) if integer else round(float(value), 6)


RESULT = {
    "parametre": {"kommune": kommune.kommunekode, "periode": periode},
    "sammenligning": comparison,
    "rangliste": [[k, plain(v), plain(r, True)] for k, v, r in
                  zip(recipients["omraade"], recipients["pr_1000"], recipients["rang"])],
    "ydelsesgrupper": [[g, plain(v), plain(r, True)]
                       for g, v, r in zip(per_group["ydelsesgruppe"], per_group["pr_1000"], per_group["rang"])],
    "diagrammer": charts_written,
}
try:
    get_ipython  # noqa: F821
except NameError:
    if __name__ == "__main__":
        import json

        print(json.dumps(RESULT))

"""Population cells and the companion table ``ydelsesaktivitet_benchmark_noegletal``: rates per 1,000
residents 16-66, ranks among the kommuner, national and regional rates, change on the previous month and
the rolling 12 months average, all by window functions. Anything derived from a suppressed cell is NULL."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from dream.benchmark.cells import ACTIVATED, DIMENSIONS, POPULATION, RECIPIENTS, TOTAL
from dream.benchmark.publish import KEYS, LAND, regions

RATE_MEASURES = [RECIPIENTS, ACTIVATED]
NOEGLETAL_COLUMNS = [
    "periode", "niveau", "omraade", *DIMENSIONS, "maal", "antal", "befolkning", "pr_1000", "rang", "antal_rangeret",
    "percentil", "pr_1000_land", "pr_1000_region", "aendring_antal", "aendring_pr_1000", "pr_1000_12_mdr",
    "undertrykt"]


def region_map(spark: SparkSession) -> DataFrame:
    """kommune -> region as a small DataFrame (the reference data, 99 rows)."""
    return spark.createDataFrame(sorted(regions().items()), "kommune string, region string")


def population(befolkning: DataFrame) -> DataFrame:
    """Residents 16-66 per year and area at every level (kommune, region, land)."""
    spark = befolkning.sparkSession
    kommune = (befolkning.where(F.col("alder").between(16, 66)).groupBy("aar", "kommune")
               .agg(F.sum("antal").cast("long").alias("befolkning")))
    with_region = kommune.join(F.broadcast(region_map(spark)), "kommune", "left")
    region = with_region.groupBy("aar", F.coalesce("region", F.lit("Uoplyst")).alias("omraade")).agg(
        F.sum("befolkning").alias("befolkning"))
    land = kommune.groupBy("aar").agg(F.sum("befolkning").alias("befolkning")).withColumn("omraade", F.lit(LAND))
    return (kommune.select("aar", F.lit("kommune").alias("niveau"), F.col("kommune").alias("omraade"), "befolkning")
            .unionByName(region.select("aar", F.lit("region").alias("niveau"), "omraade", "befolkning"))
            .unionByName(land.select("aar", F.lit("land").alias("niveau"), "omraade", "befolkning")))


def year_of(periode: Column) -> Column:
    return F.substring(periode, 1, 4).cast("int")


def month_index(periode: Column) -> Column:
    """Months since year 0, so that a range frame of -1 is exactly the previous calendar month."""
    return year_of(periode) * 12 + F.substring(periode, 6, 2).cast("int")


def population_cells(pop: DataFrame, periods: DataFrame) -> DataFrame:
    """Measure "antal borgere 16-66 år" for every period: geography only, the other dimensions "I alt".
    Population counts are published statistics and are not suppressed."""
    cells = periods.select("periode", year_of(F.col("periode")).alias("aar")).distinct().join(pop, "aar")
    return cells.select("periode", "niveau", "omraade", *[F.lit(TOTAL).alias(d) for d in DIMENSIONS],
                        F.lit(POPULATION).alias("maal"), "befolkning", "befolkning", F.lit(False), F.lit(None)
                        ).toDF("periode", "niveau", "omraade", *DIMENSIONS, "maal", "antal", "personer", "undertrykt",
                               "aarsag")


def key_figures(published: DataFrame, pop: DataFrame) -> DataFrame:
    """Per published cell of the rate measures: rate, rank among kommuner, reference rates, changes."""
    cells = (published.where(F.col("maal").isin(RATE_MEASURES))
             .withColumn("aar", year_of(F.col("periode")))
             .join(pop, ["aar", "niveau", "omraade"], "left")
             # no residents aged 16-66 in the population table (an area or year it lacks): no rate, not an error
             .withColumn("pr_1000", F.try_divide(F.col("antal") * 1000.0, F.col("befolkning")))
             .withColumn("m", month_index(F.col("periode"))))
    region_of = F.create_map(*[F.lit(x) for kv in regions().items() for x in kv])
    cells = cells.withColumn("region", F.when(F.col("niveau") == "kommune", region_of[F.col("omraade")])
                             .when(F.col("niveau") == "region", F.col("omraade")))
    same_cell = [*DIMENSIONS, "maal"]
    ranked = F.col("niveau") == "kommune"
    # nulls (suppressed, or no population) get a partition of their own so they take no rank
    by_rank = Window.partitionBy("periode", *same_cell, "niveau", F.col("pr_1000").isNull())
    over_month = Window.partitionBy("periode", *same_cell)
    over_region = Window.partitionBy("periode", *same_cell, "region")
    history = Window.partitionBy("niveau", "omraade", *same_cell).orderBy("m")
    previous = history.rangeBetween(-1, -1)
    year = history.rangeBetween(-11, 0)
    has_rate = F.col("pr_1000").isNotNull()
    rank = F.when(ranked & has_rate, F.rank().over(by_rank.orderBy(F.desc("pr_1000"))))
    rolling = F.when(F.count(F.when(F.col("undertrykt") | ~has_rate, 1)).over(year) == 0,
                     F.avg("pr_1000").over(year))
    return cells.select(
        *KEYS, "antal", "befolkning", "pr_1000", rank.alias("rang"),
        F.when(ranked & has_rate, F.count(F.lit(1)).over(by_rank)).alias("antal_rangeret"),
        F.when(ranked & has_rate, F.percent_rank().over(by_rank.orderBy("pr_1000"))).alias("percentil"),
        F.max(F.when(F.col("niveau") == "land", F.col("pr_1000"))).over(over_month).alias("pr_1000_land"),
        F.when(F.col("region").isNotNull(), F.max(F.when(F.col("niveau") == "region", F.col("pr_1000")))
               .over(over_region)).alias("pr_1000_region"),
        (F.col("antal") - F.max("antal").over(previous)).alias("aendring_antal"),
        (F.col("pr_1000") - F.max("pr_1000").over(previous)).alias("aendring_pr_1000"),
        rolling.alias("pr_1000_12_mdr"), "undertrykt").select(*NOEGLETAL_COLUMNS)

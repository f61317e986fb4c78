import pytest
from chispa import assert_df_equality

from dream.errors import ConfigError
from dream.session import DELTA_SESSION_CONF, check_spark_keys, get_spark


def test_the_factory_returns_the_existing_session(spark, config):
    assert get_spark(config) is spark
    for key, value in DELTA_SESSION_CONF.items():
        assert spark.conf.get(key) == value


def test_delta_write_read_and_time_travel(spark, tmp_path):
    path = str(tmp_path / "t")
    first = spark.createDataFrame([("101", 1), ("147", None)], "kommune string, antal int")
    first.write.format("delta").save(path)
    spark.createDataFrame([("751", 3)], "kommune string, antal int").write.format("delta").mode("overwrite").save(path)

    assert_df_equality(spark.read.format("delta").load(path),
                       spark.createDataFrame([("751", 3)], "kommune string, antal int"))
    assert_df_equality(spark.read.format("delta").option("versionAsOf", 0).load(path), first, ignore_row_order=True)


def test_a_mistyped_spark_sql_setting_is_refused(spark):
    check_spark_keys(spark, {"spark.sql.shuffle.partitions": "2", "spark.driver.memory": "1g"})
    with pytest.raises(ConfigError, match="spark.sql.shufle.partitions"):
        check_spark_keys(spark, {"spark.sql.shufle.partitions": "2"})

import re
import shutil

import pytest

from dream.config import conf_dir, load_config
from dream.errors import ConfigError


@pytest.fixture
def conf(tmp_path):
    target = tmp_path / "conf"
    shutil.copytree(conf_dir(), target)
    return target


def test_every_shipped_environment_loads():
    for env in ("local", "test", "cluster"):
        config = load_config(env)
        assert config.delta.packages[0] == "io.delta:delta-spark_4.2_2.13:4.4.1"
    assert load_config("test").spark.conf["spark.sql.shuffle.partitions"] == "2"


def test_unknown_key_is_an_error_naming_it(conf):
    text = (conf / "local.yaml").read_text().replace("  master:", "  mastr:")
    (conf / "local.yaml").write_text(text)
    with pytest.raises(ConfigError, match=r"unknown configuration key 'spark.mastr' \(did you mean 'master'\?\)"):
        load_config("local", conf)


def test_unknown_section_is_an_error(conf):
    (conf / "local.yaml").write_text((conf / "local.yaml").read_text() + "\npathz:\n  warehouse: x\n")
    with pytest.raises(ConfigError, match="'pathz'"):
        load_config("local", conf)


def test_wrong_type_is_an_error(conf):
    text = re.sub(r"persons: \d+", "persons: many", (conf / "local.yaml").read_text())
    (conf / "local.yaml").write_text(text)
    with pytest.raises(ConfigError, match="synth.persons"):
        load_config("local", conf)


def test_spark_defaults_lines_must_be_spark_settings(conf):
    (conf / "spark-defaults.conf").write_text("sprak.sql.shuffle.partitions 4\n")
    with pytest.raises(ConfigError, match="sprak.sql.shuffle.partitions"):
        load_config("local", conf)


def test_unknown_environment(conf):
    with pytest.raises(ConfigError, match="no configuration for environment 'prod'"):
        load_config("prod", conf)

#!/usr/bin/env bash
# Submit a job from jobs/ to a Spark cluster (or local Spark) with the dream library and the Delta jars.
#
#   ./spark-submit.sh [--master URL] [--env ENV] JOB [job arguments...]
#   ./spark-submit.sh --master spark://host:7077 --env cluster ingest --input /data/dream.parquet --warehouse /data/wh
#
# JOB is a file in jobs/ without .py (main, ingest). --master defaults to $SPARK_MASTER or local[*].
# The library is packaged as a zip for --py-files; conf/ travels with --files; the Delta package is the
# one the local session factory resolved (conf/<env>.yaml delta.packages), passed to --packages.
set -euo pipefail
cd "$(dirname "$0")"

master="${SPARK_MASTER:-local[*]}"
env="local"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --env) env="$2"; shift 2 ;;
    *) break ;;
  esac
done
job="${1:?usage: ./spark-submit.sh [--master URL] [--env ENV] JOB [args...]}"; shift
[[ -f "jobs/$job.py" ]] || { echo "spark-submit.sh: no job jobs/$job.py (have: $(ls jobs | sed 's/\.py//' | tr '\n' ' '))" >&2; exit 2; }

make --quiet setup
python=".venv/bin/python"
mkdir -p dist
rm -f dist/dream.zip
"$python" - <<'PY'
import pathlib, zipfile
with zipfile.ZipFile("dist/dream.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(pathlib.Path("dream").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            z.write(p)
PY
read -r package ivy < <("$python" -m dream.session --env "$env")
SPARK_HOME="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME PYSPARK_PYTHON="$PWD/$python"

exec "$SPARK_HOME/bin/spark-submit" \
  --master "$master" \
  --packages "$package" \
  --conf "spark.jars.ivy=$ivy" \
  --conf "spark.pyspark.python=$PWD/$python" \
  --conf "spark.executorEnv.DREAM_CONF_DIR=conf" \
  --py-files dist/dream.zip \
  --files "conf/$env.yaml,conf/spark-defaults.conf,conf/families.yaml" \
  "jobs/$job.py" --env "$env" "$@"

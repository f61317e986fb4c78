#!/usr/bin/env bash
# Submit a job from jobs/ to a Spark cluster (or local Spark) with the dream library and the Delta jars.
#
#   ./spark-submit.sh [options] JOB [job arguments...]
#   ./spark-submit.sh --master spark://host:7077 --env cluster ingest --input /data/dream.parquet --warehouse /data/wh
#
# JOB is a file in jobs/ without .py (main, ingest, model, ...). Options (all before JOB):
#   --master URL        spark://host:7077, yarn, k8s://https://host:443, local[*] (default: $SPARK_MASTER or local[*])
#   --env ENV           the configuration <conf-dir>/ENV.yaml (default: local)
#   --conf-dir DIR      the folder holding ENV.yaml, spark-defaults.conf, families.yaml (default: $DREAM_CONF_DIR or conf)
#   --deploy-mode MODE  client (default) or cluster (YARN and Kubernetes; the driver then runs on the cluster)
#   --python PATH       the Python the executors (and a cluster-mode driver) run, as seen on the cluster nodes
#                       (default: this checkout's .venv/bin/python, right when the nodes share this machine's disk)
#   --archives ARCHIVE  an extra archive for every container, e.g. a packed environment: env.tar.gz#environment
#   --conf KEY=VALUE    an extra Spark setting (repeatable)
#
# What travels with the job: the library as a zip for --py-files; the configuration folder as an archive that
# unpacks to ./conf in every container (DREAM_CONF_DIR=conf there); the Delta package the local session
# factory resolved (conf/<env>.yaml delta.packages), for --packages. The pseudonymisation key is read by the
# driver only (from DREAM_PSEUDONYM_KEY or pseudonym.key_file) and reaches tasks as a broadcast variable:
# it is never put into the Spark configuration, so it is in no log and not in the Spark UI.
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

master="${SPARK_MASTER:-local[*]}"
env="local"
conf_dir="${DREAM_CONF_DIR:-conf}"
deploy_mode="client"
python=".venv/bin/python"
cluster_python=""
archives=()
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --master) master="$2"; shift 2 ;;
    --env) env="$2"; shift 2 ;;
    --conf-dir) conf_dir="$(cd "$caller" && cd "$2" && pwd)"; shift 2 ;;
    --deploy-mode) deploy_mode="$2"; shift 2 ;;
    --python) cluster_python="$2"; shift 2 ;;
    --archives) archives+=("$2"); shift 2 ;;
    --conf) extra+=(--conf "$2"); shift 2 ;;
    -h|--help) usage ;;
    -*) echo "spark-submit.sh: unknown option $1 (options come before JOB; see the header of this file)" >&2; exit 2 ;;
    *) break ;;
  esac
done
[[ $# -gt 0 ]] || usage
job="$1"; shift
[[ -f "jobs/$job.py" ]] || { echo "spark-submit.sh: no job jobs/$job.py (have: $(ls jobs | sed 's/\.py//' | tr '\n' ' '))" >&2; exit 2; }
[[ -f "$conf_dir/$env.yaml" ]] || { echo "spark-submit.sh: no configuration $conf_dir/$env.yaml (use --conf-dir or --env)" >&2; exit 2; }
conf_dir="$(cd "$conf_dir" && pwd)"

make --quiet setup
cluster_python="${cluster_python:-$PWD/$python}"
# A folder of its own per submission: two submissions at once must not rebuild each other's zip.
build="$(mktemp -d "${TMPDIR:-/tmp}/dream-submit.XXXXXX")"
trap 'rm -rf "$build"' EXIT
"$python" - "$build" "$conf_dir" "$env" <<'PY'
import pathlib, sys, zipfile
build, conf, env = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
with zipfile.ZipFile(build / "dream.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted(pathlib.Path("dream").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            z.write(p)
with zipfile.ZipFile(build / "conf.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for name in (f"{env}.yaml", "spark-defaults.conf", "families.yaml"):
        if (conf / name).is_file():
            z.write(conf / name, name)
PY
# The driver (client mode) reads the configuration from the folder given here.
export DREAM_CONF_DIR="$conf_dir"
read -r package ivy < <("$python" -m dream.session --env "$env")
SPARK_HOME="$("$python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
export SPARK_HOME PYSPARK_PYTHON="$cluster_python"
# In client mode the driver is a local process: it runs this checkout's Python, whatever the executors run.
if [[ "$deploy_mode" == "client" ]]; then
  extra+=(--conf "spark.pyspark.driver.python=$PWD/$python")
fi

"$SPARK_HOME/bin/spark-submit" \
  --master "$master" \
  --deploy-mode "$deploy_mode" \
  --packages "$package" \
  --conf "spark.jars.ivy=$ivy" \
  --conf "spark.pyspark.python=$cluster_python" \
  --conf "spark.executorEnv.DREAM_CONF_DIR=conf" \
  --conf "spark.yarn.appMasterEnv.DREAM_CONF_DIR=conf" \
  --conf "spark.kubernetes.driverEnv.DREAM_CONF_DIR=conf" \
  --py-files "$build/dream.zip" \
  --archives "$(IFS=,; echo "${archives[*]+${archives[*]},}$build/conf.zip#conf")" \
  ${extra[@]+"${extra[@]}"} \
  "jobs/$job.py" --env "$env" "$@"

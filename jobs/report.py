"""spark-submit entry point: ``spark-submit ... jobs/report.py --kommune CODE --warehouse DIR --out FILE
[--env ENV]``: one kommune's HTML report."""

import sys

from dream.cli import main

if __name__ == "__main__":
    sys.exit(main(["report", *sys.argv[1:]]))

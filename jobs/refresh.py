"""spark-submit entry point: ``spark-submit ... jobs/refresh.py --input PATH --warehouse DIR [--delivery YYYY-MM]
[--env ENV]``: the monthly refresh."""

import sys

from dream.cli import main

if __name__ == "__main__":
    sys.exit(main(["refresh", *sys.argv[1:]]))

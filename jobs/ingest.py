"""spark-submit entry point: ``spark-submit ... jobs/ingest.py --input PATH --warehouse DIR [--env ENV]``."""

import sys

from dream.cli import main

if __name__ == "__main__":
    sys.exit(main(["ingest", *sys.argv[1:]]))

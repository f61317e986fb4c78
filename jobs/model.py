"""spark-submit entry point: ``spark-submit ... jobs/model.py --warehouse DIR [--env ENV]``."""

import sys

from dream.cli import main

if __name__ == "__main__":
    sys.exit(main(["model", *sys.argv[1:]]))

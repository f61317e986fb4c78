"""spark-submit entry point for the main job: ``spark-submit ... jobs/main.py [--env ENV]``."""

import sys

from dream.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))

"""`python -m bench.detection_tables [--dry-run]`: regenerate the tables of docs/detection.md in one command.

The runs and the table layout are `faultline.evaluation.tables`; ``--dry-run``
prints the tables instead of writing them.
"""

from __future__ import annotations

import argparse

from faultline.evaluation.tables import DOC, tables, write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="print the tables, leave the doc alone")
    args = parser.parse_args()
    text = tables()
    if args.dry_run:
        print(text)
    else:
        write(DOC, text)
        print(f"wrote the tables of {DOC}")


if __name__ == "__main__":
    main()

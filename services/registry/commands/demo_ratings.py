"""Write the demo's ratings plan, scoring's data, from the registry's demo generator.

    python -m services.registry.commands.demo_ratings [--out services/scoring/demo/ratings.csv]

Run it after changing the generator (services/registry/demo) and commit the file it writes:
scoring's demo loader reads it (the services share no code), and a test checks that the committed
file equals what the generator plans. ``--out -`` prints it instead.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.registry.demo.generator import generate
from services.registry.demo.plan import ratings_csv
from shared import clock

DEFAULT_OUT = Path(__file__).resolve().parents[2] / "scoring" / "demo" / "ratings.csv"


def main(argv: list[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m services.registry.commands.demo_ratings", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="where to write it ('-': standard output)")
    args = parser.parse_args(argv)
    text = ratings_csv(generate(clock.today()))
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

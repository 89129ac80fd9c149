"""Serve the simulated PVOG on 127.0.0.1 until stdin closes.

    python -m zufiwatch.sim [--size N] [--port P]

Prints the base URL as the first line on stdout. Each line ``day N`` on stdin switches
the directory to scenario day N (and answers ``ok N``); end of input stops the server.
Used by the benchmark, handy for pointing a configuration at a local directory.
"""

from __future__ import annotations

import argparse
import sys

from . import Scenario, SimulatedPVOG, build_directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zufiwatch.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=150, help="Leistungen (default 150)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    args = parser.parse_args(argv)
    scenario = Scenario(build_directory(args.size))
    with SimulatedPVOG(scenario, port=args.port) as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            command = line.split()
            if len(command) == 2 and command[0] == "day" and command[1].isdigit():
                server.set_day(int(command[1]))
                print(f"ok {command[1]}", flush=True)
            elif command:
                print(f"unknown command: {line.strip()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Serve the simulated PVOG on 127.0.0.1 until stdin closes.

    python -m zufiwatch.sim [--size N] [--port P] [--churn SHARE [--touch-all]]
                            [--listing-stamps]

Prints the base URL as the first line on stdout, then answers one line per command read
from stdin (end of input stops the server):

    day N                           serve scenario day N              → ok N
    inject PATH KIND [TIMES [STATUS]]  a fault (see SimulatedPVOG.inject) → ok
    clear                           remove all faults                 → ok
    stats                           → requests=N not_modified=N max_rate_per_s=R
                                      max_rate_per_s_over_5s=R
    edits N                         → the ids of the Leistungen edited on day N
                                      (space-separated; empty line when none)

``--churn 0.01`` replaces the 7-day scenario by one in which 1 % of the Leistungen change
every day; with ``--touch-all`` the ``lastUpdate`` and ``timestamp`` of every other
Leistung move too. Used by the benchmarks; handy for pointing a configuration at a local
directory.
"""

from __future__ import annotations

import argparse
import sys

from . import ChurnScenario, Scenario, SimulatedPVOG, build_directory


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m zufiwatch.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=150, help="Leistungen (default 150)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    parser.add_argument("--churn", type=float, default=0.0,
                        help="share of Leistungen changed per day instead of the scenario")
    parser.add_argument("--touch-all", action="store_true",
                        help="with --churn: every Leistung's lastUpdate moves every day")
    parser.add_argument("--listing-stamps", action="store_true",
                        help="listing items carry lastUpdate (enables incremental crawls)")
    args = parser.parse_args(argv)
    base = build_directory(args.size)
    scenario = (ChurnScenario(base, args.churn, touch_all=args.touch_all) if args.churn
                else Scenario(base))
    with SimulatedPVOG(scenario, port=args.port,
                       listing_last_update=args.listing_stamps) as server:
        print(server.base_url, flush=True)
        for line in sys.stdin:
            print(_command(server, line.split()), flush=True)
    return 0


def _command(server: SimulatedPVOG, words: list[str]) -> str:
    try:
        if len(words) == 2 and words[0] == "day":
            server.set_day(int(words[1]))
            return f"ok {words[1]}"
        if words and words[0] == "inject" and 3 <= len(words) <= 5:
            times = int(words[3]) if len(words) > 3 else None
            status = int(words[4]) if len(words) > 4 else 500
            server.inject(words[1], words[2], times=times, status=status)
            return "ok"
        if len(words) == 2 and words[0] == "edits":
            return " ".join(edit.id for edit in server.scenario.edits(int(words[1])))
        if words == ["clear"]:
            server.clear_faults()
            return "ok"
        if words == ["stats"]:
            return (f"requests={server.request_count} not_modified={server.not_modified} "
                    f"max_rate_per_s={server.max_request_rate():.1f} "
                    f"max_rate_per_s_over_5s={server.max_request_rate(5.0):.1f}")
    except ValueError as exc:
        return f"error: {exc}"
    return f"error: unknown command {' '.join(words)!r}"


if __name__ == "__main__":
    sys.exit(main())

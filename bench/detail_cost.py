#!/usr/bin/env python3
"""CPU cost of reading one PVOG Leistung detail (issue 19). Not a test: run it, read the figures.

    python bench/detail_cost.py [--size 2000] [--rounds 5] [--tree PATH ...]

Builds the simulator's directory of ``--size`` Leistungen in process (no HTTP), day 0 and
day 1 of the churn scenario (1 % edited, every ``lastUpdate``/``timestamp`` moved), and
the fingerprints a history holds after day 0. Then it times the per-detail path of a day-1
crawl, CPU seconds per 1,000 details (the best of three passes):

- ``decode``: what the fetching thread does with an answer (``walk._answers``:
  ``decode_json`` -> the strict ``read_json``);
- ``leistung``: what the crawling thread does with it (``PvogSource._leistung``: drift
  check, content fingerprint, confirmed unchanged, or parsed where it changed; where a
  tree knows it, the previous crawl vouches for every answer's shape, as after a clean
  day 0, so a confirmed detail is not walked);
- ``total``: both;
- ``confirmed``: both, for the details confirmed unchanged only (per 1,000 of them): the
  path of 99 % of a day's details, without the BeautifulSoup parse of the 1 % edited.

Each ``--tree`` (a checkout of zufiwatch, default this one) is measured in its own child
process, the trees interleaved round by round (the machine's speed drifts), and the
figures of each tree are the median of its rounds; the ratio (of ``confirmed``) is
against the first tree.
Compare before and after with ``git archive REV | tar -x -C /tmp/before`` and
``--tree /tmp/before --tree .``.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
PASSES = 3


def _child(tree: str, size: int) -> dict[str, Any]:
    """The figures of one tree (run in a process whose ``zufiwatch`` is that tree's)."""
    sys.path.insert(0, tree)
    from datetime import UTC, datetime

    from zufiwatch.config import SourceSettings
    from zufiwatch.fetch import Response
    from zufiwatch.model import record_key
    from zufiwatch.sim import ChurnScenario, build_directory
    from zufiwatch.sim._http import dumps
    from zufiwatch.sources.base import Confirmed, CrawlContext, Observed, content_digest, without
    from zufiwatch.sources.pvog import walk
    from zufiwatch.sources.pvog.parse import (
        DETAIL_VOLATILE,
        PARSER_VERSION,
        leistung_offices,
    )
    from zufiwatch.sources.pvog.prints import leistung_print, named_offices

    scenario = ChurnScenario(build_directory(size), touch_all=True)
    before = scenario.directory_for(0)
    prints: dict[str, str] = {}
    stored: dict[str, dict[str, Any]] = {}
    for lb_id, detail in before.leistungen.items():
        key = record_key("leistung", lb_id)
        offices = leistung_offices(detail, before.titles.get(lb_id, []))
        content = content_digest(PARSER_VERSION, without(detail, DETAIL_VOLATILE))
        prints[key] = str(leistung_print(PARSER_VERSION, content, offices,
                                         named_offices(detail)))
        stored[key] = {"zustaendigkeiten": offices}
    after = scenario.directory_for(1)
    url = "http://127.0.0.1/v6/servicedescriptions/x/detail"
    answers = [(lb_id, Response(url, 200, "application/json", dumps(detail)))
               for lb_id, detail in sorted(after.leistungen.items())]
    titles = {lb_id: Response(url, 200, "application/json", dumps(value))
              for lb_id, value in after.titles.items()}

    del scenario, before, after  # a crawl holds its answers, not two directories
    gc.collect()

    class Payloads:
        def titles(self, lb_id: str) -> Response:
            return titles[lb_id]

    settings = SourceSettings(name="bench", kind="pvog", base_url="http://127.0.0.1",
                              ars="160530000000")

    try:  # the previous crawl vouches for every answer's shape (a tree that knows it)
        from zufiwatch.sources.drift import KnownShapes, ShapeLog

        def shapes() -> dict[str, Any]:
            return {"shapes": ShapeLog(KnownShapes(frozenset(), frozenset(prints)))}
    except ImportError:
        def shapes() -> dict[str, Any]:
            return {}

    def context() -> CrawlContext:
        return CrawlContext(settings, None, lambda *a, **k: "", None,
                            lambda: datetime.now(UTC), PARSER_VERSION,
                            fingerprints=prints, stored=stored.get, **shapes())

    def no_titles(detail: Any) -> None:
        return None

    clock = time.process_time
    best: dict[str, float] = {}
    kinds: dict[str, int] = {}
    for _ in range(PASSES):
        ctx, office_ids = context(), set()
        spent = dict.fromkeys(("decode", "leistung", "confirmed"), 0.0)
        kinds = dict.fromkeys(("confirmed", "observed", "other"), 0)
        for lb_id, response in answers:  # one by one, as a crawl streams them
            begin = clock()
            pair = walk._answers(response, no_titles)
            middle = clock()
            item = walk.PvogSource._leistung(ctx, Payloads(), lb_id, pair, office_ids)
            end = clock()
            kind = ("confirmed" if isinstance(item, Confirmed)
                    else "observed" if isinstance(item, Observed) else "other")
            kinds[kind] += 1
            spent["decode"] += middle - begin
            spent["leistung"] += end - middle
            if kind == "confirmed":
                spent["confirmed"] += end - begin
        spent["total"] = spent["decode"] + spent["leistung"]
        for step, seconds in spent.items():
            best[step] = min(best.get(step, seconds), seconds)
    per_thousand = {step: round(seconds * 1000 / (kinds["confirmed"] if step == "confirmed"
                                                  else len(answers)), 4)
                    for step, seconds in best.items()}
    return {"details": len(answers), "cpu_s_per_1000": per_thousand, **kinds,
            "drift": ctx.shapes.summary()}


def _run(tree: Path, size: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(HERE), "--child", str(tree), "--size", str(size)],
                         check=True, capture_output=True, text=True, cwd=tree)
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.size)))
        return
    trees = [t.resolve() for t in (args.tree or [ROOT])]
    runs: dict[Path, list[dict[str, Any]]] = {t: [] for t in trees}
    for number in range(args.rounds):
        for tree in trees:
            runs[tree].append(_run(tree, args.size))
            figures = runs[tree][-1]["cpu_s_per_1000"]
            print(f"round {number + 1} {tree}: {figures}", file=sys.stderr)
    first: dict[str, float] = {}
    print(f"CPU seconds per 1,000 details (median of {args.rounds} rounds, each the best of "
          f"{PASSES} passes over {args.size} day-1 details)")
    print(f"{'tree':40s} {'decode':>8s} {'leistung':>9s} {'total':>8s} {'confirmed':>9s}  ratio  "
          "confirmed/observed/other  drift")
    for tree in trees:
        median = {step: statistics.median(r["cpu_s_per_1000"][step] for r in runs[tree])
                  for step in ("decode", "leistung", "total", "confirmed")}
        first = first or median
        last = runs[tree][-1]
        print(f"{str(tree)[-40:]:40s} {median['decode']:8.4f} {median['leistung']:9.4f} "
              f"{median['total']:8.4f} {median['confirmed']:9.4f}  "
              f"{median['confirmed'] / first['confirmed']:5.2f}  "
              f"{last['confirmed']}/{last['observed']}/{last['other']}  "
              f"{json.dumps(last['drift'], sort_keys=True)}")


if __name__ == "__main__":
    main()

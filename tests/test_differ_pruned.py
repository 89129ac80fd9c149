"""DeepDiff only over what differs: ``diff_content`` drops the keys whose values are the
same in both contents before DeepDiff sees them, and its changes are exactly those of the
whole-content diff (paths, labels, types, values with their types, order), on the recorded
payloads, the simulator's records before and after each day's edits, the rows of a real
history, and many random edits of them."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import random
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import zufiwatch.differ as differ
from zufiwatch.differ import diff_content
from zufiwatch.model import Change, ChangeType
from zufiwatch.sim import Scenario
from zufiwatch.sources.pvog import parse as pvog
from zufiwatch.sources.tsa import parse as tsa

PAYLOADS = Path(__file__).parent / "payloads"


def whole_diff(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """``diff_content`` as it was before: DeepDiff over the whole keyed contents."""
    old_keyed, old_orig = differ._keyed(old)
    new_keyed, new_orig = differ._keyed(new)
    from deepdiff import DeepDiff

    result = DeepDiff(old_keyed, new_keyed, view="tree", verbose_level=2,
                      threshold_to_diff_deeper=0)
    changes = []
    for category, levels in result.items():
        for level in levels:
            path = tuple(level.path(output_format="list"))
            segments = differ._segments(path, old_orig, new_orig)
            if category == "dictionary_item_added":
                change_type = ChangeType.ADDED
            elif category == "dictionary_item_removed":
                change_type = ChangeType.REMOVED
            else:
                change_type = ChangeType.MODIFIED
            changes.append((segments, change_type, old_orig.get(path), new_orig.get(path)))
    return [differ._change(kind, *c) for c in differ._pair_replacements(changes)]


def strict(changes: list[Change]) -> list[tuple[str, str, str, str, str]]:
    """Changes compared with the types of their values (``==`` takes 1 for 1.0 and True)."""
    return [(str(c.change_type), c.path, c.label, repr(c.old), repr(c.new)) for c in changes]


def assert_same(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    before = whole_diff(kind, old, new)
    after = diff_content(kind, old, new)
    assert strict(after) == strict(before), (kind, old, new)
    return after


# -- where the pairs come from ------------------------------------------------------------


def _payload(*parts: str) -> Any:
    return json.loads(PAYLOADS.joinpath(*parts).read_text(encoding="utf-8"))


def recorded() -> dict[str, list[dict[str, Any]]]:
    """Contents parsed from the recorded answers of both sources."""
    contents: dict[str, list[dict[str, Any]]] = defaultdict(list)
    titles = _payload("pvog", "v2_titles_bewohnerparkausweis.json")
    for name in ("v6_detail_bewohnerparkausweis.json", "v6_detail_minimal.json",
                 "pvog-v5-detail-B100019.LB.574711.json"):
        contents["leistung"].append(pvog.parse_leistung(_payload("pvog", name), titles).content)
    contents["organisationseinheit"].append(
        pvog.parse_office(_payload("pvog", "v5_office_ordnungsamt.json")).content)
    services = tsa.parse_services(_payload("tsa", "os_page.json"))
    offices = [("1", "Bürgeramt"), ("2", "Ordnungsamt")]
    for name in ("pst_full.json", "pst_minimal.json"):
        record = tsa.parse_pst(_payload("tsa", name), services, offices)
        contents["leistung"].append(record.content)
    for item in _payload("tsa", "ou_find_page.json")["results"]:
        contents["organisationseinheit"].append(tsa.parse_ou(item["object"], tsa.EP_FIND).content)
    return contents


def simulated(scenario: Scenario) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every simulated record that differs from one day to the next, as (kind, old, new)."""
    def records(day: int) -> dict[tuple[str, str], dict[str, Any]]:
        directory = scenario.directory_for(day)
        found = {}
        for lb_id, detail in directory.leistungen.items():
            found[("leistung", lb_id)] = pvog.parse_leistung(
                detail, directory.titles.get(lb_id)).content
        for oe_id, office in directory.offices.items():
            found[("organisationseinheit", oe_id)] = pvog.parse_office(office).content
        for item in directory.onlineservices:
            record = pvog.onlineservice_record(item, "160530000000")
            found[("onlinedienst", record.source_id)] = record.content
        return found

    before = records(0)
    for day in range(1, scenario.days + 1):
        after = records(day)
        for key, content in after.items():
            old = before.get(key)
            if old is not None and old != content:
                yield key[0], old, content
        before = after


@pytest.fixture(scope="module")
def history_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """Versions of a real history (made by an earlier release), by kind, in order."""
    path = tmp_path_factory.mktemp("history") / "history.db"
    path.write_bytes(gzip.decompress((PAYLOADS / "history-before-events.db.gz").read_bytes()))
    db = sqlite3.connect(path)
    rows = db.execute("SELECT r.kind, v.record_id, v.content FROM versions v "
                      "JOIN records r ON r.id = v.record_id ORDER BY v.record_id, v.id")
    by_kind: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for kind, _record, content in rows:
        by_kind[kind].append(json.loads(content))
    return by_kind


# -- random edits --------------------------------------------------------------------------


def _paths(value: Any, path: tuple = ()) -> Iterator[tuple]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*path, index))


def _at(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


def _replacement(rng: random.Random, value: Any) -> Any:
    choices: list[Any] = ["x", "", None, 0, 1, 1.0, True, False, 2.5, {}, [],
                          {"url": "https://example.org/n", "titel": "t"}, {"a": 1}]
    if isinstance(value, bool):
        choices += [int(value), float(value)]
    elif isinstance(value, int):
        choices += [float(value), value + 1, bool(value)]
    elif isinstance(value, float):
        choices += [int(value) if value.is_integer() else -value, -0.0 if value == 0 else 0.0]
    elif isinstance(value, str):
        choices += [value + " ", value.upper(), value[:-1]]
    elif isinstance(value, dict):
        choices += [json.dumps(value, sort_keys=True)[:20], {**value, "neu": 1}]
    elif isinstance(value, list):
        choices += [list(reversed(value)), value[:-1], [*value, copy.deepcopy(value[:1])]]
    return copy.deepcopy(rng.choice(choices))


def mutated(rng: random.Random, content: dict[str, Any], edits: int) -> dict[str, Any]:
    """``content`` with ``edits`` random edits: a value replaced (other type, int ↔ float ↔
    bool, dict → text), a key removed or added, a list item removed, added or replaced."""
    new = copy.deepcopy(content)
    for _ in range(edits):
        paths = [p for p in _paths(new) if p]
        if not paths:
            new["neu"] = "wert"
            continue
        path = rng.choice(paths)
        parent = _at(new, path[:-1])
        step = path[-1]
        action = rng.random()
        if action < 0.55:
            parent[step] = _replacement(rng, parent[step])
        elif action < 0.75:
            del parent[step]
        elif isinstance(parent, dict):
            parent[f"neu{rng.randrange(3)}"] = _replacement(rng, parent[step])
        else:
            parent.insert(step, _replacement(rng, parent[step]))
    return new


# -- the comparisons -----------------------------------------------------------------------


def test_targeted_cases_are_the_same_as_before() -> None:
    base = {
        "name": "Gewerbe anmelden", "anzahl": 1, "flag": True, "betrag": 1.5,
        "texte": {"06": {"titel": "Volltext", "text": "a"},
                  "98": {"titel": "Kosten", "text": "",
                         "details": [{"titel": "Gebühr", "text": "25,00 EUR"}]}},
        "onlinedienste": [{"url": "https://a.example/1", "titel": "A"},
                          {"url": "https://b.example/2", "titel": "B"}],
        "zustaendigkeiten": [{"id": "OE.1", "name": "Amt", "rolle": "01"}],
        "leistungen": [{"id": "1", "name": "x"}, {"id": "2", "name": "y"}],
        "ort": {"plz": "07743", "geo": {"lat": 50.9, "lon": 11.6}},
    }

    def edit(**changes: Any) -> dict[str, Any]:
        return {**copy.deepcopy(base), **changes}

    cases = [
        edit(),
        edit(neu="x"),  # a key added
        {k: v for k, v in base.items() if k != "anzahl"},  # a key removed
        edit(anzahl=1.0), edit(anzahl=True), edit(flag=1), edit(betrag="1,5"),
        edit(ort="Jena"),  # dict -> str
        edit(ort={"plz": "07743", "geo": {"lat": 50.9, "lon": 11.7}}),  # deep in a dict
        edit(ort={"plz": "07743", "geo": {"lat": 50.9, "lon": 11.6, "alt": 1}}),
        edit(ort={"plz": "07745", "geo": "n/a"}),
        edit(leistungen=[{"id": "2", "name": "y"}, {"id": "1", "name": "x"}]),  # reordered
        edit(leistungen=[{"id": "2", "name": "z"}, {"id": "3", "name": "x"}]),  # by id
        edit(leistungen=[{"id": "1", "name": 1}]),
        edit(onlinedienste=[{"url": "https://a.example/1", "titel": "A"},
                            {"url": "https://c.example/3", "titel": "C"}]),  # replaced
        edit(onlinedienste=[]), edit(onlinedienste=None),
        edit(texte={"06": {"titel": "Volltext", "text": "b"},
                    "98": {"titel": "Kosten", "text": "",
                           "details": [{"titel": "Gebühr", "text": "30,00 EUR"}]}}),
        edit(texte={"06": {"titel": "Volltext", "text": "a"}}),
        edit(zustaendigkeiten=[{"id": "OE.1", "name": "Amt", "rolle": "01"},
                               {"id": "OE.2", "name": "Amt 2", "rolle": "03"}]),
        {},
    ]
    for new in cases:
        assert_same("leistung", base, new)
        assert_same("leistung", new, base)
    assert diff_content("leistung", base, edit(anzahl=1.0))  # 1 -> 1.0 is a change
    assert diff_content("leistung", base, copy.deepcopy(base)) == []


def test_recorded_payloads_and_history_rows_give_the_same_changes(
        history_rows: dict[str, list[dict[str, Any]]]) -> None:
    by_kind = recorded()
    for kind, contents in history_rows.items():
        by_kind[kind].extend(contents)
    pairs = 0
    for kind, contents in by_kind.items():
        for old, new in itertools.pairwise(contents):  # neighbours: related or not
            assert_same(kind, old, new)
            assert_same(kind, new, old)
            pairs += 2
    assert pairs > 400


def test_the_simulators_days_give_the_same_changes(scenario: Scenario) -> None:
    kinds = set()
    changed = 0
    for kind, old, new in simulated(scenario):
        if assert_same(kind, old, new):
            changed += 1
        kinds.add(kind)
    assert changed >= 5 and kinds >= {"leistung", "organisationseinheit"}


@pytest.mark.parametrize("seed", range(3))
def test_random_edits_give_the_same_changes(
        seed: int, history_rows: dict[str, list[dict[str, Any]]]) -> None:
    rng = random.Random(seed)
    contents = [(kind, c) for kind, items in recorded().items() for c in items]
    for kind, items in history_rows.items():
        contents.extend((kind, c) for c in rng.sample(items, min(len(items), 25)))
    found = 0
    for kind, content in contents:
        for edits in (1, 1, 2, 4):
            new = mutated(rng, content, edits)
            found += bool(assert_same(kind, content, new))
            assert_same(kind, new, content)
    assert found > len(contents)


def test_deepdiff_sees_only_the_subtrees_that_differ(monkeypatch: pytest.MonkeyPatch) -> None:
    import deepdiff

    seen: list[tuple[Any, Any]] = []
    real = deepdiff.DeepDiff

    def spy(t1: Any, t2: Any, **kwargs: Any) -> Any:
        seen.append((copy.deepcopy(t1), copy.deepcopy(t2)))
        return real(t1, t2, **kwargs)

    monkeypatch.setattr(deepdiff, "DeepDiff", spy)
    old = {"name": "A", "texte": {"06": {"titel": "Volltext", "text": "a"},
                                  "07": {"titel": "Recht", "text": "§ 1"}},
           "onlinedienste": [{"url": "https://a.example/", "titel": "A"}], "n": 1}
    new = copy.deepcopy(old)
    new["texte"]["06"]["text"] = "b"
    new["n"] = 1.0
    changes = diff_content("leistung", old, new)
    assert sorted((c.path, c.old, c.new) for c in changes) == [("n", 1, 1.0),
                                                               ("texte.06.text", "a", "b")]
    assert seen == [({"texte": {"06": {"text": "a"}}, "n": 1},
                     {"texte": {"06": {"text": "b"}}, "n": 1.0})]
    seen.clear()
    assert diff_content("leistung", old, copy.deepcopy(old)) == []
    assert seen == []  # nothing differs: no DeepDiff at all

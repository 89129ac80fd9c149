"""diff, export and changes --office over the history of the simulated scenario."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import pytest

# ``built as built`` re-exports the module-scoped fixture, so pytest finds it here.
from tests.test_cli import Built, edit
from tests.test_cli import built as built
from zufiwatch.cli.root import _progress
from zufiwatch.export import (
    EVENT_TABLE,
    GERMAN_WORDS,
    STATE_COLUMNS,
    STATE_TABLE,
    encode,
    fees_text,
    office_names,
    state_row,
    write_atomic,
)

BOM = "\ufeff".encode()


def german_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM)
    text = data.decode("utf-8")
    return list(csv.reader(io.StringIO(text[1:], newline=""), delimiter=";"))


# -- diff ------------------------------------------------------------------------------------


def test_diff_before_and_after_the_thavel_link_change(built: Built) -> None:
    key = edit(built, 2)
    result = built.run("diff", key, "--from", "2026-10-02", "--to", "2026-10-03")
    assert result.exit_code == 0, result.output
    assert "Online-Dienst › Link" in result.output
    assert "go/a/1273" in result.output and "go/a/5741" in result.output
    assert "field" in result.output and "old" in result.output

    data = built.json("diff", key, "--from", "2026-10-02", "--to", "2026-10-03")
    assert data["key"] == key and data["kind"] == "leistung"
    assert data["from"]["version"]["id"] != data["to"]["version"]["id"]
    assert [c["label"] for c in data["changes"]] == ["Online-Dienst › Link"]
    assert data["changes"][0]["change_type"] == "modified"
    assert data["changes"][0]["old_value"]["url"].endswith("/go/a/1273?c=bc")
    assert data["changes"][0]["new_value"]["url"].endswith("/go/a/5741?c=bc")

    rows = list(csv.DictReader(io.StringIO(
        built.run("diff", key, "--from", "2026-10-02", "--to", "2026-10-03", "--csv").output)))
    assert [r["label"] for r in rows] == ["Online-Dienst › Link"]
    assert json.loads(rows[0]["new_value"])["url"].endswith("5741?c=bc")


def test_diff_of_the_same_version_has_no_differences(built: Built) -> None:
    key = edit(built, 2)
    data = built.json("diff", key, "--from", "2026-10-03", "--to", "2026-10-05")
    assert data["changes"] == []
    result = built.run("diff", key, "--from", "2026-10-03", "--to", "2026-10-05")
    assert result.exit_code == 0 and "no differences" in result.output


def test_diff_across_an_appearance_and_a_removal(built: Built) -> None:
    added = edit(built, 3)  # appears with the crawl of 2026-10-04
    data = built.json("diff", added, "--from", "2026-10-03", "--to", "2026-10-04")
    assert data["from"]["version"] is None
    assert [c["label"] for c in data["changes"]] == ["Leistung neu"]
    removed = edit(built, 4)  # gone with the crawl of 2026-10-05
    table = built.run("diff", removed, "--from", "2026-10-04", "--to", "2026-10-05")
    assert table.exit_code == 0, table.output
    assert "Leistung entfernt" in table.output and "did not exist" in table.output


def test_diff_errors(built: Built) -> None:
    never = built.run("diff", edit(built, 3), "--from", "2026-09-01", "--to", "2026-09-02")
    assert never.exit_code == 1
    lines = never.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "did not exist" in lines[0]
    unknown = built.run("diff", "leistung:S1600001.LB.0", "--from", "2026-10-02")
    assert unknown.exit_code == 1
    lines = unknown.output.strip().splitlines()
    assert len(lines) == 1 and "no record 'leistung:S1600001.LB.0'" in lines[0]
    assert built.run("diff", edit(built, 2), "--from", "last tuesday").exit_code == 2
    assert built.run("diff", edit(built, 2)).exit_code == 2  # --from is required


# -- export ----------------------------------------------------------------------------------


def test_export_csv_de_for_german_spreadsheets(built: Built) -> None:
    result = built.run("export", "--at", "2026-10-04", "--format", "csv-de")
    assert result.exit_code == 0, result.output
    data = result.stdout_bytes
    assert data.startswith(BOM)
    text = data.decode("utf-8")
    assert text.count("\r\n") == text.count("\n")  # every line ends with CRLF
    rows = german_csv(data)
    header, body = rows[0], rows[1:]
    # German headers since issue 16 (were the English keys of STATE_COLUMNS), then one
    # column per field of the content.
    assert header[:len(STATE_TABLE)] == [c.header_de for c in STATE_TABLE]
    assert header[:5] == ["Quelle", "Schlüssel", "Art", "Bezeichnung", "Gültig ab"]
    assert {"Volltext", "Online-Dienst › Link", "Fachliche Freigabe"} <= set(header)
    assert len(body) == len(built.json("state", "--at", "2026-10-04"))
    titles = {row[header.index("Bezeichnung")] for row in body}
    assert any(c in "".join(titles) for c in "äöüß")  # umlauts intact
    offices = {row[header.index("Zuständige Stelle")] for row in body}
    assert any("Standesamt" in o for o in offices)
    key = edit(built, 6)  # the fee change of day 6 (crawled 2026-10-07)
    fees = {row[1]: row[header.index("Gebühren")] for row in body}
    assert "50,00 EUR" in fees[key]
    assert all(len(row) == len(header) for row in body)
    assert {row[header.index("Art")] for row in body} <= {"Leistung", "Organisationseinheit",
                                                          "Onlinedienst", "Link"}
    assert all(re.fullmatch(r"\d\d\.\d\d\.\d{4} \d\d:\d\d", row[header.index("Gültig ab")])
               for row in body)
    assert not any(cell.startswith(("{", "[")) for row in body for cell in row)


def test_export_csv_json_and_the_link_of_that_day(built: Built) -> None:
    key = edit(built, 2)
    before = built.run("export", "--at", "2026-10-02")
    assert before.exit_code == 0
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(before.stdout_bytes.decode()))}
    assert rows[key]["online_links"].endswith("/go/a/1273?c=bc")
    assert rows[key]["leika"] and rows[key]["kind"] == "leistung"
    result = built.run("export", "--format", "json")
    assert result.exit_code == 0
    records = json.loads(result.stdout_bytes)
    assert isinstance(records, list)
    assert len(records) == len(built.json("state", "--at", "now"))
    assert set(records[0]) == set(STATE_COLUMNS)
    after = next(r for r in records if r["key"] == key)
    assert after["online_links"].endswith("/go/a/5741?c=bc")


def test_export_changes_in_a_range(built: Built, tmp_path: Path) -> None:
    target = tmp_path / "changes.csv"
    result = built.run("export", "--changes", "--since", "2026-10-07", "--until", "2026-10-07",
                       "--format", "csv-de", "--output", str(target))
    assert result.exit_code == 0, result.output
    assert "written to" in result.output
    rows = german_csv(target.read_bytes())
    cli_header = built.run("changes", "--csv").output.splitlines()[0].split(",")
    # The columns of 'changes --csv', with German headers since issue 16 (were the keys).
    assert [c.key for c in EVENT_TABLE] == cli_header
    assert rows[0] == [c.header_de for c in EVENT_TABLE]
    assert {r[rows[0].index("Schlüssel")] for r in rows[1:]} == {edit(built, 6)}
    fee = dict(zip(rows[0], rows[1], strict=True))
    assert fee["Erkannt"] == "07.10.2026 06:00"  # local time, not UTC ISO
    assert fee["Art"] == "Leistung" and fee["Änderung"] == "geändert"
    assert fee["Schwere"] in GERMAN_WORDS.values() and fee["Status"] == "ungeklärt"
    assert "50,00 EUR" in fee["Alt"] and "55,00 EUR" in fee["Neu"]
    assert not fee["Alt"].startswith(("{", "[", '"'))
    assert fee["Gesehen"] == "PVOG 07.10.2026 06:00"  # its witness, in German
    assert fee["Zuständige Stelle"] and fee["Einzeländerungen"].isdigit()
    assert [p.name for p in tmp_path.iterdir()] == ["changes.csv"]  # no temporary left
    everything = json.loads(built.run("export", "--changes", "--format", "json").stdout_bytes)
    assert everything == built.json("changes")
    since = json.loads(built.run("export", "--changes", "--since", "2026-10-07",
                                 "--format", "json").stdout_bytes)
    assert {r["key"] for r in since} == {edit(built, 6), edit(built, 7)}


def test_export_usage_errors_exit_2(built: Built, tmp_path: Path) -> None:
    assert built.run("export", "--at", "last tuesday").exit_code == 2
    # "gestern" is a date since issue 16; a word it does not know is still refused.
    assert built.run("export", "--changes", "--since", "vorgestern").exit_code == 2
    assert built.run("export", "--since", "7d").exit_code == 2  # needs --changes
    assert built.run("export", "--changes", "--at", "now").exit_code == 2
    assert built.run("export", "--format", "xlsx").exit_code == 2
    missing = built.run("export", "--output", str(tmp_path / "no" / "such" / "dir.csv"))
    assert missing.exit_code == 1
    assert len(missing.output.strip().splitlines()) == 1
    assert "cannot write" in missing.output


def test_export_to_a_pipe_is_quiet_and_a_terminal_gets_a_progress_bar(built: Built) -> None:
    result = built.run("export", "--format", "json")
    json.loads(result.stdout_bytes)  # nothing but the data
    assert "Exporting" not in result.output

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with _progress(list(range(5)), "Exporting records", stream=terminal) as items:
        assert list(items) == list(range(5))
    assert "Exporting records" in terminal.getvalue()
    quiet = io.StringIO()
    with _progress([1, 2], "Exporting records", stream=quiet) as items:
        assert list(items) == [1, 2]
    assert quiet.getvalue() == ""


# -- changes --office ------------------------------------------------------------------------


def test_changes_of_one_office(built: Built) -> None:
    rows = built.json("changes", "--office", "standesamt")
    assert rows
    assert edit(built, 5, "organisationseinheit") in {r["key"] for r in rows}
    expected = set()
    for event in built.json("changes"):
        at = datetime.fromisoformat(event["opened_at"])
        shown = built.run("show", event["key"], "--at", at.isoformat(), "--json")
        if shown.exit_code != 0:  # removed by then: the version before
            shown = built.run("show", event["key"], "--at",
                              (at - timedelta(seconds=1)).isoformat(), "--json")
        state = json.loads(shown.output)
        if any("standesamt" in n.lower() for n in office_names(state["kind"],
                                                               state["content"])):
            expected.add(event["id"])
    assert {r["id"] for r in rows} == expected
    assert len(expected) < len(built.json("changes"))
    table = built.run("changes", "--office", "STANDESAMT")
    assert table.exit_code == 0 and "Standesamt" in table.output
    assert built.json("changes", "--office", "no such office") == []


# -- the pure parts --------------------------------------------------------------------------


def test_encode_quotes_what_a_spreadsheet_would_split() -> None:
    rows = [{"a": "Straße; Hausnummer", "b": 'sagt "ja"', "c": "Zeile 1\nZeile 2"},
            {"a": "Gebühr: 5,00 EUR", "b": None, "c": ["x", "y"]}]
    data = encode(rows, ["a", "b", "c"], "csv-de")
    assert data.startswith(BOM) and data.endswith(b"\r\n")
    assert b'"Stra\xc3\x9fe; Hausnummer"' in data and b'"sagt ""ja"""' in data
    parsed = german_csv(data)
    assert parsed == [["a", "b", "c"], ["Straße; Hausnummer", 'sagt "ja"', "Zeile 1\nZeile 2"],
                      ["Gebühr: 5,00 EUR", "", '["x", "y"]']]
    plain = encode(rows, ["a", "b", "c"], "csv")
    assert not plain.startswith(BOM) and b"\r\n" not in plain.replace(b"\r\nZeile", b"")
    assert list(csv.reader(io.StringIO(plain.decode(), newline="")))[1][2] == "Zeile 1\nZeile 2"
    assert json.loads(encode(rows, ["a"], "json")) == rows


def test_state_row_of_a_leistung() -> None:
    content = {
        "name": "Ehefähigkeitszeugnis ausstellen", "leika": ["99001", "99002"],
        "zustaendigkeiten": [{"rolle": "01", "name": "Standesamt Jena", "id": "OE.1"},
                             {"rolle": "03", "name": "Bürgerservice", "id": "OE.2"}],
        "onlinedienste": [{"url": "https://a.example/1"}, {"url": "https://b.example/2"}],
        "texte": {"98": {"text": "Es fallen\nGebühren an:",
                         "details": [{"titel": "Gebühr 1", "text": "Gebühr: 55,00 EUR"}]}},
    }
    row = state_row({"source": "s", "key": "leistung:1", "kind": "leistung",
                     "title": content["name"], "valid_from": "2026-10-01", "content": content})
    assert row == {"source": "s", "key": "leistung:1", "kind": "leistung",
                   "title": "Ehefähigkeitszeugnis ausstellen", "valid_from": "2026-10-01",
                   "leika": "99001 | 99002", "zustaendige_stelle": "Standesamt Jena",
                   "online_links": "https://a.example/1 | https://b.example/2",
                   "fees": "Es fallen Gebühren an: | Gebühr: 55,00 EUR"}
    assert fees_text({"name": "x"}) == ""
    office = state_row({"source": "s", "key": "organisationseinheit:1", "kind":
                        "organisationseinheit", "title": "Standesamt", "valid_from": "",
                        "content": {"name": "Standesamt"}})
    assert office["zustaendige_stelle"] == "" and office["fees"] == ""
    assert office_names("organisationseinheit", {"name": "Standesamt"}) == ["Standesamt"]
    assert office_names("onlinedienst", {"name": "x"}) == []


def test_write_atomic_replaces_the_whole_file(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    target.chmod(0o640)
    write_atomic(target, b"new contents")
    assert target.read_bytes() == b"new contents"
    assert target.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    fresh = tmp_path / "fresh.json"
    write_atomic(fresh, b"[]")
    assert fresh.read_bytes() == b"[]" and fresh.stat().st_mode & 0o777 == 0o644


# -- csv-de in a spreadsheet program ---------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice, Debian package "
                    "libreoffice-calc) is not installed; .ci/run installs it")
def test_csv_de_opens_in_libreoffice_calc_one_value_per_cell(built: Built,
                                                             tmp_path: Path) -> None:
    """Both csv-de exports, opened as semicolon-separated UTF-8 in Calc with German
    settings and saved again tab-separated: every row as wide as the header, German
    headers, one value per cell, the detection time read as a date, umlauts intact."""
    assert SOFFICE is not None
    directory, changes = tmp_path / "verzeichnis.csv", tmp_path / "aenderungen.csv"
    assert built.run("export", "--at", "2026-10-04", "--format", "csv-de", "--output",
                     str(directory)).exit_code == 0
    assert built.run("export", "--changes", "--format", "csv-de", "--output",
                     str(changes)).exit_code == 0
    out = tmp_path / "out"
    # 59: ';', 34: '"', 76: UTF-8, 1: from line 1, 1031: German (dates as TT.MM.JJJJ).
    converted = subprocess.run(
        [SOFFICE, f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}", "--headless",
         "--infilter=CSV:59,34,76,1,,1031",
         "--convert-to", "csv:Text - txt - csv (StarCalc):9,34,76,1,,1031",
         "--outdir", str(out), str(directory), str(changes)],
        capture_output=True, text=True, timeout=180, check=False)
    assert converted.returncode == 0, converted.stderr

    def sheet(name: str) -> list[list[str]]:
        text = (out / name).read_text(encoding="utf-8")
        return list(csv.reader(io.StringIO(text, newline=""), delimiter="\t"))

    header, *body = sheet("verzeichnis.csv")
    assert header[:9] == ["Quelle", "Schlüssel", "Art", "Bezeichnung", "Gültig ab", "LeiKa",
                          "Zuständige Stelle", "Online-Links", "Gebühren"]
    assert len(body) == len(built.json("state", "--at", "2026-10-04"))
    assert all(len(row) == len(header) for row in body)
    key = edit(built, 2)
    title = built.json("show", key)["title"]
    row = dict(zip(header, next(r for r in body if r[1] == key), strict=True))
    assert row["Bezeichnung"] == title and row["Art"] == "Leistung"
    assert row["Online-Links"].endswith("/go/a/5741?c=bc")  # changed on 2026-10-03
    assert any("ü" in cell or "ä" in cell or "ß" in cell for r in body for cell in r)

    header, *body = sheet("aenderungen.csv")
    assert header == [c.header_de for c in EVENT_TABLE]
    assert len(body) == len(built.json("changes"))
    assert all(len(row) == len(header) for row in body)
    link = dict(zip(header, next(r for r in body if r[4] == key), strict=True))
    assert link["Feld"] == "Online-Dienst › Link" and link["Änderung"] == "geändert"
    assert link["Neu"].endswith("/go/a/5741?c=bc")
    # Crawled 2026-10-03 06:00 in Berlin; Calc read "03.10.2026 06:00" as that moment
    # (it writes it back in the format of its own locale).
    assert _calc_time(link["Erkannt"]) == datetime(2026, 10, 3, 6, 0), link["Erkannt"]


def _calc_time(cell: str) -> datetime | None:
    for pattern in ("%d.%m.%Y %H:%M", "%d.%m.%y %H:%M", "%m/%d/%y %I:%M %p",
                    "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(cell, pattern)
        except ValueError:
            continue
    return None


def test_encode_table_picks_and_formats_keys_of_any_rows() -> None:
    from zufiwatch.export import Column, encode_table

    rows = [{"at": "2026-09-24T08:30:00.000000+00:00", "kind": "onlinedienst",
             "severity": "critical", "old": {"url": "https://a.example/1", "titel": "A"},
             "new": None, "witnesses": ["zufi-jena", "pvog-jena"], "unused": "x"}]
    columns = [Column("at", "Erkannt", "time"), Column("kind", "Art", "word"),
               Column("severity", "Schwere", "word"), Column("old", "Alt", "value"),
               Column("new", "Neu", "value"), Column("witnesses", "Zeugen")]
    german = german_csv(encode_table(rows, columns, "csv-de", timezone="Europe/Berlin"))
    assert german == [["Erkannt", "Art", "Schwere", "Alt", "Neu", "Zeugen"],
                      ["24.09.2026 10:30", "Onlinedienst", "kritisch", "https://a.example/1",
                       "", "zufi-jena | pvog-jena"]]
    plain = list(csv.reader(io.StringIO(encode_table(rows, columns, "csv").decode())))
    assert plain[0] == ["at", "kind", "severity", "old", "new", "witnesses"]
    assert plain[1][0] == "2026-09-24T08:30:00.000000+00:00" and plain[1][1] == "onlinedienst"
    assert json.loads(plain[1][3]) == rows[0]["old"]
    assert json.loads(encode_table(rows, columns, "json")) == rows

"""Field-level differences between two versions of a record (the only user of deepdiff).

Lists in record content are collections of things with an identity (a link by its URL, an
office by role and id, a phone number by channel and value). Before comparing, each list
becomes a mapping keyed by that identity, so a diff never depends on list positions. When
one item of a collection disappears and one appears in the same place, that is reported
as one modification ("Online-Dienst › Link: old → new"), which is how people see it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson

from .labels import field_label
from .model import KIND_LABELS, Change, ChangeType, canonical_json

__all__ = ["added_value", "diff_content", "diff_records", "field_paths", "format_path",
           "reappeared", "record_labels"]

#: Which fields make up the identity of an item, by the name of its collection.
IDENTITY_FIELDS = {
    "zustaendigkeiten": ("rolle", "id"),
    "kommunikation": ("kanal", "wert"),
    "anschriften": ("typ", "strasse", "hausnummer", "plz", "ort"),
    "details": ("titel", "text"),
    "leistungen": ("id",),
    "gebuehren": ("bezeichnung", "gebiet"),
    "spezialisierungen": ("gebiet_id",),
}

Segments = tuple[tuple[str, bool], ...]


def diff_records(kind: str, old: dict[str, Any] | None,
                 new: dict[str, Any] | None) -> list[Change]:
    """The changes from ``old`` to ``new`` content; ``None`` means the record is absent."""
    label = KIND_LABELS.get(kind, kind)
    if old is None and new is None:
        return []
    if old is None:
        return [Change(ChangeType.ADDED, "", f"{label} neu", None, added_value(kind, new))]
    if new is None:
        return [Change(ChangeType.REMOVED, "", f"{label} entfernt", _name(old), None)]
    return diff_content(kind, old, new)


def reappeared(kind: str, last: dict[str, Any] | None, new: dict[str, Any]) -> list[Change]:
    """A removed record is back: one change saying so, then what differs from its last
    version before the removal."""
    label = KIND_LABELS.get(kind, kind)
    back = Change(ChangeType.REAPPEARED, "", f"{label} wieder vorhanden", None,
                  added_value(kind, new))
    return [back, *(diff_content(kind, last, new) if last is not None else [])]


def _links(items: Any) -> list[dict[str, Any]]:
    """Links as an added record shows them: URL, title and ThAVEL identity only."""
    return [{k: v for k, v in item.items() if k in ("url", "titel", "thavel")}
            for item in items or [] if isinstance(item, dict) and item.get("url")]


def added_value(kind: str, content: dict[str, Any] | None) -> Any:
    """What an added (or returning) record's change shows: what the working group needs to
    judge it. A Leistung: its name, zuständige Stelle and online-service links; an
    Onlinedienst: its name and links with their ThAVEL identity; an office: its name,
    addresses and ways of contact; a link record: its URL."""
    content = content or {}
    if kind == "link" or "name" not in content:
        return _name(content)
    value: dict[str, Any] = {"name": content["name"]}
    if kind == "leistung":
        offices = [o for o in content.get("zustaendigkeiten") or []
                   if isinstance(o, dict) and o.get("rolle") == "01"]
        value["zustaendige_stelle"] = ", ".join(str(o.get("name") or o.get("id", ""))
                                                for o in offices)
        value["onlinedienste"] = _links(content.get("onlinedienste"))
    elif kind == "onlinedienst":
        value["links"] = _links(content.get("links"))
    elif kind == "organisationseinheit":
        value["anschriften"] = list(content.get("anschriften") or [])
        value["kommunikation"] = list(content.get("kommunikation") or [])
    return value


def _name(content: dict[str, Any] | None) -> Any:
    """What names a record in its added/removed change: its name (a link: its URL)."""
    content = content or {}
    return content.get("name", content.get("url"))


def diff_content(kind: str, old: dict[str, Any], new: dict[str, Any]) -> list[Change]:
    """Field-level changes between two contents of the same record kind. DeepDiff sees
    only the subtrees that differ (:func:`_differing`): its findings are the same."""
    old_keyed, old_orig = _keyed(old)
    new_keyed, new_orig = _keyed(new)
    old_keyed, new_keyed = _differing(old_keyed, new_keyed)
    if not old_keyed and not new_keyed:
        return []
    from deepdiff import DeepDiff  # imported when a version differs: a slow import

    result = DeepDiff(old_keyed, new_keyed, view="tree", verbose_level=2,
                      threshold_to_diff_deeper=0)
    changes = []
    for category, levels in result.items():
        for level in levels:
            path = tuple(level.path(output_format="list"))
            segments = _segments(path, old_orig, new_orig)
            if category == "dictionary_item_added":
                change_type = ChangeType.ADDED
            elif category == "dictionary_item_removed":
                change_type = ChangeType.REMOVED
            else:
                change_type = ChangeType.MODIFIED
            changes.append((segments, change_type, old_orig.get(path), new_orig.get(path)))
    return [_change(kind, *c) for c in _pair_replacements(changes)]


def field_paths(kind: str, content: dict[str, Any]) -> dict[str, str]:
    """Every field of a content, at every depth, as its changes would name it: path →
    label (``{"texte.06.text": "Volltext", "gebuehren[Gebühr:Jena].betrag":
    "Gebühren › Betrag", …}``)."""
    _keyed_content, originals = _keyed(content)
    found = {}
    for path in originals:
        if not path:
            continue
        segments = _segments(path, originals, originals)
        found[format_path(segments)] = field_label(kind, list(segments))
    return found


def record_labels(kind: str, status: str = "present") -> list[str]:
    """The record-level change labels a record can still see: "… entfernt" while it is
    there, "… wieder vorhanden" once it is missing or removed (see :func:`diff_records`,
    :func:`reappeared`)."""
    label = KIND_LABELS.get(kind, kind)
    if status == "present":
        return [f"{label} entfernt"]
    return [f"{label} wieder vorhanden", f"{label} entfernt"]


def format_path(segments: Segments) -> str:
    """``texte.06.text``, ``onlinedienste[https://…].titel``."""
    text = ""
    for name, is_key in segments:
        if is_key:
            text += f"[{name}]"
        else:
            text += f".{name}" if text else name
    return text


def _change(kind: str, segments: Segments, change_type: ChangeType, old: Any, new: Any) -> Change:
    return Change(change_type, format_path(segments), field_label(kind, list(segments)), old, new)


def _keyed(content: dict[str, Any]) -> tuple[dict[str, Any], dict[tuple, Any]]:
    """Content with lists turned into keyed mappings, and every original value by path.

    Whether a path segment is an item key is read off the original value at its parent
    (a list) later.
    """
    originals: dict[tuple, Any] = {}

    def walk(value: Any, path: tuple, field: str) -> Any:
        originals[path] = value
        if isinstance(value, dict):
            return {k: walk(v, (*path, k), k) for k, v in value.items()}
        if isinstance(value, list):
            keyed = {}
            for item in value:
                item_key = _identity(item, field)
                keyed[item_key] = walk(item, (*path, item_key), field)
            return keyed
        return value

    return walk(content, (), ""), originals


def _differing(old: dict[Any, Any], new: dict[Any, Any]) -> tuple[dict[Any, Any],
                                                                    dict[Any, Any]]:
    """``old`` and ``new`` without the keys whose values are the same in both, and the
    mappings both hold at a key narrowed the same way.

    What is dropped is what DeepDiff would find nothing in (:func:`_same`), and both
    mappings keep their order, so DeepDiff walks what is left in the same order and finds
    the same changes at the same paths (``threshold_to_diff_deeper=0``: whether it goes
    deeper never depends on how many keys two mappings share). The values of changes are
    taken from the contents themselves, not from what DeepDiff saw."""
    dropped = set()
    deeper: dict[Any, tuple[dict[Any, Any], dict[Any, Any]]] = {}
    for key in old.keys() & new.keys():
        before, after = old[key], new[key]
        if _same(before, after):
            dropped.add(key)
        elif type(before) is dict and type(after) is dict:
            deeper[key] = _differing(before, after)
    if not dropped and not deeper:
        return old, new
    return ({k: deeper[k][0] if k in deeper else v for k, v in old.items() if k not in dropped},
            {k: deeper[k][1] if k in deeper else v for k, v in new.items() if k not in dropped})


#: Scalars DeepDiff compares by type and ``==`` (equal floats, 0.0 and -0.0, report nothing).
_SCALARS = (str, int, float, bool, type(None))
#: orjson's options to tell values of the same type apart (keys sorted: DeepDiff ignores
#: their order); a subclass, or anything not plain JSON, is not written: not the same.
_STRICT = (orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_SUBCLASS
           | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME)


def _same(a: Any, b: Any) -> bool:
    """Whether DeepDiff finds no difference between ``a`` and ``b``: the same type and
    equal, and inside containers the same types too (``==`` takes 1 for 1.0 and True,
    DeepDiff does not: the canonical JSON of each tells them apart)."""
    if type(a) is not type(b) or a != b:
        return False
    if type(a) in _SCALARS:
        return True
    try:
        return orjson.dumps(a, option=_STRICT) == orjson.dumps(b, option=_STRICT)
    except (orjson.JSONEncodeError, TypeError):
        return False


def _identity(item: Any, collection: str) -> str:
    if not isinstance(item, dict):
        return str(item)
    fields = IDENTITY_FIELDS.get(collection)
    if fields:
        return ":".join(str(item.get(f, "")) for f in fields)
    if "url" in item:
        return str(item["url"])
    if "id" in item:
        return str(item["id"])
    return canonical_json(item)


def _segments(path: tuple, old_orig: dict[tuple, Any], new_orig: dict[tuple, Any]) -> Segments:
    return tuple((str(name), _is_item_key(path, i, old_orig, new_orig))
                 for i, name in enumerate(path))


def _is_item_key(path: tuple, i: int, old_orig: dict[tuple, Any],
                 new_orig: dict[tuple, Any]) -> bool:
    parent = path[:i]
    container = old_orig.get(parent, new_orig.get(parent))
    return isinstance(container, list)


def _pair_replacements(changes: list[tuple]) -> list[tuple]:
    """One item removed and one added in the same collection: one modification."""
    by_parent: dict[Segments, list[int]] = defaultdict(list)
    for index, (segments, change_type, _old, _new) in enumerate(changes):
        if segments and segments[-1][1] and change_type != ChangeType.MODIFIED:
            by_parent[segments[:-1]].append(index)
    replaced: dict[int, tuple] = {}
    dropped: set[int] = set()
    for indexes in by_parent.values():
        kinds = sorted(changes[i][1] for i in indexes)
        if kinds != [ChangeType.ADDED, ChangeType.REMOVED]:
            continue
        added = next(i for i in indexes if changes[i][1] == ChangeType.ADDED)
        removed = next(i for i in indexes if changes[i][1] == ChangeType.REMOVED)
        replaced[removed] = (changes[removed][0], ChangeType.MODIFIED,
                             changes[removed][2], changes[added][3])
        dropped.add(added)
    result = []
    for index, change in enumerate(changes):
        if index in dropped:
            continue
        result.append(replaced.get(index, change))
    return result

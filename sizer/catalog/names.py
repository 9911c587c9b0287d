"""Forgiving name resolution for catalog entries.

A query resolves in this order, and the first rule that decides wins:

1. its canonical form (`canonicalize_name`) equals an entry's id or alias;
2. its canonical form equals an entry's name, a Hugging Face repo, or a repo without its owner;
3. its word tokens (letter runs and digit runs: `rtx4090` -> rtx, 4090) equal the tokens of one
   entry's id, alias or name;
4. its tokens are all among one entry's tokens (`H100 SXM` -> "H100 SXM5 80GB").

Two or more entries at the deciding rule: `AmbiguousNameError`. Nothing: `UnknownNameError` with
close matches (difflib).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sizer.errors import AmbiguousNameError, UnknownNameError, suggest
from sizer.schema.common import canonicalize_name

__all__ = ["NameIndex", "name_tokens"]

_TOKEN = re.compile(r"[a-z]+|[0-9]+")
_MAX_CANDIDATES = 12


def name_tokens(text: str) -> frozenset[str]:
    """`"H100 SXM5 80GB"` -> {h, 100, sxm, 5, 80, gb}."""
    return frozenset(_TOKEN.findall(text.lower()))


def _add(table: dict[str, list[str]], key: str, entry_id: str) -> None:
    ids = table.setdefault(key, [])
    if entry_id not in ids:
        ids.append(entry_id)


# kind label -> the command that lists every entry of that kind (the next step after an unknown name)
_LISTINGS = {"GPU": "sizer gpus list", "model": "sizer models list", "quant format": "sizer quants list",
             "engine": "sizer engines list", "system": "sizer systems list"}


class NameIndex:
    """Lookup tables over the entries of one kind (built once per catalog and kind)."""

    def __init__(self, kind: str, entries: Iterable[Any]) -> None:
        self.kind = kind
        self._by_alias: dict[str, list[str]] = {}  # canonical id / alias -> ids
        self._by_name: dict[str, list[str]] = {}  # canonical name / hf repo -> ids
        self._keys: dict[str, list[frozenset[str]]] = {}  # id -> token sets of id, aliases, name
        self._tokens: dict[str, frozenset[str]] = {}  # id -> every token it answers to
        for entry in entries:
            entry_id: str = entry.id
            names = [entry_id, *entry.aliases]
            for text in names:
                _add(self._by_alias, canonicalize_name(text), entry_id)
            display = getattr(entry, "name", None)
            repos: list[str] = list(getattr(entry, "hf_repos", ()) or ())
            secondary = [display] if display else []
            secondary += repos + [repo.rsplit("/", 1)[-1] for repo in repos]
            for text in secondary:
                _add(self._by_name, canonicalize_name(text), entry_id)
            self._keys[entry_id] = [name_tokens(t) for t in (*names, *([display] if display else []))]
            self._tokens[entry_id] = frozenset().union(*self._keys[entry_id], *map(name_tokens, repos))

    def resolve(self, query: str) -> str:
        """The id of the one entry `query` names."""
        canonical = canonicalize_name(query)
        for table in (self._by_alias, self._by_name):
            ids = table.get(canonical)
            if ids:
                return self._one(query, ids)
        tokens = name_tokens(query)
        if tokens:
            exact = [i for i, keys in self._keys.items() if tokens in keys]
            if exact:
                return self._one(query, exact)
            subset = [i for i, have in self._tokens.items() if tokens <= have]
            if subset:
                return self._one(query, subset)
        raise UnknownNameError(self.kind, query, self.suggestions(query), _LISTINGS.get(self.kind))

    def _one(self, query: str, ids: list[str]) -> str:
        if len(ids) == 1:
            return ids[0]
        shown = sorted(ids)
        if len(shown) > _MAX_CANDIDATES:
            shown = [*shown[:_MAX_CANDIDATES], f"... ({len(ids) - _MAX_CANDIDATES} more)"]
        raise AmbiguousNameError(self.kind, query, shown)

    def suggestions(self, query: str, n: int = 5) -> list[str]:
        """Ids of the entries whose id, alias or name is closest to `query`."""
        keys = {**{k: v for k, v in self._by_name.items()}, **self._by_alias}
        ids: list[str] = []
        for key in suggest(canonicalize_name(query), keys, n=n, cutoff=0.6):
            ids += [i for i in keys[key] if i not in ids]
        if not ids:  # fall back on shared tokens: "m9 ultra" still suggests the M-series Ultras
            tokens = name_tokens(query)
            scored = sorted(
                ((len(tokens & have), i) for i, have in self._tokens.items()), key=lambda s: (-s[0], s[1])
            )
            ids = [i for score, i in scored if score and score >= len(tokens) - 1]
        return ids[:n]

"""One indexed field of every series, dictionary-encoded.

Each series (row) has one *code*: the index of its tuple of values in
``values`` (lists flattened and ``None`` dropped, exactly the reference's
``field_values``), or -1 when it has none. Predicates are decided once per
distinct tuple, then spread to rows with one numpy gather, so a term costs
about the same on a million rows as on a thousand distinct values.

Tuples holding one plain string or one number (nearly all of them) also sit
in sorted lookup tables, so that equality, prefixes, comparisons and ranges
are bisections, wildcards one regular-expression scan over the joined
strings, instead of a Python call per distinct value.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

from radcurate.query.patterns import tokens

#: a value's type tag: numbers, strings, booleans, anything else (sequence items)
Typed = tuple[str, Any]

#: separates strings in a joined blob (NULs are stripped from DICOM values on ingest)
_SEP = "\x00"
#: wildcard patterns whose matching codes a :class:`StringTable` keeps
REGEX_CACHE_SIZE = 256

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.integer[Any]]


def flatten(value: Any) -> tuple[Any, ...]:
    """The values of a field as the reference sees them (lists flattened, None dropped).

    Examples
    --------
    >>> flatten(["A", ["B", None]]), flatten(None), flatten(3)
    (('A', 'B'), (), (3,))
    """
    out: list[Any] = []
    _flatten(value, out)
    return tuple(out)


def _flatten(value: Any, out: list[Any]) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _flatten(item, out)
    else:
        out.append(value)


def typed_key(value: Any) -> Typed:
    """A hashable key that keeps ``1``, ``True`` and ``"1"`` apart (and ``1 == 1.0``)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return ("o", None)


def prefix_end(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (None: no bound).

    Examples
    --------
    >>> prefix_end("ab")
    'ac'
    """
    if not prefix:
        return None
    last = ord(prefix[-1])
    if last >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(last + 1)


def pattern_regex(pattern: str, *, anchored: bool) -> re.Pattern[str]:
    """A regex finding a (lowercased) pattern inside one string of a joined blob."""
    body = "".join(
        ("[^\x00]*" if c == "*" else "[^\x00]") if wild else re.escape(c)
        for wild, c in tokens(pattern.lower())
    )
    if anchored:
        return re.compile(f"(?<![^\x00]){body}(?![^\x00])")
    return re.compile(body)


class StringTable:
    """Distinct lowercased strings of single-string tuples, sorted, with their codes."""

    def __init__(self, entries: Iterable[tuple[str, int]]) -> None:
        by_key: dict[str, list[int]] = {}
        for lowered, code in entries:
            by_key.setdefault(lowered, []).append(code)
        self.keys: list[str] = sorted(by_key)
        self.codes: list[list[int]] = [by_key[k] for k in self.keys]
        self._blob: str | None = None
        self._starts: IntArray | None = None
        #: pattern -> codes of the keys it matches (the table never changes, so neither do
        #: they; the most recent :data:`REGEX_CACHE_SIZE` patterns are kept)
        self._matches: OrderedDict[tuple[str, int], tuple[int, ...]] = OrderedDict()
        self._matches_lock = threading.Lock()

    def span(self, low: int, high: int) -> list[int]:
        """Codes of keys ``low <= i < high``."""
        return [c for codes in self.codes[low:high] for c in codes]

    def equal(self, lowered: str) -> list[int]:
        """Codes whose string lowercases to ``lowered``."""
        i = bisect.bisect_left(self.keys, lowered)
        if i < len(self.keys) and self.keys[i] == lowered:
            return self.codes[i]
        return []

    def bounds(self, low: str | None, high: str | None) -> tuple[int, int]:
        """Key positions of ``low <= key < high`` (None: unbounded)."""
        start = 0 if low is None else bisect.bisect_left(self.keys, low)
        stop = len(self.keys) if high is None else bisect.bisect_left(self.keys, high)
        return start, max(start, stop)

    def after(self, value: str, *, inclusive: bool) -> int:
        """First key position at or after (``inclusive``) / strictly after ``value``."""
        if inclusive:
            return bisect.bisect_left(self.keys, value)
        return bisect.bisect_right(self.keys, value)

    def regex(self, regex: re.Pattern[str]) -> list[int]:
        """Codes of keys in which ``regex`` finds a match.

        Scanning every distinct string holds the GIL (a wildcard over a million series'
        descriptions took an eighth of a loaded server's time, docs/search.md "Load"), and the
        same patterns come back (a dashboard refreshed, the next page of a search): the
        answer is kept per pattern for the table's life."""
        if not self.keys:
            return []
        key = (regex.pattern, regex.flags)
        with self._matches_lock:
            known = self._matches.get(key)
            if known is not None:
                self._matches.move_to_end(key)
                return list(known)
        found = self._scan(regex)
        with self._matches_lock:
            self._matches[key] = tuple(found)
            while len(self._matches) > REGEX_CACHE_SIZE:
                self._matches.popitem(last=False)
        return found

    def _scan(self, regex: re.Pattern[str]) -> list[int]:
        if self._blob is None:
            self._blob = _SEP.join(self.keys)
            lengths = np.fromiter((len(k) + 1 for k in self.keys), np.int64, len(self.keys))
            self._starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        assert self._starts is not None
        positions = [m.start() for m in regex.finditer(self._blob)]
        if not positions:
            return []
        found = np.searchsorted(self._starts, np.asarray(positions), side="right") - 1
        return [c for i in np.unique(found).tolist() for c in self.codes[i]]


class NumberTable:
    """Numbers of single-number tuples and their codes."""

    def __init__(self, entries: Iterable[tuple[float, int]]) -> None:
        pairs = list(entries)
        self.values = np.fromiter((p[0] for p in pairs), np.float64, len(pairs))
        self.codes = np.fromiter((p[1] for p in pairs), np.int64, len(pairs))

    def where(self, test: Callable[[npt.NDArray[np.float64]], BoolArray]) -> IntArray:
        """Codes of numbers passing a vectorised test."""
        return self.codes[test(self.values)]


class Column:
    """Codes of one field for every row plus the distinct value tuples."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.values: list[tuple[Any, ...]] = []
        self._lookup: dict[tuple[Typed, ...], int] = {}
        self._raw: dict[Any, int] = {}
        self.codes: IntArray = np.empty(0, np.int32)
        self._strings: StringTable | None = None
        self._numbers: NumberTable | None = None
        self._others: list[int] | None = None
        #: per direction: per row its sort ordinal (dropped when codes change), and per code
        #: (dropped when a value is added; codes changing keep it)
        self._sort_cache: dict[bool, IntArray] = {}
        self._code_ordinals: dict[bool, IntArray] = {}

    def code_of(self, values: tuple[Any, ...]) -> int:
        """The code of a values tuple (a new one when first seen); -1 for no values."""
        if not values:
            return -1
        key = tuple(typed_key(v) for v in values)
        code = self._lookup.get(key)
        if code is None:
            code = len(self.values)
            self._lookup[key] = code
            self.values.append(values)
            self._strings = self._numbers = self._others = None
            self._sort_cache.clear()
            self._code_ordinals.clear()
        return code

    def __getstate__(self) -> dict[str, Any]:
        return {"name": self.name, "values": self.values, "codes": self.codes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["name"])  # type: ignore[misc]
        self.values = state["values"]
        self.codes = state["codes"]
        self._lookup = {
            tuple(typed_key(v) for v in values): code for code, values in enumerate(self.values)
        }

    def code_of_raw(self, value: Any) -> int:
        """The code of a stored JSON value (a scalar or a list), remembered per distinct value."""
        kind = value.__class__
        key: Any
        if kind is list:
            try:
                key = (kind, tuple([(v.__class__, v) for v in value]))
                hash(key)
            except TypeError:  # nested lists or sequence items: not cached
                return self.code_of(flatten(value))
        elif kind is dict:
            return self.code_of(flatten(value))
        else:
            key = (kind, value)
        code = self._raw.get(key)
        if code is None:
            code = self.code_of(flatten(value))
            self._raw[key] = code
        return code

    def forget_raw(self) -> None:
        """Drop the per-raw-value code cache (rebuilt as values are seen again)."""
        self._raw = {}

    def changed(self) -> None:
        """Rows' codes changed: drop caches derived from them."""
        self._sort_cache.clear()

    # -- lookup tables -------------------------------------------------------------------
    def _split(self) -> None:
        strings: list[tuple[str, int]] = []
        numbers: list[tuple[float, int]] = []
        others: list[int] = []
        for code, values in enumerate(self.values):
            if len(values) == 1:
                value = values[0]
                if isinstance(value, str):
                    strings.append((value.lower(), code))
                    continue
                exact = isinstance(value, float) or (
                    isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53
                )
                if exact:
                    numbers.append((float(value), code))
                    continue
            others.append(code)
        self._strings, self._numbers, self._others = (
            StringTable(strings),
            NumberTable(numbers),
            others,
        )

    @property
    def strings(self) -> StringTable:
        """Single-string tuples."""
        if self._strings is None:
            self._split()
        assert self._strings is not None
        return self._strings

    @property
    def numbers(self) -> NumberTable:
        """Single-number tuples."""
        if self._numbers is None:
            self._split()
        assert self._numbers is not None
        return self._numbers

    @property
    def others(self) -> list[int]:
        """Every other tuple (several values, booleans, sequence items, huge integers)."""
        if self._others is None:
            self._split()
        assert self._others is not None
        return self._others

    # -- rows ------------------------------------------------------------------------------
    def rows_with(self, codes: Iterable[int]) -> BoolArray:
        """Rows whose code is one of ``codes``."""
        # one slot more than codes: a row without values (code -1) reads that last slot,
        # always False, so the million codes need no shifted copy; ``take`` reads the int32
        # codes as they are (indexing converts them to intp first: 2.2 against 1.1 ms at 1M)
        lut = np.zeros(len(self.values) + 1, np.bool_)
        picked = np.fromiter(codes, np.int64)
        if picked.size:
            lut[picked] = True
        out: BoolArray = np.take(lut, self.codes)
        return out

    def present(self) -> BoolArray:
        """Rows with at least one value."""
        return self.codes >= 0

    # -- sorting ---------------------------------------------------------------------------
    def sort_ordinals(self, descending: bool) -> IntArray:
        """Per row, the position of its sort key among all keys (missing rows last).

        The key is the first value: numbers, then strings (lowercased, code
        points), then booleans (false before true), then rows without one (or
        whose first value is a sequence item) — also when descending, which
        reverses the values only.
        """
        cached = self._sort_cache.get(descending)
        if cached is not None:
            return cached
        ordinal = self._code_ordinals.get(descending)
        if ordinal is None:
            ordinal = self._code_ordinals[descending] = self._ordinals_of_codes(descending)
        result: IntArray = np.take(ordinal, self.codes + 1)
        self._sort_cache[descending] = result
        return result

    def _ordinals_of_codes(self, descending: bool) -> IntArray:
        """Per code + 1 (slot 0: no value), the position of its sort key among all keys."""
        keyed: list[tuple[int, Any, int]] = []
        for code, values in enumerate(self.values):
            rank, key = sort_key(values[0])
            keyed.append((rank, key, code))
        ordinal = np.full(len(self.values) + 1, 0, np.int64)
        groups: dict[int, list[tuple[Any, int]]] = {}
        for rank, key, code in keyed:
            groups.setdefault(rank, []).append((key, code))
        position = 0
        for rank in (0, 1, 2):
            group = groups.get(rank, [])
            group.sort(key=lambda item: item[0], reverse=descending)
            previous: Any = object()
            for key, code in group:
                if key != previous:
                    position += 1
                    previous = key
                ordinal[code + 1] = position
        missing = position + 1
        for _, code in groups.get(3, []):
            ordinal[code + 1] = missing
        ordinal[0] = missing
        return ordinal


def sort_key(value: Any) -> tuple[int, Any]:
    """``(rank, key)`` of a first value, as the SQL backends order them."""
    if isinstance(value, bool):
        return 2, int(value)
    if isinstance(value, (int, float)):
        return 0, value
    if isinstance(value, str):
        return 1, value.lower()
    return 3, None

"""Integer codes that mean the same on every day, and compact sets of them, for per-day accumulators.

`pd.factorize` numbers one frame's values; a span measured one day at a time needs numbers that
agree across days, so that per-day counts add up and sets of keys merge. `Codebook` gives them
(a reference table's rows first, other values as they arrive), `DistinctKeys` keeps the sorted
unique keys seen so far and `DistinctIds` the distinct Interaction_IDs (runs of consecutive
integers: a simulated day's IDs are one run). `InteractionCodes` holds a span's codebooks
for users and objects, and `CodedDay` a day's columns coded with them, each column coded once
and only when asked. Memory grows with distinct values, not with events. Sorting, not hashing:
numpy's sort of int64 is several times faster than `pd.unique` here.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from functools import cached_property
from typing import TypeAlias

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api.extensions import ExtensionArray

CODE_BITS = 32  # a key packs two codes below 2**32 into one int64
# A reference column: a Series, an Index, an array or a plain sequence of unique values.
Reference: TypeAlias = pd.Series | pd.Index | np.ndarray | ExtensionArray | Sequence[Hashable]


def category_codes(values: pd.Series, categories: Sequence[Hashable] | pd.Index) -> np.ndarray:
    """Index of each value in `categories` (-1 where absent), without materialising strings."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        position = {c: i for i, c in enumerate(categories)}
        remap = np.array([position.get(c, -1) for c in values.cat.categories] + [-1], dtype=np.int64)
        return remap[values.cat.codes.to_numpy()]  # code -1 (missing) picks the trailing -1
    # Factorise first (Arrow-backed strings encode natively), then look up the few distinct values.
    codes, uniques = pd.factorize(values)
    known = pd.Index(list(categories))
    found = known.get_indexer(uniques.astype(str) if uniques.dtype == object else uniques)
    return np.append(found, -1).astype(np.int64)[codes]  # code -1 (missing) picks the trailing -1


def text_values(values: pd.Series) -> pd.Index:
    """The distinct values as text, in order of first appearance (a categorical: its categories)."""
    texts: pd.Index = pd.Index(pd.unique(_distinct_texts(values)[1]))
    return texts


def _distinct_texts(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Each value's position among the distinct values (-1: missing), and their text: one
    conversion per distinct value (a categorical's categories), not per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy(), pd.Index(values.cat.categories.astype(str))
    local, uniques = pd.factorize(values)
    return local, pd.Index(uniques).astype(str)


class TextCodes:
    """Codes of values compared as text (Object_Type), stable across days: `names` grows as new
    texts arrive; -1 for a missing value."""

    def __init__(self, names: pd.Index) -> None:
        self.names = pd.Index(names, dtype=object)

    def encode(self, values: pd.Series) -> np.ndarray:
        local, texts = _distinct_texts(values)
        new = texts[self.names.get_indexer(texts) < 0]
        if len(new):
            self.names = self.names.append(pd.Index(pd.unique(new), dtype=object))
        codes: NDArray[np.intp] = np.append(self.names.get_indexer(texts), -1)[local]
        return codes


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """`np.unique(keys)` for numbers, by one sort: numpy 2.4's `np.unique` takes 0.6 s on a million wide int64 keys."""
    if len(keys) < 2 or (keys[1:] > keys[:-1]).all():  # already ascending: a simulated day's IDs
        return keys
    return _unique_of_sorted(np.sort(keys))


def _unique_of_sorted(ordered: np.ndarray) -> np.ndarray:
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def pack(high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """One int64 key per (high, low) pair of codes, equal exactly when both are."""
    if len(low) and (low.max() >= 2**CODE_BITS or high.max() >= 2 ** (63 - CODE_BITS)):
        raise ValueError(f"more than {2**CODE_BITS:,} distinct values to tell apart in one span")
    keys: NDArray[np.int64] = (high.astype(np.int64) << CODE_BITS) | low
    return keys


class Lookup:
    """Rows of a reference column of unique values; an integer range (User_ID 1..N) by arithmetic."""

    def __init__(self, reference: Reference) -> None:
        self.index = pd.Index(reference)
        values = self.index.to_numpy()
        contiguous = values.dtype.kind in "iu" and len(values) and (np.diff(values) == 1).all()
        self.first = int(values[0]) if contiguous else None

    def __len__(self) -> int:
        return len(self.index)

    def positions(self, values: pd.Series) -> np.ndarray:
        """Row of each value in the reference, -1 where it is not there (or missing)."""
        if not len(self.index):
            return np.full(len(values), -1, dtype=np.int64)
        if self.first is not None and _plain_integers(values):
            offset = values.to_numpy().astype(np.int64) - self.first
            return np.where((offset >= 0) & (offset < len(self.index)), offset, -1)
        # pandas-stubs want an Index here; pandas takes any array-like (it wraps it in an Index).
        rows: NDArray[np.int64] = self.index.get_indexer(values).astype(np.int64, copy=False)  # type: ignore[arg-type]
        return rows


def _plain_integers(values: pd.Series) -> bool:
    return isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu"


class Codebook:
    """Codes 0..len-1 for values, equal on every day exactly when the values are: the reference's
    rows, then one code for a missing value, then every other value in order of first arrival."""

    def __init__(self, reference: Reference = ()) -> None:
        self.reference = Lookup(reference)
        self.others = pd.Index([], dtype=object)

    @property
    def missing(self) -> int:
        return len(self.reference)

    def __len__(self) -> int:
        return len(self.reference) + 1 + len(self.others)

    def encode(self, values: pd.Series, rows: np.ndarray | None = None) -> np.ndarray:
        """The codes of `values` (`rows`: their reference rows when already looked up)."""
        codes = self.reference.positions(values) if rows is None else rows.copy()
        outside = np.flatnonzero(codes < 0)
        if len(outside):
            rest = values.iloc[outside]
            present = rest.notna().to_numpy()
            codes[outside] = self.missing
            codes[outside[present]] = self.missing + 1 + self._others(rest[present])
        return codes

    def _others(self, values: pd.Series) -> np.ndarray:
        local, uniques = pd.factorize(values)
        found = self.others.get_indexer(uniques) if len(self.others) else np.full(len(uniques), -1)
        new = found < 0
        found[new] = len(self.others) + np.arange(int(new.sum()))
        self.others = self.others.append(pd.Index(uniques[new], dtype=object))
        return found[local]

    def value_of(self, codes: np.ndarray) -> pd.Index:
        """The values behind codes (missing for the missing code)."""
        if not len(codes) or codes.max() < len(self.reference):  # the reference's own dtype: a fast sort
            known: pd.Index = self.reference.index[codes]
            return known
        values = self.reference.index.astype(object).append(pd.Index([np.nan], dtype=object)).append(self.others)
        coded: pd.Index = values[codes]
        return coded

    def nbytes(self) -> int:
        return int(self.others.memory_usage(deep=True))


class DistinctKeys:
    """The distinct int64 keys seen so far, as one sorted array."""

    def __init__(self) -> None:
        self.keys = np.empty(0, dtype=np.int64)

    def add(self, keys: np.ndarray) -> None:
        day = sorted_unique(keys)
        if not len(self.keys):
            self.keys = day.copy()
            return
        if 4 * len(day) < len(self.keys):  # a few keys into many: find their places
            at = np.searchsorted(self.keys, day)
            new = self.keys[np.minimum(at, len(self.keys) - 1)] != day
            self.keys = np.insert(self.keys, at[new], day[new])
        else:  # two sorted runs: a stable sort (timsort) merges them in one pass
            self.keys = _unique_of_sorted(np.sort(np.concatenate((self.keys, day)), kind="stable"))

    def __len__(self) -> int:
        return len(self.keys)


class DistinctIds:
    """How many distinct Interaction_IDs a span has: integer IDs (and integral floats, which a
    concatenation compares with them) as runs of consecutive values, others (text) as a set;
    all missing IDs are one value, as in `Series.duplicated`."""

    def __init__(self) -> None:
        self.starts = np.empty(0, dtype=np.int64)
        self.ends = np.empty(0, dtype=np.int64)
        self.others = pd.Index([], dtype=object)
        self.missing_seen = False
        self.count = 0

    def add(self, ids: pd.Series) -> None:
        missing = ids.isna().to_numpy()
        if missing.any():
            self.count += not self.missing_seen
            self.missing_seen = True
            ids = ids[~missing]
        integers = _integers(ids)
        if integers is None:
            self._add_others(ids)
        else:
            self._add_integers(sorted_unique(integers))

    def _add_integers(self, values: np.ndarray) -> None:
        if not len(values):
            return
        run = np.searchsorted(self.starts, values, side="right") - 1
        seen = (run >= 0) & (values <= self.ends[np.maximum(run, 0)]) if len(self.starts) else False
        self.count += len(values) - int(np.sum(seen))
        first = np.flatnonzero(np.concatenate(([True], np.diff(values) != 1)))
        last = np.append(first[1:] - 1, len(values) - 1)
        starts = np.concatenate((self.starts, values[first]))
        ends = np.concatenate((self.ends, values[last]))
        order = np.argsort(starts, kind="stable")
        starts, ends = starts[order], ends[order]
        reach = np.maximum.accumulate(ends)
        merged = np.flatnonzero(np.concatenate(([True], starts[1:] > reach[:-1] + 1)))
        self.starts, self.ends = starts[merged], np.maximum.reduceat(ends, merged)

    def _add_others(self, ids: pd.Series) -> None:
        uniques = pd.Index(pd.unique(ids), dtype=object)
        new = uniques[~uniques.isin(self.others)]
        self.count += len(new)
        self.others = self.others.append(new)

    def nbytes(self) -> int:
        return self.starts.nbytes + self.ends.nbytes + int(self.others.memory_usage(deep=True))


def _integers(ids: pd.Series) -> np.ndarray | None:
    """The IDs (none missing) as int64 when they are integers, or floats holding integers."""
    dtype = ids.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return ids.to_numpy().astype(np.int64, copy=False)
    integer_objects = pd.api.types.is_object_dtype(dtype) and pd.api.types.infer_dtype(ids) == "integer"
    if pd.api.types.is_integer_dtype(dtype) or integer_objects:
        return ids.to_numpy(dtype=np.int64)
    if pd.api.types.is_float_dtype(dtype):
        values = ids.to_numpy(dtype=np.float64)
        if (np.abs(values) < 2**53).all() and (values == np.round(values)).all():
            return values.astype(np.int64)
    return None


def hours_of(values: pd.Series) -> np.ndarray:
    """The hour of each timestamp (an aware one's local hour)."""
    stamps = values.to_numpy()
    if stamps.dtype.kind == "M" and not np.isnat(stamps).any():  # naive: arithmetic, no calendar
        return stamps.astype("datetime64[h]").view(np.int64) % 24
    return pd.DatetimeIndex(values).hour.to_numpy()


def days_of(values: pd.Series) -> np.ndarray:
    """Dates or timestamps as days (datetime64[D]; an aware timestamp's UTC day)."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.to_numpy().astype("datetime64[D]")


class InteractionCodes:
    """The codebooks every day is coded with: users by their row in `users`, objects by their
    row in the catalog, other values (unknown users and objects) as they come."""

    def __init__(self, users: pd.DataFrame, objects: pd.DataFrame) -> None:
        self.users = Codebook(users["User_ID"])
        self.types = TextCodes(text_values(objects["Object_Type"]))
        catalog_types = self.types.encode(objects["Object_Type"])
        self.catalog: list[tuple[Lookup, int]] = []
        offset = 0
        for code in range(len(self.types.names)):
            lookup = Lookup(pd.unique(objects["Object_ID"][catalog_types == code].dropna()))
            self.catalog.append((lookup, offset))
            offset += len(lookup)
        self.catalog_objects = offset
        # Per type code (and one more for "not a catalog type"): first ID, how many, first code.
        ranges = [(lookup.first or 0, len(lookup), offset) for lookup, offset in self.catalog]
        contiguous = all(lookup.first is not None or not len(lookup) for lookup, _ in self.catalog)
        self.ranges = np.array([*ranges, (0, 0, 0)], dtype=np.int64).T if contiguous else None
        self.object_ids = Codebook()
        self.other_objects = Codebook()

    def objects(self, types: np.ndarray, ids: pd.Series) -> np.ndarray:
        """A code per (Object_Type code, Object_ID): its catalog row, else catalog size + another code."""
        codes = self._catalog_rows(types, ids)
        unknown = np.flatnonzero(codes < 0)
        if len(unknown):
            pairs = pack(types[unknown] + 1, self.object_ids.encode(ids.iloc[unknown]))
            codes[unknown] = self.catalog_objects + self.other_objects.encode(pd.Series(pairs))
        return codes

    def _catalog_rows(self, types: np.ndarray, ids: pd.Series) -> np.ndarray:
        """Catalog row per event, -1 outside it: arithmetic when each type's IDs are a range (1..N)."""
        if self.ranges is not None and _plain_integers(ids):
            known_type = (types >= 0) & (types < len(self.catalog))
            type_rows = np.where(known_type, types, len(self.catalog)).astype(np.intp, copy=False)
            first, count, offsets = (np.take(bound, type_rows) for bound in self.ranges)  # 3× faster than [:, rows]
            inside = ids.to_numpy().astype(np.int64) - first
            return np.where(known_type & (inside >= 0) & (inside < count), offsets + inside, -1)
        codes = np.full(len(ids), -1, dtype=np.int64)
        for code, (lookup, offset) in enumerate(self.catalog):
            rows = np.flatnonzero(types == code)
            if len(rows):
                found = lookup.positions(ids.iloc[rows])
                codes[rows] = np.where(found >= 0, found + offset, -1)
        return codes

    def object_count(self) -> int:
        return self.catalog_objects + len(self.other_objects)


class CodedDay:
    """One day's columns as codes, each computed once and only when a measure asks for it."""

    def __init__(self, frame: pd.DataFrame, codes: InteractionCodes) -> None:
        self.frame, self.codes = frame, codes

    @cached_property
    def user_rows(self) -> np.ndarray:
        return self.codes.users.reference.positions(self.frame["User_ID"])

    @cached_property
    def users(self) -> np.ndarray:
        return self.codes.users.encode(self.frame["User_ID"], self.user_rows)

    @cached_property
    def types(self) -> np.ndarray:
        return self.codes.types.encode(self.frame["Object_Type"])

    @cached_property
    def objects(self) -> np.ndarray:
        return self.codes.objects(self.types, self.frame["Object_ID"])

    @cached_property
    def days(self) -> np.ndarray:
        return days_of(self.frame["Timestamp"])

    @cached_property
    def has_rating(self) -> np.ndarray:
        return self.frame["Interaction_Rating"].notna().to_numpy()


def add_counts(total: np.ndarray, codes: np.ndarray, size: int, weights: np.ndarray | None = None) -> np.ndarray:
    """`total` (counts or sums per code) plus the day's, grown to `size` codes as codebooks grow."""
    counts = np.bincount(codes, weights=weights, minlength=max(size, len(total)))
    grown = np.zeros(len(counts), dtype=counts.dtype)
    grown[: len(total)] = total
    return grown + counts

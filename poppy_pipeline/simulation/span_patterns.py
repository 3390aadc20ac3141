"""Seed 000's patterns measured on a span one day at a time: memory of a day, not of the span.

`SpanPatterns(settings, users, objects)` takes the span's days with `add_day(frame)`, in any
order, and `results(expected_repeats)` gives the `PatternResult`s of measuring the concatenated
span at once (`patterns.py` measures one frame as a span of one day: one implementation).
What it keeps: counts (types, ratings, hours, problems), per-user and per-object counts and
rating sums, and the distinct (user, object) keys and Interaction_IDs (`common/codes.py`), which
grow with distinct values, not with events. Integer ratings make every figure equal bit for bit;
a log with fractional ratings sums them per user in another order (within 1e-15 relative).
Share-type tolerances widen to four standard errors when the span is too small for the spec's
tolerance to mean anything; a pattern the span cannot measure says why (`not_applicable`).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from functools import cached_property

import numpy as np
import pandas as pd

from poppy_pipeline.common.codes import (
    CodedDay,
    DistinctIds,
    DistinctKeys,
    InteractionCodes,
    add_counts,
    category_codes,
    days_of,
    hours_of,
    pack,
    text_values,
)
from poppy_pipeline.simulation.pattern_results import (
    EVENING_MIN_SHARE,
    HIGH_RATING_MIN_SHARE,
    MEASURES,
    NIGHT_MAX_SHARE,
    PREFERRED_TYPE_TOLERANCE,
    RATING_BIAS_MIN_CORRELATION,
    RATING_BIAS_MIN_RATINGS,
    RATING_BIAS_MIN_USERS,
    REPEAT_SHARE_TOLERANCE,
    SEED_CLAIMS,
    STANDARD_ERRORS,
    TOP_DECILE_MIN_SHARE,
    TYPE_MIX_TOLERANCE,
    VOLUME_TOLERANCE,
    PatternResult,
    integrity_result,
    tolerance,
    top_decile_share,
)
from poppy_pipeline.simulation.settings import INTERACTION_TYPES, SimulationSettings
from poppy_pipeline.simulation.type_labels import simulation_types


class SpanPatterns:
    """Seed 000's patterns over the days given to `add_day` (any order), as if concatenated."""

    def __init__(
        self,
        settings: SimulationSettings | None,
        users: pd.DataFrame | None = None,
        objects: pd.DataFrame | None = None,
        measures: Collection[str] = MEASURES,
    ) -> None:
        unknown = set(measures) - set(MEASURES)
        if unknown:
            raise ValueError(f"unknown pattern measures {sorted(unknown)}; known: {', '.join(MEASURES)}")
        self.settings, self.measures = settings, tuple(m for m in MEASURES if m in measures)
        self.users = users if users is not None else pd.DataFrame({"User_ID": pd.Series([], dtype=np.int64)})
        self.objects = objects if objects is not None else pd.DataFrame({"Object_Type": [], "Object_ID": []})
        self.codes = InteractionCodes(self.users, self.objects)
        self.events = 0
        self.type_counts = dict.fromkeys(INTERACTION_TYPES, 0)
        self.ratings = np.zeros(4, dtype=np.int64)  # off Rate or missing, ratings, of them 3-5, outside 1-5
        self.histogram = np.zeros(5, dtype=np.int64)  # ratings 1..5
        self.per_hour = np.zeros(24, dtype=np.int64)
        self.problems = np.zeros(3, dtype=np.int64)  # unknown objects, unknown users, before sign-up
        self.ids = DistinctIds()
        self.preferred = np.zeros(2, dtype=np.int64)  # events of preferring users, on their type
        self.user_events = np.zeros(0, dtype=np.int64)
        self.user_ratings = np.zeros(0, dtype=np.int64)
        self.user_rating_sums = np.zeros(0, dtype=np.float64)
        self.object_events = np.zeros(0, dtype=np.int64)
        self.keys = DistinctKeys()
        self.last_day: np.datetime64 | None = None

    # --- taking a day ---

    def add_day(self, frame: pd.DataFrame) -> None:
        """Count one day (any order of days; an empty day changes nothing)."""
        if not len(frame):
            return
        day = CodedDay(frame, self.codes)
        self.events += len(frame)
        for measure in self.measures:
            getattr(self, f"_add_{measure}")(day)

    def _add_integrity(self, day: CodedDay) -> None:
        known = day.user_rows >= 0
        signup = self._signup_days[day.user_rows[known]]
        self.problems += [
            int((day.objects >= self.codes.catalog_objects).sum()),
            int((~known).sum()),
            int((day.days[known] < signup).sum()),
        ]
        self.ids.add(day.frame["Interaction_ID"])

    def _add_volume(self, day: CodedDay) -> None:
        pass  # `add_day` counts every day's events

    def _add_type_mix(self, day: CodedDay) -> None:
        counts = simulation_types(self.settings, day.frame["Interaction_Type"]).value_counts()
        for kind in INTERACTION_TYPES:
            self.type_counts[kind] += int(counts.get(kind, 0))

    def _add_rating_distribution(self, day: CodedDay) -> None:
        is_rate = (simulation_types(self.settings, day.frame["Interaction_Type"]) == "Rate").to_numpy()
        values = day.frame["Interaction_Rating"][day.has_rating].to_numpy(np.int64)
        inside = (values >= 1) & (values <= 5)
        misplaced = int((is_rate != day.has_rating).sum())
        self.ratings += [misplaced, len(values), int((values >= 3).sum()), int((~inside).sum())]
        self.histogram += np.bincount(values[inside] - 1, minlength=5)

    def _add_rating_bias_correlation(self, day: CodedDay) -> None:
        raters, size = day.users[day.has_rating], len(self.codes.users)
        ratings = day.frame["Interaction_Rating"][day.has_rating].to_numpy(np.float64)
        self.user_ratings = add_counts(self.user_ratings, raters, size)
        self.user_rating_sums = add_counts(self.user_rating_sums, raters, size, ratings)

    def _add_preferred_type_share(self, day: CodedDay) -> None:
        names = self._preference_names
        preferred = np.append(self._preferred_codes, -1)[day.user_rows]  # -1: none (or unknown user)
        mine = preferred >= 0
        types = day.types  # first: coding the day may add names to the vocabulary
        event_types = np.append(names.get_indexer(self.codes.types.names), -1)[types]
        self.preferred += [int(mine.sum()), int((event_types[mine] == preferred[mine]).sum())]

    def _add_repeat_share(self, day: CodedDay) -> None:
        self.keys.add(pack(day.users, day.objects))

    def _add_activity_concentration(self, day: CodedDay) -> None:
        self.user_events = add_counts(self.user_events, day.users, len(self.codes.users))
        present = (day.types >= 0) & day.frame["Object_ID"].notna().to_numpy()
        self.object_events = add_counts(self.object_events, day.objects[present], self.codes.object_count())
        last = day.days.max()
        self.last_day = last if self.last_day is None else np.max([self.last_day, last])

    def _add_evening_peak(self, day: CodedDay) -> None:
        self.per_hour += np.bincount(hours_of(day.frame["Timestamp"]), minlength=24)

    @cached_property
    def _signup_days(self) -> np.ndarray:
        return days_of(self.users["Signup_Date"])

    @cached_property
    def _preference_names(self) -> pd.Index:
        return text_values(self.users["Preferred_Type"])

    @cached_property
    def _preferred_codes(self) -> np.ndarray:
        return category_codes(self.users["Preferred_Type"], self._preference_names)

    # --- the verdicts ---

    def results(
        self, expected_repeats: float | None = None, check_signup: bool = True, expected_events: float | None = None
    ) -> dict[str, PatternResult]:
        """Every measured pattern by check name; repeat_share needs `expected_repeats`
        (repeats.expected_repeat_share), volume `expected_events` (model.expected_events summed)."""
        found = {}
        for measure in self.measures:
            fitted_to = self.settings.fitted_to if self.settings is not None else ""
            days_activity = self.settings is not None and self.settings.active_day_alpha > 0
            if fitted_to and measure in SEED_CLAIMS:
                why = f"the world is fitted to {fitted_to}, not seed 000's, whose claim this is"
                found[measure] = PatternResult(measure, True, float("nan"), "seed 000's claim", {}, why)
            elif measure == "volume" and days_activity:
                why = "activity is active days × events per active day here: interactions_per_day is not its volume"
                found[measure] = PatternResult(measure, True, float("nan"), "seed 000's claim", {}, why)
            elif measure == "integrity":
                found[measure] = self.integrity(check_signup)
            elif measure == "repeat_share":
                if expected_repeats is None:
                    raise ValueError("repeat_share needs the expected repeat share (repeats.expected_repeat_share)")
                found[measure] = self.repeat_share(expected_repeats)
            elif measure == "volume":
                if expected_events is None:
                    raise ValueError("volume needs the expected number of interactions (model.expected_events)")
                found[measure] = self.volume(expected_events)
            else:
                found[measure] = getattr(self, measure)()
        return found

    def _require(self, measure: str) -> None:
        if measure not in self.measures:
            raise ValueError(f"{measure} was not among the measures this accumulator counted: {self.measures}")

    def integrity(self, check_signup: bool = True) -> PatternResult:
        """Every object and user exists, no user acts before signing up, IDs are unique."""
        self._require("integrity")
        return integrity_result(self.problems, self.events, self.ids.count, check_signup)

    def add_day_with_integrity(self, frame: pd.DataFrame, check_signup: bool = True) -> PatternResult:
        """`add_day`, returning the day's own integrity: its unknown objects and users, its events
        before sign-up, and its Interaction_IDs that repeat one of the day or of an earlier day added."""
        self._require("integrity")
        problems, events, distinct = self.problems.copy(), self.events, self.ids.count
        self.add_day(frame)
        return integrity_result(self.problems - problems, self.events - events, self.ids.count - distinct, check_signup)

    def type_mix(self) -> PatternResult:
        self._require("type_mix")
        assert self.settings is not None, "type_mix measures against the settings"
        n, weights = self.events, self.settings.interaction_type_weights
        shares = {t: self.type_counts[t] / n if n else 0.0 for t in INTERACTION_TYPES}
        deviations = {t: shares[t] - weights[t] for t in INTERACTION_TYPES}
        worst = max(INTERACTION_TYPES, key=lambda t: abs(deviations[t]))
        allowed = tolerance(TYPE_MIX_TOLERANCE, weights[worst], n)
        return PatternResult(
            "type_mix",
            n > 0 and abs(deviations[worst]) <= allowed,
            abs(deviations[worst]),
            f"every type within {allowed:.3f} of {dict(weights)}",
            {"shares": shares, "events": n, "worst_type": worst},
        )

    def rating_distribution(self) -> PatternResult:
        self._require("rating_distribution")
        misplaced, ratings, high_count, out_of_range = (int(count) for count in self.ratings)
        high = high_count / ratings if ratings else 0.0
        allowed = tolerance(0.0, HIGH_RATING_MIN_SHARE, ratings)
        return PatternResult(
            "rating_distribution",
            misplaced == 0 and out_of_range == 0 and ratings > 0 and high >= HIGH_RATING_MIN_SHARE - allowed,
            high,
            f"ratings only on Rate, 1-5, ≥ {HIGH_RATING_MIN_SHARE:.0%} of them 3-5",
            {
                "ratings": ratings,
                "share_3_to_5": high,
                "histogram": {str(k): int(self.histogram[k - 1]) for k in range(1, 6)},
                "ratings_off_rate_or_missing": misplaced,
                "ratings_outside_1_5": out_of_range,
            },
        )

    def rating_bias_correlation(self) -> PatternResult:
        """In User_ID order, as a groupby orders them: a correlation sums in that order."""
        self._require("rating_bias_correlation")
        eligible = np.flatnonzero(self.user_ratings >= RATING_BIAS_MIN_RATINGS)
        eligible = eligible[eligible != self.codes.users.missing]  # as a groupby drops missing keys
        eligible = eligible[self.codes.users.value_of(eligible).argsort()]
        means = self.user_rating_sums[eligible] / self.user_ratings[eligible]
        known = eligible < len(self.users)
        bias = np.full(len(eligible), np.nan)
        bias[known] = self.users["Rating_Bias"].to_numpy(np.float64)[eligible[known]]
        measurable = len(eligible) >= RATING_BIAS_MIN_USERS
        correlation = float(np.corrcoef(means, bias)[0, 1]) if measurable else float("nan")
        return PatternResult(
            "rating_bias_correlation",
            measurable and bool(correlation >= RATING_BIAS_MIN_CORRELATION),
            correlation,
            f"corr(user mean rating, Rating_Bias) ≥ {RATING_BIAS_MIN_CORRELATION}"
            f" over users with ≥ {RATING_BIAS_MIN_RATINGS} ratings",
            {"users": len(eligible), "ratings": int(self.user_ratings.sum())},
            None
            if measurable
            else f"only {len(eligible)} users have ≥ {RATING_BIAS_MIN_RATINGS} ratings in this span"
            f" (a correlation needs {RATING_BIAS_MIN_USERS}); a longer span has more",
        )

    def preferred_type_share(self) -> PatternResult:
        self._require("preferred_type_share")
        assert self.settings is not None, "preferred_type_share measures against the settings"
        n, matches = (int(count) for count in self.preferred)
        share = matches / n if n else 0.0
        target = self.settings.preferred_type_share
        allowed = tolerance(PREFERRED_TYPE_TOLERANCE, target, n)
        return PatternResult(
            "preferred_type_share",
            n > 0 and abs(share - target) <= allowed,
            share,
            f"{target:.2f} ± {allowed:.3f} of a preferring user's interactions on the preferred type",
            {"events_of_preferring_users": n, "preferring_users": int(self.users["Preferred_Type"].notna().sum())},
            "no user prefers a type in this world (preferred_type_user_share 0)"
            if n == 0 and self.settings.preferred_type_user_share == 0
            else None,
        )

    def repeat_share(self, expected: float) -> PatternResult:
        """Share of events that, in timestamp order, repeat an earlier (user, type, object): in any
        order, all but the first event of each distinct key."""
        self._require("repeat_share")
        n = self.events
        repeats = n - len(self.keys)
        share = repeats / n if n else 0.0
        allowed = tolerance(REPEAT_SHARE_TOLERANCE, expected, n)
        return PatternResult(
            "repeat_share",
            n > 0 and abs(share - expected) <= allowed,
            share,
            f"{expected:.3f} ± {allowed:.3f}",
            {"events": n, "repeats": repeats},
        )

    def volume(self, expected: float) -> PatternResult:
        """The span's interactions against what the model expects of it (seed 000's 10,000 in 30
        days), within 15%, or four Poisson standard errors on a span too short for that."""
        self._require("volume")
        allowed = max(VOLUME_TOLERANCE, STANDARD_ERRORS / math.sqrt(expected)) if expected > 0 else math.inf
        ratio = self.events / expected if expected > 0 else math.nan
        return PatternResult(
            "volume",
            expected > 0 and abs(ratio - 1) <= allowed,
            float(self.events),
            f"{expected:,.0f} interactions ± {allowed:.0%}",
            {"interactions": self.events, "expected": expected, "ratio": ratio},
            None if expected > 0 else "the model expects no interactions in this span (no user has signed up)",
        )

    def activity_concentration(self) -> PatternResult:
        """The busiest tenth of the users signed up by the span's last day (inactive ones count as
        0), and of the catalog's objects: users who had not signed up cannot be in the span."""
        self._require("activity_concentration")
        last_day = self.last_day
        signed_up = int((self._signup_days <= last_day).sum()) if last_day is not None else 0
        known = np.delete(self.user_events, self.codes.users.missing) if len(self.user_events) else np.empty(0)
        user_share = top_decile_share(pd.Series(known, dtype=np.int64), signed_up)
        object_share = top_decile_share(pd.Series(self.object_events), len(self.objects))
        return PatternResult(
            "activity_concentration",
            user_share >= TOP_DECILE_MIN_SHARE and object_share >= TOP_DECILE_MIN_SHARE,
            min(user_share, object_share),
            f"top 10% of users and of objects each ≥ {TOP_DECILE_MIN_SHARE:.0%} of interactions",
            {
                "top_decile_users_share": user_share,
                "top_decile_objects_share": object_share,
                "users": signed_up,
                "objects": len(self.objects),
            },
        )

    def evening_peak(self) -> PatternResult:
        self._require("evening_peak")
        n = int(self.per_hour.sum())
        evening = int(self.per_hour[18:].sum()) / n if n else 0.0
        night = int(self.per_hour[:6].sum()) / n if n else 0.0
        return PatternResult(
            "evening_peak",
            n > 0
            and evening >= EVENING_MIN_SHARE - tolerance(0, EVENING_MIN_SHARE, n)
            and night < NIGHT_MAX_SHARE + tolerance(0, NIGHT_MAX_SHARE, n),
            evening,
            f"≥ {EVENING_MIN_SHARE:.0%} between 18:00 and 24:00, < {NIGHT_MAX_SHARE:.0%} between 00:00 and 06:00",
            {"share_18_24": evening, "share_00_06": night, "per_hour": self.per_hour.tolist()},
        )

    def state_nbytes(self) -> int:
        """Bytes the accumulated state holds (the tables it was given aside)."""
        arrays = (self.user_events, self.user_ratings, self.user_rating_sums, self.object_events, self.keys.keys)
        codebooks = (self.codes.users, self.codes.object_ids, self.codes.other_objects)
        return sum(a.nbytes for a in arrays) + self.ids.nbytes() + sum(c.nbytes() for c in codebooks)

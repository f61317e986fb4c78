"""The benefit states of the weekly history model and their parameters, as data.

A person is in one state at a time: self-supporting or one benefit (a DREAM ydelsesgruppe, split where the
register splits it, e.g. jobparat and aktivitetsparat cash benefit). A state lasts a spell whose length is
drawn when it starts (log-normal, group-dependent: sickness a few weeks, dagpenge months up to two years,
aktivitetsparat kontanthjælp long, førtidspension and efterløn until pension age). When a spell ends the
next state is drawn from the state's row of ``next``; from self-supporting it is drawn from an entry mix by
age band and sex. Within a spell the person carries a passive code (drawn once per spell, e.g. 111 or
115) and now and then an active sub-spell with an active code of the same family (e.g. 135 inside 130).

Only the numbers live here; ``histories`` runs the model. All codes are checked against
``dream.reference.benefit_codes()`` when the tables are compiled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from dream.reference import benefit_codes
from dream.synth import vocab

LIFELONG = 1_000_000  # weeks: a spell that only an exit code (pension, death, emigration) ends


@dataclass(frozen=True)
class StateSpec:
    name: str
    passive: dict[str, float]  # passive code -> weight, drawn once per spell
    median_weeks: float = 1.0
    sigma: float = 1.0  # log-normal spread of the spell length
    max_weeks: int = LIFELONG
    active_hazard: float = 0.0  # weekly chance that an active sub-spell starts
    next: dict[str, float] = field(default_factory=dict)  # next state -> weight when the spell ends
    cash: bool = False  # cash / education / integration benefit: has a visitation category


STATES: tuple[StateSpec, ...] = (
    StateSpec("SELF", {}),
    StateSpec(
        "DAGPENGE", {"111": 0.88, "115": 0.08, "151": 0.015, "152": 0.015, "153": 0.01}, 14, 0.9, 104, 0.03,
        {"SELF": 76, "KH_JOB": 7, "KH_AKT": 3, "SYG": 7, "UH_JOB": 2, "ANDEN": 3, "BARSEL": 2},
    ),
    StateSpec(
        "KH_JOB", {"130": 1}, 20, 1.0, 520, 0.045,
        {"SELF": 55, "KH_AKT": 25, "SYG": 6, "DAGPENGE": 4, "ANDEN": 4, "FORREVAL": 2, "SU": 4}, cash=True,
    ),
    StateSpec(
        "KH_AKT", {"730": 1}, 60, 1.0, 520, 0.025,
        {"SELF": 30, "KH_JOB": 20, "RESSOURCE": 12, "FOERTID": 3, "SYG": 6, "FORREVAL": 6, "JOBAFKL": 2,
         "FLEKSJOB": 2, "ANDEN": 2, "REVAL": 4, "SU": 6},
        cash=True,
    ),
    StateSpec(
        "UH_JOB", {"140": 1}, 14, 0.9, 260, 0.05,
        {"SELF": 45, "SU": 30, "UH_AKT": 15, "SYG": 4, "DAGPENGE": 3, "ANDEN": 3}, cash=True,
    ),
    StateSpec(
        "UH_AKT", {"720": 1}, 45, 1.0, 520, 0.03,
        {"SELF": 20, "UH_JOB": 30, "SU": 15, "RESSOURCE": 10, "FORREVAL": 8, "SYG": 5, "FOERTID": 2,
         "ANDEN": 5, "REVAL": 5},
        cash=True,
    ),
    StateSpec(
        "IY_JOB", {"160": 1}, 26, 1.0, 260, 0.05,
        {"SELF": 55, "IY_AKT": 25, "SU": 8, "SYG": 4, "DAGPENGE": 3, "ANDEN": 5}, cash=True,
    ),
    StateSpec(
        "IY_AKT", {"700": 0.7, "710": 0.3}, 60, 1.0, 520, 0.03,
        {"SELF": 25, "IY_JOB": 35, "RESSOURCE": 10, "FOERTID": 4, "SYG": 6, "FORREVAL": 6, "ANDEN": 8,
         "SU": 6},
        cash=True,
    ),
    StateSpec(
        "SYG", {"890": 0.9, "899": 0.1}, 6, 1.0, 52, 0.004,
        {"SELF": 83, "JOBAFKL": 7, "DAGPENGE": 4, "KH_AKT": 2, "FLEKSJOB": 2, "FORREVAL": 1, "REVAL": 1},
    ),
    StateSpec(
        "JOBAFKL", {"870": 1}, 30, 0.6, 104, 0.03,
        {"RESSOURCE": 25, "SELF": 30, "FLEKSJOB": 15, "SYG": 10, "KH_AKT": 10, "FOERTID": 5, "REVAL": 5},
    ),
    StateSpec(
        "RESSOURCE", {"810": 1}, 80, 0.5, 260, 0.04,
        {"FOERTID": 20, "FLEKSJOB": 25, "KH_AKT": 25, "SELF": 20, "JOBAFKL": 5, "REVAL": 5},
    ),
    StateSpec(
        "FLEKSJOB", {"771": 0.95, "774": 0.05}, 150, 0.8, 1500, 0.0,
        {"LEDIG": 45, "SELF": 25, "FOERTID": 5, "SYG": 15, "RESSOURCE": 5, "JOBAFKL": 5},
    ),
    StateSpec(
        "LEDIG", {"740": 1}, 18, 0.9, 78, 0.04,
        {"FLEKSJOB": 72, "FOERTID": 8, "RESSOURCE": 10, "SELF": 5, "SYG": 5},
    ),
    StateSpec("FOERTID", {"783": 0.97, "781": 0.03}, next={"FOERTID": 1}),
    StateSpec(
        "REVAL", {"760": 1}, 50, 0.6, 260, 0.2,
        {"SELF": 60, "FLEKSJOB": 15, "KH_AKT": 15, "DAGPENGE": 10},
    ),
    StateSpec(
        "FORREVAL", {"750": 1}, 15, 0.7, 78, 0.06,
        {"REVAL": 45, "SELF": 25, "KH_AKT": 20, "FLEKSJOB": 10},
    ),
    StateSpec("SU", {"651": 0.85, "652": 0.15}, 150, 0.5, 312, 0.0, {"SELF": 85, "DAGPENGE": 8, "UH_JOB": 4, "SYG": 3}),
    StateSpec("BARSEL", {"881": 1}, 30, 0.5, 52, 0.0, {"SELF": 85, "DAGPENGE": 10, "SYG": 5}),
    StateSpec(
        "ANDEN",
        {"121": 0.30, "412": 0.06, "413": 0.06, "511": 0.03, "521": 0.12, "522": 0.03, "611": 0.05, "661": 0.35},
        6, 1.0, 104, 0.0,
        {"SELF": 88, "DAGPENGE": 8, "SYG": 4},
    ),
    StateSpec("EFTERLOEN", {"621": 0.95, "622": 0.05}, next={"EFTERLOEN": 1}),
)  # fmt: skip

# Entry from self-supporting, by age band (lower bounds) and sex. Under 18 nobody enters a benefit.
AGE_BANDS = (18, 25, 30, 50, 60)
ENTRY: dict[int, dict[str, dict[str, float]]] = {
    18: {
        "M": {"SU": 40, "UH_JOB": 12, "UH_AKT": 6, "DAGPENGE": 8, "SYG": 14, "BARSEL": 1, "IY_JOB": 2, "ANDEN": 12},
        "K": {"SU": 40, "UH_JOB": 12, "UH_AKT": 6, "DAGPENGE": 8, "SYG": 14, "BARSEL": 6, "IY_JOB": 2, "ANDEN": 12},
    },
    25: {
        "M": {"SU": 18, "UH_JOB": 8, "UH_AKT": 4, "DAGPENGE": 25, "SYG": 22, "BARSEL": 4, "IY_JOB": 2, "ANDEN": 10},
        "K": {"SU": 18, "UH_JOB": 8, "UH_AKT": 4, "DAGPENGE": 25, "SYG": 22, "BARSEL": 15, "IY_JOB": 2, "ANDEN": 10},
    },
    30: {
        "M": {"DAGPENGE": 35, "SYG": 40, "KH_JOB": 4, "KH_AKT": 3, "BARSEL": 3, "ANDEN": 10, "IY_JOB": 2,
              "FORREVAL": 1, "JOBAFKL": 1, "SU": 3},
        "K": {"DAGPENGE": 35, "SYG": 40, "KH_JOB": 4, "KH_AKT": 3, "BARSEL": 10, "ANDEN": 10, "IY_JOB": 2,
              "FORREVAL": 1, "JOBAFKL": 1, "SU": 3},
    },
    50: {
        sex: {"DAGPENGE": 40, "SYG": 50, "KH_JOB": 4, "KH_AKT": 3, "ANDEN": 10, "FLEKSJOB": 2, "JOBAFKL": 2,
              "FORREVAL": 1}
        for sex in "MK"
    },
    60: {sex: {"DAGPENGE": 40, "SYG": 55, "ANDEN": 10, "KH_JOB": 5, "FLEKSJOB": 3, "JOBAFKL": 2} for sex in "MK"},
}  # fmt: skip

# Weight of an active code by its last digit (x3 guidance ... x9 nytteindsats); other active codes 0.05.
ACTIVE_WEIGHTS = {"3": 0.30, "4": 0.10, "5": 0.12, "6": 0.08, "7": 0.22, "8": 0.10, "9": 0.08}

SELF_MEAN_WEEKS = (520.0, 150.0, 45.0)  # mean self-supporting spell by risk (low, medium, high)
SHORT_GAP_SHARE = 0.2  # share of benefit spells followed by a 1-6 week self-supporting gap
RESUME_SHARE = 0.6  # after a short gap, share that resume the benefit they had before it


def state_id(name: str) -> int:
    return next(i for i, s in enumerate(STATES) if s.name == name)


@dataclass(frozen=True)
class Tables:
    """The specs compiled into numpy arrays for vectorised sampling (cumulative weights, padded with 1)."""

    passive_cum: np.ndarray  # (states, k)
    passive_code: np.ndarray  # (states, k) vocabulary index
    active_cum: np.ndarray  # (vocabulary, k): the active codes of the family of each passive code
    active_code: np.ndarray
    active_hazard: np.ndarray  # (states,)
    log_median: np.ndarray
    sigma: np.ndarray
    max_weeks: np.ndarray
    next_cum: np.ndarray  # (states, states)
    entry_cum: np.ndarray  # (bands * 2, states): row band * 2 + (1 if female)
    cash: np.ndarray  # (states,) bool


@functools.cache
def tables() -> Tables:
    names = [s.name for s in STATES]
    return Tables(
        passive_cum=_cumulative([list(s.passive.values()) for s in STATES]),
        passive_code=_padded([vocab.ydelser().indices(list(s.passive)) for s in STATES]),
        **_active_tables(),
        active_hazard=np.array([s.active_hazard for s in STATES]),
        log_median=np.log([s.median_weeks for s in STATES]),
        sigma=np.array([s.sigma for s in STATES]),
        max_weeks=np.array([s.max_weeks for s in STATES], dtype=np.int64),
        next_cum=_cumulative([_dense(s.next, names) for s in STATES]),
        entry_cum=_cumulative([_dense(ENTRY[band][sex], names) for band in AGE_BANDS for sex in "MK"]),
        cash=np.array([s.cash for s in STATES]),
    )


def _active_tables() -> dict[str, np.ndarray]:
    """For every passive code: the active codes of its group and 2-digit prefix (A-dagpenge: of its group,
    whose active codes 213-219, 231, 299 share no prefix with 111)."""
    codes = benefit_codes()
    weights, indices = [], []
    for passive in vocab.ydelser().array.to_pylist():
        pc = next((c for c in codes if c.ydelseskode == passive), None)
        active = [c.ydelseskode for c in codes if pc and c.aktiv and c.ydelsesgruppe == pc.ydelsesgruppe]
        same_prefix = [c for c in active if c[:2] == passive[:2]]
        active = same_prefix or active
        weights.append([ACTIVE_WEIGHTS.get(c[-1], 0.05) for c in active] or [1.0])
        indices.append(vocab.ydelser().indices(active) if active else np.zeros(1, np.uint8))
    return {"active_cum": _cumulative(weights), "active_code": _padded(indices)}


def _dense(weights: dict[str, float], names: list[str]) -> list[float]:
    unknown = set(weights) - set(names)
    if unknown:
        raise KeyError(f"unknown synthetic states {sorted(unknown)}")
    return [weights.get(n, 0.0) for n in names]


def _cumulative(rows: list[list[float]]) -> np.ndarray:
    width = max(len(r) for r in rows)
    out = np.ones((len(rows), width))
    for i, r in enumerate(rows):
        if not sum(r):
            continue  # a row never sampled (SELF has no `next`: its moves come from ENTRY)
        c = np.cumsum(r) / np.sum(r)
        c[-1] = 1.0  # exactly 1, so a uniform draw in [0, 1) never runs past the last option
        out[i, : len(c)] = c
    return out


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    width = max(max(len(r) for r in rows), 1)
    out = np.zeros((len(rows), width), dtype=np.uint8)
    for i, r in enumerate(rows):
        out[i, : len(r)] = r
    return out


def pick(cum: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per person from the categorical distribution in row ``rows[i]`` of ``cum``."""
    u = rng.random(len(rows))
    return (u[:, None] >= cum[rows]).sum(axis=1)

"""The monthly, quarterly and yearly column families, derived from the weekly histories.

- Monthly employment (``arbsted``, ``branche``, ``virkform``, ``grad``): filled in months where the person
  is mostly (more than half the weeks) self-supporting and attached to the labour market, or mostly in
  fleksjob (then with a degree below 1). A person keeps a job (workplace municipality, industry, company
  form, degree) until a job change: about 1.2 % a month, and half of the returns from a benefit.
  The workplace is the home municipality for about two thirds, else anywhere by population.
- Quarterly visitation (``match``, ``visit``): filled in quarters with a cash, education or integration
  benefit week. The category follows the last such benefit in the quarter (13x/16x jobparat, 73x/70x/71x
  aktivitetsparat, 14x åbenlyst uddannelsesparat, 72x uddannelsesparat or aktivitetsparat), except for
  8 %: the pipeline must not assume that code and visitation always agree.
- Yearly a-kasse (``ak``, ``afm``): members have a 2-digit a-kasse code and an efterløn-contribution flag;
  membership changes now and then and is certain in a year with dagpenge.
"""

from __future__ import annotations

import numpy as np

from dream.synth import states as st
from dream.synth import vocab
from dream.synth.histories import Weekly
from dream.synth.layout import Layout
from dream.synth.persons import Persons

_JOB_CHANGE = 0.012  # monthly
_RETURN_NEW_JOB = 0.5  # share of returns to work (after a benefit) that start a new job
_SAME_MUNICIPALITY = 0.65
_VISIT_NOISE = 0.08
_MEMBER = 0.75  # a-kasse membership among workers
_MEMBER_CHANGE = 0.03  # yearly

JOBPARAT, AKTIVITETSPARAT, UDDANNELSESPARAT, AABENLYST = range(4)


def employment(
    persons: Persons, weekly: Weekly, res: np.ndarray, layout: Layout, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """(months, persons) vocabulary indices for arbsted, branche, virkform and grad."""
    n, months = persons.n, len(layout.months)
    half = layout.weeks_per_month[:, None]
    employed = (2 * weekly.self_weeks.astype(np.int32) > half) & persons.worker
    fleks = 2 * weekly.fleks_weeks.astype(np.int32) > half
    out = {f: np.empty((months, n), dtype=np.uint8) for f in ("arbsted", "branche", "virkform", "grad")}
    job = _new_jobs(res[layout.week_year[0]], rng)
    fleks_grad = rng.integers(20, 81, n) / 100  # fleksjob: a reduced working capacity
    had_job = np.zeros(n, dtype=bool)
    year_of_month = layout.week_year[np.searchsorted(layout.week_month, np.arange(months))]
    for m in range(months):
        has_job = employed[m] | fleks[m]
        u = rng.random(n)
        change = has_job & ((u < _JOB_CHANGE) | (~had_job & (u < _JOB_CHANGE + _RETURN_NEW_JOB)))
        idx = np.flatnonzero(change)
        if idx.size:
            fresh = _new_jobs(res[year_of_month[m], idx], rng)
            for key in job:
                job[key][idx] = fresh[key]
        grad = np.where(fleks[m], fleks_grad, job["grad"])
        values = {**job, "grad": _grad_index(grad)}
        for family, row in out.items():
            row[m] = np.where(has_job, values[family], persons.blank)
        had_job = has_job
    return out


def _new_jobs(home: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Vocabulary indices of new jobs for persons living in ``home`` (municipality position or -1)."""
    n = len(home)
    weights = np.array([w for _, w, _ in vocab.BRANCHER])
    branche = rng.choice(len(weights), size=n, p=weights / weights.sum())
    public = np.array([p for _, _, p in vocab.BRANCHER])[branche]
    private_forms = _choice(vocab.VIRKFORM_PRIVATE, n, rng)
    public_forms = _choice(vocab.VIRKFORM_PUBLIC, n, rng) + len(vocab.VIRKFORM_PRIVATE)
    anywhere = rng.choice(98, size=n, p=vocab.kommune_weights())
    local = (home >= 0) & (rng.random(n) < _SAME_MUNICIPALITY)
    full_time = rng.random(n) < 0.75
    return {
        "arbsted": (np.where(local, home, anywhere) + 2).astype(np.uint8),
        "branche": (branche + 2).astype(np.uint8),
        "virkform": (np.where(public, public_forms, private_forms) + 2).astype(np.uint8),
        "grad": np.where(full_time, 1.0, rng.integers(30, 96, n) / 100),
    }


def _choice(options: tuple[tuple[str, float], ...], n: int, rng: np.random.Generator) -> np.ndarray:
    p = np.array([w for _, w in options])
    return rng.choice(len(p), size=n, p=p / p.sum())


def _grad_index(grad: np.ndarray) -> np.ndarray:
    return (2 + np.round(grad * 100)).astype(np.uint8)


def visitation(persons: Persons, weekly: Weekly, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(quarters, persons) vocabulary indices for match and visit."""
    state = weekly.cash_state
    s = {name: st.state_id(name) for name in ("KH_JOB", "KH_AKT", "UH_JOB", "UH_AKT", "IY_JOB", "IY_AKT")}
    uh_split = np.where(rng.random(state.shape) < 0.7, UDDANNELSESPARAT, AKTIVITETSPARAT)
    category = np.select(
        [np.isin(state, [s["KH_JOB"], s["IY_JOB"]]), np.isin(state, [s["KH_AKT"], s["IY_AKT"]]), state == s["UH_JOB"]],
        [JOBPARAT, AKTIVITETSPARAT, AABENLYST],
        uh_split,
    )
    noisy = rng.random(state.shape) < _VISIT_NOISE
    category = np.where(noisy, rng.integers(0, 4, state.shape), category)
    match = np.select(
        [np.isin(category, [JOBPARAT, AABENLYST]), category == UDDANNELSESPARAT],
        [0, 1],
        np.where(rng.random(state.shape) < 0.6, 1, 2),
    )
    filled = state > 0
    return {
        "match": np.where(filled, match + 2, persons.blank).astype(np.uint8),
        "visit": np.where(filled, category + 2, persons.blank).astype(np.uint8),
    }


def akasse(persons: Persons, weekly: Weekly, layout: Layout, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """(years, persons) vocabulary indices for ak and afm."""
    n, years = persons.n, len(layout.years)
    efterloen_member = np.isfinite(persons.efterloen_age)
    member = (persons.worker & (rng.random(n) < _MEMBER)) | efterloen_member
    fund = rng.integers(0, len(vocab.AKASSER), n) + 2
    pays_efterloen = efterloen_member | (rng.random(n) < 0.2)
    first_week = np.searchsorted(layout.week_year, np.arange(years))
    ak = np.empty((years, n), dtype=np.uint8)
    afm = np.empty((years, n), dtype=np.uint8)
    for y, year in enumerate(layout.years):
        member ^= rng.random(n) < _MEMBER_CHANGE
        exited = np.minimum.reduce([persons.pension_week, persons.emigration_week, persons.death_week]) <= first_week[y]
        adult = year - persons.birth_year >= 18
        is_member = (member & adult & ~exited) | weekly.dagpenge_year[y]
        ak[y] = np.where(is_member, fund, persons.blank)
        afm[y] = np.where(is_member, np.where(pays_efterloen, 2, 3), persons.blank)
    return {"ak": ak, "afm": afm}

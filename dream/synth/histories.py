"""Weekly benefit histories: a semi-Markov model of spells, run week by week over all persons of a chunk.

Each week, vectorised over the persons (no Python loop per person-week):

1. members reaching their efterløn age leave work or dagpenge for efterløn;
2. persons whose spell has run out start the next one (``states`` gives the lengths and the moves:
   jobparat <-> aktivitetsparat, dagpenge -> kontanthjælp, sickness -> jobafklaring -> ressourceforløb ->
   førtidspension, fleksjob <-> ledighedsydelse, ...). A benefit spell is followed now and then by a
   short self-supporting gap of 1-6 weeks, after which most resume the benefit they had;
3. persons inside a benefit spell start an active sub-spell (an active code of the same family) now and
   then;
4. the week's code is the active code, else the spell's passive code, else blank (self-supporting or
   under 16: the person's blank, NULL or ""); an exit code (996-999) overrides everything from the exit
   week on, so exits are absorbing.

Besides the codes it accumulates what the monthly, quarterly and yearly column families are derived from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dream.synth import states as st
from dream.synth import vocab
from dream.synth.layout import Layout
from dream.synth.persons import DAYS_PER_YEAR, Persons

WEEKS_PER_YEAR = DAYS_PER_YEAR / 7

SELF = st.state_id("SELF")
DAGPENGE = st.state_id("DAGPENGE")
FLEKSJOB = st.state_id("FLEKSJOB")
FOERTID = st.state_id("FOERTID")
EFTERLOEN = st.state_id("EFTERLOEN")
_S = {s.name: st.state_id(s.name) for s in st.STATES}

# Weeks simulated before the range and thrown away: the stock of long spells (førtidspension, fleksjob,
# aktivitetsparat kontanthjælp) settles, so the first years of the range look like the later ones.
BURN_IN_WEEKS = 156

_EXIT = {code: vocab.ydelser().index(code) for code in ("996", "997", "998", "999")}


@dataclass
class Weekly:
    """The weekly codes of a chunk and the summaries the other column families are derived from."""

    codes: np.ndarray  # (weeks, persons) vocabulary index into vocab.ydelser()
    self_weeks: np.ndarray  # (months, persons) self-supporting weeks aged 16+ without exit code
    fleks_weeks: np.ndarray  # (months, persons) fleksjob weeks
    cash_state: np.ndarray  # (quarters, persons) last cash-benefit state in the quarter, 0 if none
    dagpenge_year: np.ndarray  # (years, persons) any dagpenge week in the year


@dataclass
class _Spells:
    """Where every person of the chunk stands in the current week."""

    state: np.ndarray
    remain: np.ndarray  # weeks left in the spell, including the current one
    code: np.ndarray  # passive code of the spell
    prev: np.ndarray  # the last benefit state, resumed after a short gap
    short_gap: np.ndarray  # the current self-supporting spell is a short gap
    active_remain: np.ndarray
    active_code: np.ndarray


def simulate(persons: Persons, layout: Layout, rng: np.random.Generator) -> Weekly:
    n, weeks = persons.n, len(layout.weeks)
    out = Weekly(
        codes=np.empty((weeks, n), dtype=np.uint8),
        self_weeks=np.zeros((len(layout.months), n), dtype=np.uint8),
        fleks_weeks=np.zeros((len(layout.months), n), dtype=np.uint8),
        cash_state=np.zeros((len(layout.quarters), n), dtype=np.uint8),
        dagpenge_year=np.zeros((len(layout.years), n), dtype=bool),
    )
    first = layout.week_days[0] - 7 * BURN_IN_WEEKS
    spells = _initial_spells(persons, persons.age_at(first), rng)
    for b in range(BURN_IN_WEEKS):
        _step(spells, persons, persons.age_at(first + 7 * b), rng)
        _advance(spells)
    for w in range(weeks):
        age = persons.age_at(layout.week_days[w])
        _step(spells, persons, age, rng)
        _record_week(out, w, layout, spells, persons, age)
        _advance(spells)
    return out


def _step(spells: _Spells, persons: Persons, age: np.ndarray, rng: np.random.Generator) -> None:
    """Steps 1-3 of the module docstring: efterløn, spells that run out, active sub-spells."""
    _enter_efterloen(spells, persons, age, rng)
    ending = np.flatnonzero(spells.remain <= 0)
    if ending.size:
        _next_spells(spells, ending, persons, age, rng)
    _start_active(spells, rng)


def _advance(spells: _Spells) -> None:
    spells.remain -= 1
    spells.active_remain -= 1


def _record_week(out: Weekly, w: int, layout: Layout, sp: _Spells, persons: Persons, age: np.ndarray) -> None:
    exit_code = _exit_codes(persons, w)
    exited = exit_code > 0
    blank = (sp.state == SELF) | (age < 16)
    code = np.where(sp.active_remain > 0, sp.active_code, sp.code)
    code = np.where(blank, persons.blank, code)
    out.codes[w] = np.where(exited, exit_code, code)

    alive = ~exited
    out.self_weeks[layout.week_month[w]] += blank & alive & (age >= 16)
    out.fleks_weeks[layout.week_month[w]] += (sp.state == FLEKSJOB) & alive
    q = layout.week_quarter[w]
    cash = st.tables().cash[sp.state] & alive
    out.cash_state[q] = np.where(cash, sp.state, out.cash_state[q])
    out.dagpenge_year[layout.week_year[w]] |= (sp.state == DAGPENGE) & alive


def _exit_codes(persons: Persons, w: int) -> np.ndarray:
    """996/998 from pension age, 997 from emigration, 999 from death; 0 for no exit. Later events win,
    so the code can move from one exit code to another but never back to a benefit or a blank."""
    pension = w >= persons.pension_week
    deferred = w < persons.pension_week + persons.deferred_weeks
    code = np.where(pension, np.where(deferred, _EXIT["996"], _EXIT["998"]), 0)
    code = np.where(w >= persons.emigration_week, _EXIT["997"], code)
    return np.where(w >= persons.death_week, _EXIT["999"], code).astype(np.uint8)


def _initial_spells(persons: Persons, age: np.ndarray, rng: np.random.Generator) -> _Spells:
    """The situation in the first week: most self-supporting, some mid-way through a benefit spell, and
    the stock of long-term benefits (førtidspension, fleksjob) that a start date cannot build up."""
    n = persons.n
    in_benefit = (age >= 18) & (rng.random(n) < np.array([0.05, 0.15, 0.40])[persons.risk])
    state = np.where(in_benefit, _remap(_entry_states(age, persons, rng), age, persons, rng), SELF)
    foertid = rng.random(n) < _foertid_prevalence(age) * np.array([0.3, 1.0, 3.0])[persons.risk]
    state = np.where(foertid, FOERTID, state)
    fleks = (age >= 30) & (age < 65) & (rng.random(n) < 0.025)
    state = np.where(fleks & ~foertid, FLEKSJOB, state)

    remain = np.where(state == SELF, _self_weeks(persons.risk, age, rng), _benefit_weeks(state, rng))
    # Mid-spell: a random share of the spell is already behind the person.
    remain = 1 + np.floor(remain * rng.random(n)).astype(np.int64)
    return _Spells(
        state=state.astype(np.int64),
        remain=remain,
        code=_passive_codes(state, rng),
        prev=np.full(n, SELF, dtype=np.int64),
        short_gap=np.zeros(n, dtype=bool),
        active_remain=np.zeros(n, dtype=np.int64),
        active_code=np.zeros(n, dtype=np.uint8),
    )


def _foertid_prevalence(age: np.ndarray) -> np.ndarray:
    return np.select([age < 25, age < 35, age < 50, age < 67], [0.0, 0.015, 0.04, 0.08], 0.0)


def _enter_efterloen(sp: _Spells, persons: Persons, age: np.ndarray, rng: np.random.Generator) -> None:
    """Efterløn members leave work (or dagpenge) when they reach their efterløn age."""
    goes = (age >= persons.efterloen_age) & ((sp.state == SELF) | (sp.state == DAGPENGE))
    idx = np.flatnonzero(goes)
    if idx.size:
        _start(sp, idx, np.full(idx.size, EFTERLOEN), np.full(idx.size, st.LIFELONG), rng)


def _next_spells(
    sp: _Spells, idx: np.ndarray, persons: Persons, age: np.ndarray, rng: np.random.Generator
) -> None:
    """Start the next spell for the persons ``idx`` whose spell has run out."""
    a = age[idx]
    current = sp.state[idx]
    from_self = current == SELF
    after_benefit = st.pick(st.tables().next_cum, current, rng)
    resume = sp.short_gap[idx] & (rng.random(idx.size) < st.RESUME_SHARE)
    after_self = np.where(resume, sp.prev[idx], _entry_states(a, persons, rng, idx))
    nxt = np.where(from_self, np.where(a < 18, SELF, after_self), after_benefit)
    nxt = _remap(nxt, a, persons, rng, idx)

    to_self = nxt == SELF
    short = to_self & ~from_self & (rng.random(idx.size) < st.SHORT_GAP_SHARE)
    weeks = np.where(to_self, _self_weeks(persons.risk[idx], a, rng), _benefit_weeks(nxt, rng))
    weeks = np.where(short, rng.integers(1, 7, idx.size), weeks)
    sp.prev[idx] = np.where(from_self, sp.prev[idx], current)
    _start(sp, idx, nxt, weeks, rng)
    sp.short_gap[idx] = short


def _start(sp: _Spells, idx: np.ndarray, state: np.ndarray, weeks: np.ndarray, rng) -> None:
    sp.state[idx] = state
    sp.remain[idx] = weeks
    sp.code[idx] = _passive_codes(state, rng)
    sp.active_remain[idx] = 0
    sp.short_gap[idx] = False


def _entry_states(age: np.ndarray, persons: Persons, rng, idx: np.ndarray | None = None) -> np.ndarray:
    """The benefit a self-supporting person enters, by age band and sex."""
    sel = slice(None) if idx is None else idx
    band = np.clip(np.searchsorted(st.AGE_BANDS, age, side="right") - 1, 0, len(st.AGE_BANDS) - 1)
    row = band * 2 + (~persons.male[sel]).astype(np.int64)
    return st.pick(st.tables().entry_cum, row, rng)


def _remap(state: np.ndarray, age: np.ndarray, persons: Persons, rng, idx: np.ndarray | None = None):
    """Apply the rules a drawn state must respect: integration benefits are for immigrants (who also get
    them instead of half their cash benefit), uddannelseshjælp under 30 and kontanthjælp from 30, no
    førtidspension before 25, no SU from 35, no barsel from 48."""
    sel = slice(None) if idx is None else idx
    immigrant = persons.immigrant[sel]
    s = state.copy()
    to_kh = {_S["IY_JOB"]: _S["KH_JOB"], _S["IY_AKT"]: _S["KH_AKT"]}
    for iy, kh in to_kh.items():
        s = np.where((s == iy) & ~immigrant, kh, s)
        s = np.where((s == kh) & immigrant & (rng.random(len(s)) < 0.5), iy, s)
    for uh, kh in ((_S["UH_JOB"], _S["KH_JOB"]), (_S["UH_AKT"], _S["KH_AKT"])):
        s = np.where((s == kh) & (age < 30), uh, s)
        s = np.where((s == uh) & (age >= 30), kh, s)
    s = np.where((s == FOERTID) & (age < 25), _S["RESSOURCE"], s)
    s = np.where((s == _S["SU"]) & (age >= 35), SELF, s)
    return np.where((s == _S["BARSEL"]) & (age >= 48), _S["SYG"], s)


def _benefit_weeks(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = st.tables()
    weeks = np.exp(t.log_median[state] + t.sigma[state] * rng.standard_normal(len(state)))
    weeks = np.clip(np.round(weeks), 1, t.max_weeks[state]).astype(np.int64)
    return np.where(t.max_weeks[state] >= st.LIFELONG, st.LIFELONG, weeks)


def _self_weeks(risk: np.ndarray, age: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A self-supporting spell; under 18 it lasts at least until the 18th birthday."""
    mean = np.array(st.SELF_MEAN_WEEKS)[risk]
    weeks = 1 + np.floor(rng.exponential(mean)).astype(np.int64)
    until_18 = np.ceil(np.maximum(18 - age, 0) * WEEKS_PER_YEAR).astype(np.int64)
    return weeks + until_18


def _passive_codes(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    t = st.tables()
    choice = st.pick(t.passive_cum, state, rng)
    return t.passive_code[state, choice]


def _start_active(sp: _Spells, rng: np.random.Generator) -> None:
    """Start active sub-spells (an active code of the spell's family) for some persons in a benefit."""
    t = st.tables()
    hazard = t.active_hazard[sp.state]
    idx = np.flatnonzero((sp.active_remain <= 0) & (hazard > 0))
    idx = idx[rng.random(idx.size) < hazard[idx]]
    if not idx.size:
        return
    passive = sp.code[idx]
    choice = st.pick(t.active_cum, passive, rng)
    sp.active_code[idx] = t.active_code[passive, choice]
    length = np.round(np.exp(np.log(8) + 0.7 * rng.standard_normal(idx.size)))
    sp.active_remain[idx] = np.clip(length, 1, 52).astype(np.int64)

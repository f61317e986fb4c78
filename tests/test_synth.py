"""The synthetic DREAM wide table: format, realism rules and argument checks (no Spark needed).

One national-sized sample (50,000 persons, weeks 2019-01 to 2021-10 so that 2020 with week 53 is inside)
is generated once per module; the checks read it back from Parquet as the pipeline would.
"""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dream.calendar import IsoWeek, week_range
from dream.errors import InputError
from dream.reference import benefit_codes, kommuner
from dream.synth import SynthResult, generate

WEEKS = week_range(IsoWeek(2019, 1), IsoWeek(2021, 10))
CODES = [c.ydelseskode for c in benefit_codes()]
LOOKUP = {c.ydelseskode: c for c in benefit_codes()}
NULL, EMPTY = -2, -1  # blank spellings in the code matrices below; codes are positions in CODES


@pytest.fixture(scope="module")
def national(tmp_path_factory) -> tuple[SynthResult, pa.Table]:
    out = tmp_path_factory.mktemp("synth") / "dream.parquet"
    result = generate(50_000, seed=11, out=out, weeks=WEEKS, chunk_size=20_000, progress=False)
    return result, pq.read_table(result.path)


@pytest.fixture(scope="module")
def weekly(national) -> np.ndarray:
    """(persons, weeks) code matrix of the national sample."""
    _, table = national
    return np.stack([_codes(table.column(w.column)) for w in WEEKS], axis=1)


def _codes(column: pa.ChunkedArray) -> np.ndarray:
    """Strings -> positions in CODES, EMPTY for "", NULL for NULL; any other string fails the test."""
    position = pc.index_in(column, value_set=pa.array(CODES)).to_numpy(zero_copy_only=False)
    position = np.where(np.isnan(position.astype(float)), -9, position).astype(np.int64)
    empty = pc.equal(column, "").fill_null(False).to_numpy(zero_copy_only=False)
    null = column.is_null().to_numpy(zero_copy_only=False)
    out = np.where(empty, EMPTY, np.where(null, NULL, position))
    assert (out != -9).all(), f"{column} holds strings outside the code list"
    return out


def _is_exit(matrix: np.ndarray) -> np.ndarray:
    exit_positions = [i for i, c in enumerate(CODES) if LOOKUP[c].exit]
    return np.isin(matrix, exit_positions)


def _strings(table: pa.Table, name: str) -> np.ndarray:
    return np.array(table.column(name).to_pylist(), dtype=object)


# --- format -------------------------------------------------------------------------------------------------


def test_result_and_column_layout(national):
    result, table = national
    assert result.persons == table.num_rows == 50_000
    assert result.weeks == len(WEEKS) == 52 + 53 + 10
    assert result.columns == table.num_columns
    assert result.population_path.endswith("dream_befolkning.parquet")
    names = table.column_names
    assert names[:4] == ["pnr", "koen", "foed_dato", "y_1901"]
    assert names[3 : 3 + len(WEEKS)] == [w.column for w in WEEKS]
    assert "y_2053" in names and "y_1953" not in names
    assert {"nykom_2019", "nykom_2020", "nykom_2021", "arbsted_2021_03", "grad_2019_01", "branche_2020_12",
            "virkform_2020_06", "match_2021_1", "visit_2019_4", "ak_2021", "afm_2019"} <= set(names)  # fmt: skip
    assert "arbsted_2021_04" not in names  # week 2021-10 is the last week; its Thursday is in March


def test_every_column_is_a_plain_string(national):
    result, _ = national
    schema = pq.read_schema(result.path)
    assert all(t == pa.string() for t in schema.types)


def test_pnr_is_unique_ten_digits_and_matches_birth_date_and_sex(national):
    _, table = national
    pnr = _strings(table, "pnr")
    assert len(set(pnr)) == len(pnr)
    assert all(len(p) == 10 and p.isdigit() for p in pnr)
    born = [dt.date.fromisoformat(d) for d in _strings(table, "foed_dato")]
    assert all(p[:6] == d.strftime("%d%m%y") for p, d in zip(pnr, born))
    koen = _strings(table, "koen")
    assert set(koen) == {"M", "K"}
    assert all((int(p[-1]) % 2 == 1) == (k == "M") for p, k in zip(pnr, koen))


def test_week_codes_are_from_the_code_list_and_blanks_are_both_empty_and_null(weekly):
    # _codes already failed on any string outside the code list
    assert (weekly == EMPTY).any() and (weekly == NULL).any()
    used = {CODES[i] for i in np.unique(weekly[weekly >= 0])}
    assert {"111", "130", "730", "783", "890", "998", "999"} <= used


def test_week_53_is_filled_like_its_neighbours(weekly):
    i53 = WEEKS.index(IsoWeek(2020, 53))
    filled = (weekly >= 0).mean(axis=0)
    assert filled[i53] == pytest.approx(filled[i53 - 1], abs=0.01)
    assert filled[i53] > 0.2


# --- histories ----------------------------------------------------------------------------------------------


def test_self_supporting_gaps_of_three_four_and_five_weeks_occur(weekly):
    benefit = (weekly >= 0) & ~_is_exit(weekly)
    blank = weekly < 0
    for k in (3, 4, 5):
        width = weekly.shape[1] - k - 1
        gap = benefit[:, :width] & benefit[:, k + 1 :]
        for j in range(1, k + 1):
            gap &= blank[:, j : j + width]
        assert gap.sum() > 20, f"no gap of exactly {k} self-supporting weeks"


def test_exit_codes_are_absorbing(weekly):
    exited = _is_exit(weekly)
    assert exited.any()
    assert (np.maximum.accumulate(exited, axis=1) == exited).all(), "an exit code is followed by a non-exit week"


def test_active_codes_occur_inside_spells_of_their_family(weekly):
    active = {i for i, c in enumerate(CODES) if LOOKUP[c].aktiv}
    is_active = np.isin(weekly, list(active))
    assert is_active.sum() > 1000
    # The week before an active sub-spell starts is mostly the passive code of the same group.
    starts = is_active[:, 1:] & (weekly[:, 1:] != weekly[:, :-1])
    rows, cols = np.nonzero(starts)
    before, now = weekly[rows, cols], weekly[rows, cols + 1]
    same_group = [
        b >= 0 and LOOKUP[CODES[b]].ydelsesgruppe == LOOKUP[CODES[a]].ydelsesgruppe for b, a in zip(before, now)
    ]
    assert np.mean(same_group) > 0.8


def test_many_persons_have_no_benefit_in_a_year_and_some_have_long_spells(weekly):
    benefit = (weekly >= 0) & ~_is_exit(weekly)
    in_2020 = [i for i, w in enumerate(WEEKS) if w.aar == 2020]
    none_2020 = ~benefit[:, in_2020].any(axis=1)
    assert 0.4 < none_2020.mean() < 0.9
    foertid = CODES.index("783")
    assert (weekly == foertid).all(axis=1).sum() > 500  # førtidspension throughout


def test_ages_span_under_16_to_past_pension(national, weekly):
    _, table = national
    born = np.array(_strings(table, "foed_dato"), dtype="datetime64[D]")
    age_start = (np.datetime64(WEEKS[0].monday) - born).astype(int) / 365.25
    assert (age_start < 16).any() and (age_start > 67).any()
    children = age_start < 15
    assert ((weekly[children] < 0) | _is_exit(weekly[children])).all(), "a benefit code before the age of 16"
    exited = _is_exit(weekly)
    assert exited[age_start > 70].all()  # folkepension, or died or emigrated before
    pension = np.isin(weekly, [CODES.index("998"), CODES.index("996")])
    reach_pension_age = ~exited[:, 0] & pension[:, -1]
    assert reach_pension_age.sum() > 200
    assert (age_start[reach_pension_age] > 60).all()


# --- the other column families ------------------------------------------------------------------------------


def test_all_98_municipalities_live_in_every_year(national):
    _, table = national
    codes = {k.kommunekode for k in kommuner()}
    for year in (2019, 2020, 2021):
        nykom = set(_strings(table, f"nykom_{year}")) - {None, ""}
        assert nykom == codes


def test_emigrants_have_no_residence_afterwards(national, weekly):
    _, table = national
    last_2020 = WEEKS.index(IsoWeek(2020, 53))
    abroad = weekly[:, last_2020] == CODES.index("997")
    assert abroad.sum() > 50
    nykom = _strings(table, "nykom_2020")
    assert all(v in (None, "") for v in nykom[abroad])


def test_population_table_counts_the_residents_aged_16_to_66(national):
    result, table = national
    population = pq.read_table(result.population_path)
    assert population.schema.field("kommune").type == pa.string()
    assert population.schema.field("aar").type == pa.int32()
    assert population.schema.field("alder").type == pa.int32()
    assert population.schema.field("antal").type == pa.int64()
    pop = population.to_pydict()
    assert min(pop["alder"]) == 16 and max(pop["alder"]) == 66
    birth_year = np.array([int(d[:4]) for d in _strings(table, "foed_dato")])
    for year in (2019, 2021):
        nykom = _strings(table, f"nykom_{year}")
        age = year - birth_year
        counted = np.array([v not in (None, "") for v in nykom]) & (age >= 16) & (age <= 66)
        expected = {}
        for k, a in zip(nykom[counted], age[counted]):
            expected[(k, int(a))] = expected.get((k, int(a)), 0) + 1
        got = {
            (k, a): n
            for k, y, a, n in zip(pop["kommune"], pop["aar"], pop["alder"], pop["antal"])
            if y == year and n
        }
        assert got == expected


def test_employment_months_are_filled_for_the_employed_and_below_one_in_fleksjob(national, weekly):
    _, table = national
    grad = _strings(table, "grad_2020_03")
    filled = np.array([g not in (None, "") for g in grad])
    assert 0.4 < filled.mean() < 0.9
    assert all(len(g) == 4 and 0 <= float(g) <= 1 for g in grad[filled])
    march = [i for i, w in enumerate(WEEKS) if w.maaned == (2020, 3)]
    fleks_weeks = np.isin(weekly[:, march], [CODES.index("771"), CODES.index("774")]).sum(axis=1)
    fleks = 2 * fleks_weeks > len(march)  # mostly in fleksjob
    assert fleks.sum() > 100
    assert all(float(g) < 1 for g in grad[fleks])
    on_benefit = (weekly[:, march] >= 0).all(axis=1) & ~fleks  # incl. exit codes
    assert on_benefit.sum() > 1000
    assert not filled[on_benefit].any()
    for family in ("arbsted", "branche", "virkform"):
        values = _strings(table, f"{family}_2020_03")
        assert (np.array([v not in (None, "") for v in values]) == filled).all()
    assert all(len(v) == 6 for v in _strings(table, "branche_2020_03")[filled])
    assert set(_strings(table, "arbsted_2020_03")[filled]) <= {k.kommunekode for k in kommuner()}


def test_visitation_follows_cash_benefits_mostly_consistently(national, weekly):
    _, table = national
    q1 = [i for i, w in enumerate(WEEKS) if w.kvartal == (2020, 1)]
    cash = [i for i, c in enumerate(CODES) if LOOKUP[c].ydelsesfamilie]
    any_cash = np.isin(weekly[:, q1], cash).any(axis=1)
    visit, match = _strings(table, "visit_2020_1"), _strings(table, "match_2020_1")
    filled = np.array([v not in (None, "") for v in visit])
    assert (filled == any_cash).all()
    assert set(visit[filled]) == {"jobparat", "aktivitetsparat", "uddannelsesparat", "aabenlyst uddannelsesparat"}
    assert set(match[filled]) == {"1", "2", "3"}
    last = weekly[:, q1[-1]]
    kh_job = last == CODES.index("130")
    kh_akt = last == CODES.index("730")
    assert 0.8 < np.mean(visit[kh_job] == "jobparat") < 1
    assert 0.8 < np.mean(visit[kh_akt] == "aktivitetsparat") < 1


def test_akasse_members_include_everyone_on_dagpenge(national, weekly):
    _, table = national
    ak, afm = _strings(table, "ak_2020"), _strings(table, "afm_2020")
    member = np.array([v not in (None, "") for v in ak])
    assert all(len(v) == 2 and v.isdigit() for v in ak[member])
    assert set(afm[member]) == {"1", "0"}
    assert all(v in (None, "") for v in afm[~member])
    in_2020 = [i for i, w in enumerate(WEEKS) if w.aar == 2020]
    dagpenge = np.isin(weekly[:, in_2020], [CODES.index("111"), CODES.index("115")]).any(axis=1)
    assert member[dagpenge].all()


# --- determinism, output files, arguments -------------------------------------------------------------------


def test_same_seed_gives_the_same_table_and_another_seed_another(tmp_path):
    weeks = week_range(IsoWeek(2020, 40), IsoWeek(2021, 20))

    def run(name: str, seed: int) -> pa.Table:
        result = generate(2_500, seed, tmp_path / name, weeks=weeks, chunk_size=1_000, progress=False)
        assert result.chunks == 3
        return pq.read_table(result.path)

    first, again, other = run("a.parquet", 5), run("b.parquet", 5), run("c.parquet", 6)
    assert first.equals(again)
    assert not first.column("y_2053").equals(other.column("y_2053"))
    assert not first.column("pnr").equals(other.column("pnr"))


def test_population_file_sits_next_to_the_wide_file_and_folders_are_created(tmp_path, caplog):
    out = tmp_path / "new" / "folder" / "x.parquet"
    with caplog.at_level(logging.INFO, logger="dream.synth"):
        result = generate(200, 1, str(out), weeks=WEEKS[:10], progress=False)
    assert result.path == str(out) and out.exists()
    assert result.population_path == str(tmp_path / "new" / "folder" / "x_befolkning.parquet")
    assert not (tmp_path / "new" / "folder" / "x.parquet.partial").exists()
    assert "200 synthetic persons" in caplog.text


def test_default_weeks_are_the_last_eleven_years(tmp_path):
    result = generate(50, 1, tmp_path / "d.parquet", progress=False, today=dt.date(2026, 11, 15))
    names = pq.read_schema(result.path).names
    assert names[3] == "y_1601" and "y_2644" in names and "y_2645" not in names


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"persons": -1}, "--persons must be a positive whole number, got -1"),
        ({"persons": 0}, "--persons must be a positive whole number, got 0"),
        ({"persons": 2.5}, "--persons must be a positive whole number"),
        ({"persons": True}, "--persons must be a positive whole number"),
        ({"seed": -3}, "--seed must be a whole number >= 0, got -3"),
        ({"chunk_size": 0}, "--chunk-size must be a positive whole number"),
        ({"out": "/proc/x/y.parquet"}, "/proc/x"),
        ({"weeks": []}, "weeks is empty"),
        ({"weeks": [IsoWeek(2020, 2), IsoWeek(2020, 1)]}, "increasing order"),
    ],
)
def test_bad_arguments_raise_input_error(tmp_path, kwargs, message):
    arguments = {"persons": 10, "seed": 1, "out": tmp_path / "ok.parquet", "weeks": WEEKS[:5], "progress": False}
    with pytest.raises(InputError, match=message.replace(".", r"\.").replace("[", r"\[")):
        generate(**{**arguments, **kwargs})


def test_out_that_is_a_folder_is_refused(tmp_path):
    with pytest.raises(InputError, match="is a folder"):
        generate(10, 1, tmp_path, weeks=WEEKS[:5], progress=False)

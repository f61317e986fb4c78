"""Disclosure control of the benchmark tables: suppression, intervals, releases and the audit (no Spark).

Expected patterns and intervals in the hand-made tests are worked out by hand in the comments."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dream.disclosure import (AuditFailure, Dimension, DisclosureInputError, audit, audit_releases, geografi,
                              suppress)
from dream.disclosure.audit import main as audit_main
from dream.disclosure.audit import read_parquet
from dream.disclosure.boxes import Boxes
from dream.disclosure.suppression import _gauss, _small_groups, preference_order, primary_mask
from dream.disclosure.table import from_inner

K, G = Dimension.flat("k"), Dimension.flat("g")


def two_by_two(a, b, c, d) -> pd.DataFrame:
    """k1/k2 x g1/g2: a = (k1,g1), b = (k1,g2), c = (k2,g1), d = (k2,g2)."""
    return pd.DataFrame({"k": ["k1", "k1", "k2", "k2"], "g": ["g1", "g2", "g1", "g2"], "antal": [a, b, c, d]})


def geo(kommuner: dict[str, str]) -> Dimension:
    return Dimension("geografi", "DK", tuple(kommuner), (kommuner,), ("kommune", "region", "land"))


def suppressed_keys(cells: pd.DataFrame, dims) -> set[tuple]:
    s = cells[cells["suppressed"]]
    return set(zip(*[s[d.name] for d in dims]))


def with_pattern(cells: pd.DataFrame, dims, keys: set[tuple]) -> pd.DataFrame:
    """The same table with another suppression pattern (e.g. a naive one)."""
    out = cells.copy()
    out["suppressed"] = [k in keys for k in zip(*[out[d.name] for d in dims])]
    return out


def interval(result, key: tuple) -> tuple[float, float]:
    iv = result.intervals
    row = iv[np.logical_and.reduce([iv[c] == v for c, v in zip(["k", "g"], key)])]
    return float(row["lower"].iloc[0]), float(row["upper"].iloc[0])


# --- hand-made tables -----------------------------------------------------------------------------------

def test_two_by_two_with_a_three_hides_the_rectangle_and_keeps_the_margins():
    # a=3 is primary. Margins 13, 27 / 10, 30 / 40 are big. Every margin is published first (largest first);
    # then each inner cell would reveal a (one perturbation is left: +a -b -c +d), so all four are hidden.
    r = suppress(two_by_two(3, 10, 7, 20), [K, G])
    assert suppressed_keys(r.cells, [K, G]) == {("k1", "g1"), ("k1", "g2"), ("k2", "g1"), ("k2", "g2")}
    assert (r.primary, r.secondary) == (1, 3)
    assert r.cells.set_index(["k", "g"]).loc[("k1", "g1"), "reason"] == "primær"
    # a + t, b - t, c - t, d + t with t in [-3, 7]: a in [0, 10], b in [3, 13], c in [0, 10], d in [17, 27]
    a = audit(r.published(), [K, G])
    assert a.ok
    assert interval(a, ("k1", "g1")) == (0.0, 10.0)
    assert interval(a, ("k1", "g2")) == (3.0, 13.0)
    assert interval(a, ("k2", "g1")) == (0.0, 10.0)
    assert interval(a, ("k2", "g2")) == (17.0, 27.0)


def test_a_small_cell_among_zeros_hides_every_sum_it_is_in():
    # a=3 with zeros beside it (b = c = 0, d = 8). The zeros are published first: a hidden zero cannot be
    # lowered, so it protects nothing. Then the total 11 (largest first), which leaves a + d = 11; then
    # (k2, I alt) = 8, (I alt, g2) = 8 and d = 8 would each give a = 11 - 8 and are held back; (k1, I alt)
    # and (I alt, g1) are 3, primary. For a to reach 5, a box must take 2 from somewhere: every box with
    # a -1 corner has it on a zero, so only the box without one is left, and it hides the total too.
    r = suppress(two_by_two(3, 0, 0, 8), [K, G])
    published = r.cells[~r.cells["suppressed"]]
    assert set(zip(published["k"], published["g"])) == {("k1", "g2"), ("k2", "g1")}
    assert (published["antal"] == 0).all()
    a = audit(r.cells, [K, G])
    assert a.ok and interval(a, ("k1", "g1")) == (0.0, float("inf"))


def test_no_published_cell_is_small_and_every_primary_cell_is_hidden():
    r = suppress(two_by_two(3, 1, 1, 10), [K, G])
    shown = r.published()
    values = shown.loc[~shown["suppressed"], "antal"]
    assert not values.between(1, 4).any()
    primary = r.cells[r.cells["antal"].between(1, 4)]
    assert primary["suppressed"].all() and (primary["reason"] == "primær").all()


# --- where the naive rule leaks -------------------------------------------------------------------------

def test_two_per_row_and_column_leaks_through_a_region_total():
    # kommuner k1, k2 in region R1 and k3, k4 in R2. The naive pattern hides two cells in every kommune row
    # and two in every group column of the kommune x group table, yet (R1, g1) - (k2, g1) = 13 - 10 = 3
    # gives (k1, g1) away.
    dims = [geo({"k1": "R1", "k2": "R1", "k3": "R2", "k4": "R2"}), Dimension.flat("g")]
    inner = pd.DataFrame({"geografi": ["k1", "k1", "k2", "k2", "k3", "k3", "k4", "k4"],
                          "g": ["g1", "g2"] * 4, "antal": [3, 9, 10, 12, 6, 8, 7, 11]})
    r = suppress(inner, dims)
    naive = {("k1", "g1"), ("k1", "g2"), ("k3", "g1"), ("k3", "g2")}
    rows = pd.Series([k for k, _ in naive]).value_counts()
    cols = pd.Series([g for _, g in naive]).value_counts()
    assert (rows == 2).all() and (cols == 2).all()
    leaky = audit(with_pattern(r.cells, dims, naive), dims)
    revealed = leaky.problems.set_index(["geografi", "g"])
    assert revealed.loc[("k1", "g1"), "problem"] == "afsløret"
    assert revealed.loc[("k1", "g1"), "lower"] == revealed.loc[("k1", "g1"), "upper"] == 3
    assert audit(r.cells, dims).ok
    with pytest.raises(AuditFailure, match="not protected"):
        audit(with_pattern(r.cells, dims, naive), dims, raise_on_failure=True)


def test_two_per_row_and_column_can_still_pin_a_cell_below_five():
    # a=3, b=1, c=1, d=10, all four hidden (two per row and column): a can only grow by taking from b and c,
    # so a <= 3 + min(b, c) = 4: known to be a small group.
    cells = suppress(two_by_two(3, 1, 1, 10), [K, G]).cells
    naive = {("k1", "g1"), ("k1", "g2"), ("k2", "g1"), ("k2", "g2")}
    leaky = audit(with_pattern(cells, [K, G], naive), [K, G])
    assert interval(leaky, ("k1", "g1")) == (0.0, 4.0)
    assert leaky.problems.set_index(["k", "g"]).loc[("k1", "g1"), "problem"] == "under tærskel"
    assert audit(cells, [K, G]).ok


def test_the_group_rule_hides_more_where_two_small_cells_share_a_published_row():
    # Row k1: 2, 2, 40; row k2: 9, 7, 30. Elimination alone (margins first, then 40, 30, 9, 7): 40 and 30
    # can be published (the g1/g2 rectangle still hides both 2s), 9 and 7 cannot. But then the row total
    # 44 - 40 = 4 tells that the two hidden 2s hold 4 persons together: each is at most 4.
    inner = pd.DataFrame({"k": ["k1"] * 3 + ["k2"] * 3, "g": ["g1", "g2", "g3"] * 2, "antal": [2, 2, 40, 9, 7, 30]})
    table = from_inner(inner, [K, G], "antal")
    primary = primary_mask(table, 5)
    none = np.zeros(table.n_cells, dtype=bool)
    rejected = _gauss(table, preference_order(table, none), primary, none, [], none)
    cells = table.keys_frame().assign(antal=table.cell_values, suppressed=primary | rejected)
    assert suppressed_keys(cells, [K, G]) == {("k1", "g1"), ("k1", "g2"), ("k2", "g1"), ("k2", "g2")}
    alone = audit(cells, [K, G])
    assert interval(alone, ("k1", "g1")) == (0.0, 4.0) and not alone.ok
    # The group {(k1,g1), (k1,g2)} is protected in the next round: 40 now gives it away, and so does 30
    # (70 - 30 = 40): all six inner cells are hidden, the margins stay. Now (k1,g1) is bounded only by its
    # column: (I alt, g1) = 11, and 0 and 11 are both reachable (e.g. 11, 0, 33 / 0, 9, 37).
    r = suppress(inner, [K, G])
    assert suppressed_keys(r.cells, [K, G]) == {(k, g) for k in ("k1", "k2") for g in ("g1", "g2", "g3")}
    final = audit(r.cells, [K, G])
    assert final.ok and interval(final, ("k1", "g1")) == (0.0, 11.0)


# --- the primary rule on persons ------------------------------------------------------------------------

def test_persons_behind_a_count_decide_the_primary_rule():
    # (k1,g1): 6 spells of 2 persons is primary although 6 >= 5; the sum (k1, I alt) has 6 + 9 spells of
    # 2 + 6 = 8 persons by the inner sums, but only 4 distinct persons (given): primary too.
    inner = two_by_two(6, 9, 8, 20).assign(personer=[2, 6, 7, 15])
    distinct = pd.DataFrame({"k": ["k1"], "g": ["I alt"], "personer": [4]})
    r = suppress(inner, [K, G], persons="personer", persons_cells=distinct)
    reasons = r.cells.set_index(["k", "g"])["reason"]
    assert reasons[("k1", "g1")] == "primær"
    assert reasons[("k1", "I alt")] == "primær"
    assert reasons[("k2", "g2")] != "primær"
    assert audit(r.cells, [K, G]).ok


# --- releases -------------------------------------------------------------------------------------------

def three_groups() -> pd.DataFrame:
    return pd.DataFrame({"k": ["k1"] * 3 + ["k2"] * 3, "g": ["g1", "g2", "g3"] * 2,
                         "antal": [3, 20, 20, 20, 20, 20]})


def test_two_releases_hiding_a_cell_differently_can_be_differenced():
    # Each release alone hides (k1,g1)=3 in a rectangle, one with g2, the other with g3. Together they show
    # (k1,g2) and (k1,g3), and the published row (k1, I alt) = 43 gives 43 - 20 - 20 = 3.
    cells = suppress(three_groups(), [K, G]).cells
    old_keys = {("k1", "g1"), ("k1", "g2"), ("k2", "g1"), ("k2", "g2")}
    new_keys = {("k1", "g1"), ("k1", "g3"), ("k2", "g1"), ("k2", "g3")}
    old, new = with_pattern(cells, [K, G], old_keys), with_pattern(cells, [K, G], new_keys)
    assert audit(old, [K, G]).ok and audit(new, [K, G]).ok
    joint = audit_releases(old, new, [K, G])
    revealed = joint.problems.set_index(["release", "k", "g"])
    assert revealed.loc[("ny", "k1", "g1"), "problem"] == "afsløret"
    # carrying the old pattern over closes it
    carried = suppress(three_groups(), [K, G], previous=old)
    assert old_keys <= carried.suppressed_keys()
    assert audit_releases(old, carried.cells, [K, G]).ok


def test_previous_suppressions_are_carried_over_with_their_own_reason():
    previous = {("k2", "g3"), ("I alt", "g3")}
    r = suppress(three_groups(), [K, G], previous=previous)
    reasons = r.cells.set_index(["k", "g"])["reason"]
    assert reasons[("k2", "g3")] == "overført" and reasons[("I alt", "g3")] == "overført"
    assert previous <= r.suppressed_keys()
    assert audit(r.cells, [K, G]).ok


def test_an_unchanged_period_keeps_its_pattern():
    first = suppress(two_by_two(3, 10, 7, 20), [K, G])
    again = suppress(two_by_two(3, 10, 7, 20), [K, G], previous=first.cells)
    assert again.suppressed_keys() == first.suppressed_keys()
    assert not again.revised


def test_a_revised_period_carries_the_pattern_over_and_passes_the_joint_audit():
    # a: 3 -> 4 and d: 20 -> 21. b and c are the same unknowns in both releases: the old release bounds
    # b in [3, 13] and c in [0, 10]; the new a = 14 - b = 11 - c lies in [1, 11]: it can reach 5.
    first = suppress(two_by_two(3, 10, 7, 20), [K, G])
    revised = suppress(two_by_two(4, 10, 7, 21), [K, G], previous=first.cells, check=True)
    assert revised.revised
    assert first.suppressed_keys() <= revised.suppressed_keys()
    joint = audit_releases(first.cells, revised.cells, [K, G])
    assert joint.ok
    new = joint.intervals[joint.intervals["release"] == "ny"].set_index(["k", "g"])
    assert (new.loc[("k1", "g1"), "lower"], new.loc[("k1", "g1"), "upper"]) == (1.0, 11.0)


# --- the audit on files ---------------------------------------------------------------------------------

def test_audit_command_reads_the_dimensions_from_the_file(tmp_path, capsys):
    dims = [geo({"k1": "R1", "k2": "R1", "k3": "R2", "k4": "R2"}), Dimension.flat("g")]
    inner = pd.DataFrame({"geografi": ["k1", "k1", "k2", "k2", "k3", "k3", "k4", "k4"],
                          "g": ["g1", "g2"] * 4, "antal": [3, 9, 10, 12, 6, 8, 7, 11]})
    r = suppress(inner, dims)
    path = tmp_path / "tabel.parquet"
    r.to_parquet(path)
    cells, meta = read_parquet(path)
    assert cells.loc[cells["suppressed"], "antal"].isna().all()  # the published form: hidden values empty
    assert meta["value"] == "antal" and meta["threshold"] == 5
    assert audit_main([str(path), "--intervals", str(tmp_path / "iv.csv")]) == 0
    assert "none revealed" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "iv.csv")) == r.suppressed
    # publish one hidden cell: the file fails the audit
    leaked = r.cells.copy()
    leaked.loc[(leaked["geografi"] == "k1") & (leaked["g"] == "g2"), "suppressed"] = False
    from dream.disclosure.audit import write_parquet
    write_parquet(leaked, tmp_path / "leak.parquet", dims, "antal", 5)
    assert audit_main([str(tmp_path / "leak.parquet")]) == 1
    assert audit_main([str(tmp_path / "missing.parquet")]) == 2


# --- bad input ------------------------------------------------------------------------------------------

def test_bad_inner_tables_are_refused_with_a_reason():
    with pytest.raises(DisclosureInputError, match="duplicate inner cells"):
        suppress(pd.concat([two_by_two(3, 10, 7, 20)] * 2), [K, G])
    with pytest.raises(DisclosureInputError, match="whole numbers >= 0"):
        suppress(two_by_two(3, -1, 7, 20), [K, G])
    with pytest.raises(DisclosureInputError, match="not a leaf"):
        suppress(pd.DataFrame({"geografi": ["101", "999"], "antal": [1, 2]}), [geografi()])
    with pytest.raises(DisclosureInputError, match="columns \\['antal'\\] are missing"):
        suppress(two_by_two(3, 10, 7, 20).rename(columns={"antal": "n"}), [K, G])
    with pytest.raises(DisclosureInputError, match="more than one level"):
        suppress(pd.DataFrame({"geografi": ["a"], "antal": [1]}), [geo({"a": "a"})])


# --- properties on random small hierarchical tables -----------------------------------------------------

SMALL = st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5, 6, 8, 12, 20, 40])


@st.composite
def small_tables(draw):
    n_k = draw(st.integers(2, 4))
    n_regions = draw(st.integers(1, 2))
    kommuner = {f"k{i}": f"R{i % n_regions}" for i in range(n_k)}
    groups = [f"g{j}" for j in range(draw(st.integers(2, 3)))]
    third = draw(st.booleans())
    akt = ["a0", "a1"] if third else ["a0"]
    rows = [(k, g, a, draw(SMALL)) for k in kommuner for g in groups for a in akt]
    inner = pd.DataFrame(rows, columns=["geografi", "g", "a", "antal"])
    dims = [geo(kommuner), Dimension.flat("g"), Dimension.flat("a")]
    return inner, dims


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_random_tables_pass_the_audit(case):
    inner, dims = case
    r = suppress(inner, dims)
    cells = r.cells
    assert not cells.loc[~cells["suppressed"], "antal"].between(1, 4).any()
    assert cells.loc[cells["antal"].between(1, 4), "suppressed"].all()
    audited = audit(r.published(), dims)  # without the true values: the stricter rules
    assert audited.ok, audited.problems.to_string()
    assert audit(cells, dims).ok
    again = suppress(inner.sample(frac=1, random_state=1), dims)  # same input in another row order
    assert again.suppressed_keys() == r.suppressed_keys()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables(), st.data())
def test_random_tables_keep_what_the_previous_release_hid(case, data):
    inner, dims = case
    first = suppress(inner, dims)
    keys = sorted(first.cells[["geografi", "g", "a"]].itertuples(index=False, name=None))
    extra = set(data.draw(st.lists(st.sampled_from(keys), max_size=3)))
    previous = first.suppressed_keys() | extra
    r = suppress(inner, dims, previous=previous)
    assert previous <= r.suppressed_keys()
    assert audit(r.cells, dims).ok


# --- the elimination against exact linear algebra ------------------------------------------------------

def _residual(basis: list[tuple[int, list[Fraction]]], vector) -> list[Fraction]:
    """What is left of ``vector`` after removing its part in the span of ``basis`` (exact, in fractions)."""
    v = [Fraction(x) for x in vector]
    for pivot, row in basis:
        if v[pivot]:
            f = v[pivot] / row[pivot]
            v = [a - f * b for a, b in zip(v, row)]
    return v


def _basis(rows) -> list[tuple[int, list[Fraction]]]:
    basis = []
    for r in rows:
        res = _residual(basis, r)
        nonzero = [i for i, x in enumerate(res) if x]
        if nonzero:
            basis.append((nonzero[0], res))
    return basis


def _in_span(basis, vector) -> bool:
    return not any(_residual(basis, vector))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_elimination_leaves_no_primary_cell_in_the_span_of_the_published_ones(case):
    inner, dims = case
    table = from_inner(inner, dims, "antal")
    primary = primary_mask(table, 5)
    none = np.zeros(table.n_cells, dtype=bool)
    rejected = _gauss(table, preference_order(table, none), primary, none, [], none)
    a = table.matrix.toarray().tolist()
    basis = _basis([a[c] for c in range(table.n_cells) if not (primary[c] or rejected[c])])
    for p in np.flatnonzero(primary):
        assert not _in_span(basis, a[p])  # no primary cell can be computed from the published cells
    for c in np.flatnonzero(rejected):  # and every cell held back would have revealed one
        with_c = basis + _basis([_residual(basis, a[c])])
        assert any(_in_span(with_c, a[p]) for p in np.flatnonzero(primary))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_tables())
def test_shortcuts_of_the_elimination_change_no_decision(case):
    """Leaving the published zeros out of the coordinates, and the hashed signature keys (here with a prime
    so small that keys collide all the time), give the decisions of the plain elimination."""
    import dream.disclosure.gauss as gauss
    import dream.disclosure.suppression as suppression

    inner, dims = case
    table = from_inner(inner, dims, "antal")
    primary = primary_mask(table, 5)
    none = np.zeros(table.n_cells, dtype=bool)
    order = preference_order(table, none)
    fast = _gauss(table, order, primary, none, [], none)
    coordinates, prime = suppression._coordinates, gauss.PRIME
    try:
        suppression._coordinates = lambda table, *args: np.ones(table.n_inner, dtype=bool)
        gauss.PRIME = 5
        plain = _gauss(table, order, primary, none, [], none)
    finally:
        suppression._coordinates, gauss.PRIME = coordinates, prime
    assert np.array_equal(fast, plain)


@st.composite
def tables_with_groups(draw):
    """Large cells with a few 1s and 2s: two small cells in a row with everything else published leave their sum
    to be computed, so about half of these tables need a second round for groups."""
    kommuner = {f"k{i}": f"R{i % 2}" for i in range(draw(st.integers(3, 6)))}
    groups = [f"g{j}" for j in range(draw(st.integers(2, 4)))]
    rows = [(k, g, draw(st.sampled_from([0, 1, 2, 20, 30, 50]))) for k in kommuner for g in groups]
    return pd.DataFrame(rows, columns=["geografi", "g", "antal"]), [geo(kommuner), Dimension.flat("g")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables_with_groups())
def test_a_later_round_watches_only_the_new_groups(case):
    """A later round offers only cells the round before published, after more publications in the same order,
    so the vectors protected before cannot be revealed: watching only the new groups gives the decisions of
    watching every vector."""
    inner, dims = case
    table = from_inner(inner, dims, "antal")
    primary = primary_mask(table, 5)
    none = np.zeros(table.n_cells, dtype=bool)
    order = preference_order(table, none)
    suppressed = primary | _gauss(table, order, primary, none, [], none)
    groups = _small_groups(table, suppressed, 5)
    hidden = suppressed & ~primary
    watched = _gauss(table, order, primary, hidden, groups, none, settled=0)
    assert np.array_equal(watched, _gauss(table, order, primary, hidden, groups, none))


def test_a_pooled_box_changes_the_cells_it_lists_and_no_other():
    """Moving the inner cells by a pooled box (its corners are the inner cells it lists) changes every published
    cell by the sum of its coefficients in the box, and leaves the cells not listed as they are; its room
    keeps the inner cells >= 0 both ways."""
    kommuner = {**{f"k{i}": "R0" for i in range(4)}, **{f"k{i}": "R1" for i in range(4, 7)}}
    rng = np.random.default_rng(7)
    rows = [(k, g, int(rng.choice([0, 1, 2, 3, 6, 9, 15]))) for k in kommuner for g in ["g0", "g1", "g2"]]
    dims = [geo(kommuner), Dimension.flat("g")]
    inner = pd.DataFrame(rows, columns=["geografi", "g", "antal"])
    table = from_inner(inner, dims, "antal")
    suppressed = suppress(inner, dims).cells["suppressed"].to_numpy()
    boxes = Boxes(table, suppressed, np.zeros(table.n_cells, dtype=bool))
    m = table.matrix.toarray()
    checked = 0
    for cell in np.flatnonzero(suppressed & (table.cell_depth == 0)):
        multi = np.array(np.unravel_index(cell, table.cell_shape))
        plain, carriers = zip(*[boxes._plain(d, multi, 1.0) for d in range(2)])
        pools = boxes._pools(0, multi, carriers[0])
        box = boxes._search([pools, plain[1]], 0, 1.0) if pools is not None else None
        if box is None:
            continue
        _, seen, coef, tau_plus, tau_minus = box
        corner = table.cell_depth[seen] == 0
        move = np.zeros(table.n_inner)
        move[table.cell_inner[seen[corner]]] = coef[corner]
        expected = np.zeros(table.n_cells)
        np.add.at(expected, seen, coef)
        assert np.allclose(m @ move, expected)
        values = table.inner_values.astype(float)
        assert (values + tau_plus * move >= -1e-9).all() and (values - min(tau_minus, 1e9) * move >= -1e-9).all()
        checked += 1
    assert checked >= 3

"""The report as one self-contained HTML page (inline CSS and SVG; no script, no font, no image fetched),
in the spirit of seed 002: the share on public support over time, status 52 weeks on, durations, the
passive share, and where the kommune stands among the 98. Renders ``protect.Published`` only."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from html import escape

import pandas as pd

from dream.benchmark.cells import ACTIVATED, RECIPIENTS, TOTAL
from dream.reference.codes import recipient_status
from dream.reference.kommuner import kommuner
from dream.report import charts
from dream.report.protect import STATUS_PARTS, Published

SUPPRESSED = "#"  # as in seed 002: a figure that may not be shown
MISSING = "–"
SECTIONS = {
    "offentlig-forsoergelse": "Borgere på offentlig forsørgelse",
    "status-52-uger": "Status 52 uger efter",
    "varighed": "Varighed på ydelsen",
    "passivandel": "Passivandel",
    "benchmark": "Kommunen blandt de 98",
}
MONTHS_SHOWN = 13

CSS = """
body{font-family:system-ui,sans-serif;max-width:820px;margin:2em auto;padding:0 1em;color:#111827;line-height:1.45}
h1{font-size:1.7em;margin-bottom:.1em}h2{margin-top:2em;border-bottom:2px solid #1f4e79;padding-bottom:.2em}
.sub{color:#6b7280;margin-top:0}.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1.2em 0}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:.6em .9em;min-width:170px}
.card b{display:block;font-size:1.5em;color:#1f4e79}.card span{color:#6b7280;font-size:.9em}
table{border-collapse:collapse;margin:1em 0;font-size:.9em;width:100%}
th,td{padding:.25em .5em;border-bottom:1px solid #e5e7eb;text-align:left}th{background:#f3f4f6}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tr.own td{font-weight:bold}
.note{color:#4b5563;font-size:.85em}svg{max-width:100%;height:auto}
footer{margin-top:3em;border-top:1px solid #e5e7eb;color:#4b5563;font-size:.85em}
"""


# --- numbers the Danish way ------------------------------------------------------------------------------

def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def fmt_int(value, suppressed: bool = True) -> str:
    """A count: 12.345; a suppressed count "#" (``suppressed=False``: a missing one "–")."""
    if _missing(value):
        return SUPPRESSED if suppressed else MISSING
    return f"{int(value):,}".replace(",", ".")


def fmt_dec(value, decimals: int = 1, suppressed: bool = True) -> str:
    if _missing(value):
        return SUPPRESSED if suppressed else MISSING
    return f"{value:,.{decimals}f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def fmt_pct(value, decimals: int = 1, suppressed: bool = True) -> str:
    """A share 0..1 as per cent: 12,3 %."""
    if _missing(value):
        return SUPPRESSED if suppressed else MISSING
    return f"{fmt_dec(value * 100, decimals)} %"


def month_name(periode: str | None) -> str:
    if not periode:
        return MISSING
    names = ["januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
             "november", "december"]
    year, month = periode.split("-")
    return f"{names[int(month) - 1]} {year}"


def genitive(name: str) -> str:
    """Københavns, Assens'."""
    return f"{name}'" if name[-1:].lower() in "sxz" else f"{name}s"


def _value(v):
    return None if _missing(v) else float(v)


def _share(part, total):
    return None if _missing(part) or _missing(total) or not total else float(part) / float(total)


# --- building blocks ------------------------------------------------------------------------------------

def table(table_id: str, headers: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1,
          own: Sequence[bool] | None = None) -> str:
    """A table of already formatted cells; columns from ``numeric_from`` on are right-aligned."""
    def cells(values, tag):
        return "".join(f'<{tag}{" class=num" if i >= numeric_from else ""}>{escape(str(v))}</{tag}>'
                       for i, v in enumerate(values))

    body = "".join(f'<tr{" class=own" if own and own[i] else ""}>{cells(r, "td")}</tr>' for i, r in enumerate(rows))
    return f'<table id="{table_id}"><thead><tr>{cells(headers, "th")}</tr></thead><tbody>{body}</tbody></table>'


def section(section_id: str, lead: str, chart: str, tables: str, note: str) -> str:
    return (f'<section id="{section_id}"><h2>{escape(SECTIONS[section_id])}</h2><p>{lead}</p>'
            f'<figure class="chart">{chart}</figure>{tables}<p class="note">{note}</p></section>')


def card(value: str, text: str) -> str:
    return f'<div class="card"><b>{escape(value)}</b><span>{escape(text)}</span></div>'


def stack_row(label: str, counts: Sequence, total) -> charts.StackRow:
    """A 100 % bar of shown counts: suppressed parts left grey; a suppressed or empty total said so."""
    if _missing(total):
        return charts.StackRow(label, [None] * len(counts), "færre end 5 borgere")
    if not total:
        return charts.StackRow(label, [None] * len(counts), "ingen borgere", empty=True)
    return charts.StackRow(label, [_share(c, total) for c in counts])


def count_and_share(count, total) -> str:
    """"12 (34 %)"; a suppressed count "# (#)"; nobody in the row "0"."""
    if not _missing(total) and not total:
        return fmt_int(count)
    return f"{fmt_int(count)} ({fmt_pct(_share(count, total), 0)})"


# --- the sections ---------------------------------------------------------------------------------------

def support_section(p: Published) -> str:
    s = p.support
    name = p.kommune.kommunenavn
    own = charts.Series(name, [(r.periode, _value(r.andel_af_befolkning)) for r in s.itertuples()], charts.PALETTE[0])
    land = charts.Series("Hele landet", [(r.periode, _value(r.andel_land)) for r in s.itertuples()], "#9ca3af")
    chart = charts.line_chart([own, land], f"Andel af de 16-66-årige på offentlig forsørgelse, {name}",
                              lambda v: fmt_pct(v, 0 if round(v * 100, 6).is_integer() else 1))
    recent = s.tail(MONTHS_SHOWN)
    rows = [[r.periode, fmt_dec(r.fuldtidspersoner, suppressed=r.undertrykt), fmt_int(r.antal_personer),
             fmt_int(r.befolkning_16_66, False), fmt_pct(r.andel_af_befolkning, suppressed=r.undertrykt),
             fmt_pct(r.andel_land, suppressed=False)] for r in recent.itertuples()]
    lead = "Ingen tal."
    if len(s):
        latest = s.iloc[-1]
        lead = (f"I {month_name(latest.periode)} var "
                f"<b>{fmt_pct(latest.andel_af_befolkning, suppressed=latest.undertrykt)}</b> af {escape(genitive(name))} "
                f"16-66-årige på offentlig forsørgelse, opgjort i fuldtidspersoner; i hele landet "
                f"{fmt_pct(latest.andel_land, suppressed=False)}.")
    tables = table("tabel-offentlig-forsoergelse",
                   ["Måned", "Fuldtidspersoner", "Personer", "Befolkning 16-66 år", "Andel", "Hele landet"], rows)
    note = ("Offentlig forsørgelse: borgere i alderen 16-66 år, der modtager en af ydelserne a-dagpenge, "
            "arbejdsmarkedsydelse, efterløn, fleksjob, forrevalidering, førtidspension, jobafklaring, "
            "kontanthjælp, integrationsydelse, ledighedsydelse, ressourceforløb, revalidering, sygedagpenge eller "
            "uddannelseshjælp. "
            "Fuldtidspersoner: ugerne på ydelse i måneden delt med månedens uger. Kilde: DREAM "
            "(maaling_offentlig_forsoergelse).")
    return section("offentlig-forsoergelse", lead, chart, tables, note)


def status_section(p: Published) -> str:
    s = p.status_52
    labels = recipient_status()
    names = [labels["same"], labels["other"], labels["none"]]
    parts = list(zip(names, charts.PALETTE[:3]))
    stack = [stack_row(r.ydelsesgruppe, [getattr(r, f) for f in STATUS_PARTS], r.antal_borgere)
             for r in s.itertuples()]
    chart = charts.stacked_bars(stack, parts, f"Status 52 uger efter, {month_name(p.status_52_periode)}")
    rows = [[r.ydelsesgruppe, fmt_int(r.antal_borgere),
             *[count_and_share(getattr(r, f), r.antal_borgere) for f in STATUS_PARTS]] for r in s.itertuples()]
    lead = (f"Hvor er kommunens ydelsesmodtagere i {month_name(p.status_52_periode)} 52 uger senere? Borgere, der "
            f"modtog ydelsen i måneden, fordelt efter deres status i kalenderugen 52 uger efter (den sidste uge i "
            f"måneden med ydelsen).")
    tables = table("tabel-status-52-uger", ["Ydelsesgruppe", "Antal borgere", *names], rows)
    note = ("Antal borgere er personer, ikke uger. Kilde: DREAM (noegletal, periodetype måned; "
            "overgang_52: ugen præcis 52 uger senere).")
    return section("status-52-uger", lead, chart, tables, note)


def duration_section(p: Published) -> str:
    d, intervals = p.duration, p.duration_intervals
    colors = ["#9ecae1", "#6baed6", "#3182bd", "#1f4e79", "#0b2545"]
    parts = list(zip(intervals, colors))
    records = d.to_dict("records")
    stack = [stack_row(r["ydelsesgruppe"], [r[c] for c in intervals], r["antal_personer"]) for r in records]
    chart = charts.stacked_bars(stack, parts, f"Varighed på ydelsen, {month_name(p.duration_periode)}")
    rows = [[r["ydelsesgruppe"], fmt_int(r["antal_personer"]), *[fmt_int(r[c]) for c in intervals]] for r in records]
    lead = (f"Ydelsesmodtagerne i {month_name(p.duration_periode)} efter hvor længe deres forløb på ydelsen har "
            f"varet: fra forløbets første dag til den sidste dag på ydelsen i måneden.")
    tables = table("tabel-varighed", ["Ydelsesgruppe", "Antal borgere", *intervals], rows)
    note = ("Et forløb afbrydes af mindst én hel kalendermåned uden ydelsen. Intervallerne er jobindsats' "
            "(Skema 1); forløb begyndt før de leverede data tælles med den varighed, data viser. "
            "Kilde: DREAM (maaling_varighed).")
    return section("varighed", lead, chart, tables, note)


def passive_section(p: Published) -> str:
    d = p.passive
    chart = charts.bars([(r.ydelsesgruppe, _value(r.passivandel)) for r in d.itertuples()],
                        f"Passivandel, {month_name(p.passive_periode)}", lambda v: fmt_pct(v, 0))
    rows = [[r.ydelsesgruppe, fmt_int(r.antal_personer), fmt_int(r.antal_passive), fmt_pct(r.passivandel)]
            for r in d.itertuples()]
    lead = (f"Andelen uden aktivt tilbud det seneste år blandt borgere, der i {month_name(p.passive_periode)} har "
            f"været på ydelsen i mindst 12 måneder.")
    tables = table("tabel-passivandel", ["Ydelsesgruppe", "Borgere med 12+ måneder", "Heraf passive", "Passivandel"],
                   rows)
    note = ("Passiv: ingen uge med aktivering i de sidste 52 uger af forløbet. Kun ydelser, der kan have "
            "aktivering. Kilde: DREAM (maaling_passivandel).")
    return section("passivandel", lead, chart, tables, note)


def benchmark_section(p: Published) -> str:
    b = p.benchmark
    names = {k.kommunekode: k.kommunenavn for k in kommuner()}
    name = p.kommune.kommunenavn
    latest = b[b["periode"] == p.benchmark_periode]
    recipients = latest[latest["maal"] == RECIPIENTS]
    head = recipients[recipients["ydelsesgruppe"] == TOTAL]
    row = head.iloc[0] if len(head) else None
    land = _value(row.pr_1000_land) if row is not None else None
    chart = charts.rank_chart([(names.get(r.omraade, r.omraade), float(r.pr_1000)) for r in p.ranking.itertuples()],
                              name, f"Ydelsesmodtagere pr. 1.000 16-66-årige, {month_name(p.benchmark_periode)}",
                              lambda v: fmt_dec(v, 0), ("Hele landet", land) if land is not None else None)
    if row is not None and not _missing(row.rang):
        lead = (f"I {month_name(p.benchmark_periode)} havde {escape(name)} <b>{fmt_dec(row.pr_1000)}</b> "
                f"ydelsesmodtagere pr. 1.000 16-66-årige (hele landet {fmt_dec(row.pr_1000_land)}, regionen "
                f"{fmt_dec(row.pr_1000_region)}): <b>nr. {fmt_int(row.rang)} af {fmt_int(row.antal_rangeret)}</b> "
                f"kommuner, højeste først; percentil {fmt_int(round(row.percentil * 100))} (andelen af kommunerne "
                f"med en lavere andel).")
    else:
        lead = f"I {month_name(p.benchmark_periode)} er kommunens antal ydelsesmodtagere undertrykt eller ukendt."

    groups = recipients.sort_values("ydelsesgruppe", key=lambda s: s != TOTAL, kind="stable")
    group_rows = [[r.ydelsesgruppe, fmt_int(r.antal), fmt_dec(r.pr_1000), fmt_dec(r.pr_1000_land),
                   fmt_dec(r.pr_1000_region), _rank(r), _percentile(r)]
                  for r in groups.itertuples()]
    months = b[(b["ydelsesgruppe"] == TOTAL)]
    by_month = []
    for periode, cells in months.groupby("periode", sort=True):
        m = {r.maal: r for r in cells.itertuples()}
        rec, act = m.get(RECIPIENTS), m.get(ACTIVATED)
        by_month.append([periode, *(_cells(rec) if rec else [MISSING] * 3), *(_cells(act) if act else [MISSING] * 3)])
    tables = (table("tabel-benchmark", ["Ydelsesgruppe", "Modtagere", "Pr. 1.000", "Hele landet", "Regionen", "Rang",
                                        "Percentil"], group_rows, own=[g == TOTAL for g in groups["ydelsesgruppe"]])
              + table("tabel-benchmark-maaneder", ["Måned", "Modtagere", "Pr. 1.000", "Rang", "Aktiverede",
                                                  "Pr. 1.000 (akt.)", "Rang (akt.)"], by_month))
    note = ("Rang: 1 er kommunen med flest pr. 1.000 blandt kommunerne med et offentliggjort tal samme måned; "
            "percentil 0 er laveste, 100 højeste. Kilde: DREAM (ydelsesaktivitet_benchmark_noegletal, "
            "offentliggjorte celler).")
    return section("benchmark", lead, chart, tables, note)


def _rank(r) -> str:
    return SUPPRESSED if _missing(r.rang) else f"{fmt_int(r.rang)} af {fmt_int(r.antal_rangeret)}"


def _percentile(r) -> str:
    return SUPPRESSED if _missing(r.percentil) else fmt_int(round(r.percentil * 100))


def _cells(r) -> list[str]:
    return [fmt_int(r.antal), fmt_dec(r.pr_1000), _rank(r)]


# --- the page -------------------------------------------------------------------------------------------

def headline(p: Published) -> str:
    s = p.support
    latest = s.iloc[-1] if len(s) else None
    b = p.benchmark
    total = b[(b["periode"] == p.benchmark_periode) & (b["maal"] == RECIPIENTS) & (b["ydelsesgruppe"] == TOTAL)]
    cards = []
    if latest is not None:
        cards.append(card(fmt_pct(latest.andel_af_befolkning, suppressed=latest.undertrykt),
                          f"på offentlig forsørgelse, {month_name(latest.periode)}"))
    if len(total):
        r = total.iloc[0]
        cards.append(card(fmt_dec(r.pr_1000), f"ydelsesmodtagere pr. 1.000, {month_name(p.benchmark_periode)}"))
        cards.append(card(_rank(r).replace(" af ", " / "), "rang blandt kommunerne (1 = flest)"))
    return f'<div class="cards">{"".join(cards)}</div>'


def render(p: Published, generated: dt.date | None = None,
           sections: Sequence[Callable[[Published], str]] | None = None) -> str:
    k = p.kommune
    generated = generated or dt.date.today()
    parts = sections or (support_section, status_section, duration_section, passive_section, benchmark_section)
    body = "".join(f(p) for f in parts)
    return (f'<!DOCTYPE html><html lang="da"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>DREAM kommunerapport: {escape(k.kommunenavn)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{escape(k.kommunenavn)}</h1>"
            f'<p class="sub">Kommunekode {escape(k.kommunekode)}, {escape(k.regionsnavn)}. Kommunerapport fra DREAM, '
            f"dannet {generated.isoformat()}.</p>{headline(p)}</header>{body}"
            f"<footer><p>{SUPPRESSED} = undertrykt: ingen figur viser en gruppe på færre end 5 personer, og tal, der "
            f"ville gøre det muligt at regne en sådan gruppe ud, er også undertrykt. {MISSING} = intet tal. "
            f"Kun aggregerede tabeller er brugt; ingen personoplysninger.</p>"
            f"<p>Uger hører til måneden for deres torsdag. Bopælskommune: bopælen i ugen.</p></footer>"
            f"</body></html>")

"""``_run_report.html``: the run report as one self-contained page a person can look at.

Rendered from the same document as ``_run_report.json`` (nothing is counted twice), as one
file with no network access: inline CSS, bars drawn as CSS widths, no script at all, and a
Content-Security-Policy that forbids scripts, remote images and frames, so the page can be
opened from a bucket or attached to a ticket.

Everything that came from the web (titles, URLs, feed names, error messages) is attacker
controlled: it is escaped with ``html.escape`` on the way in, links are made only for
``http(s)`` URLs, and the policy above is the second line of defence.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping
from typing import Any

MAX_BARS = 15
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'none'; base-uri 'none'; frame-ancestors 'none'"
)

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;
color:#1d2330;background:#fff;max-width:1100px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;
border-bottom:1px solid #dde2ea;padding-bottom:4px}.muted{color:#5b6577}
.ok{color:#17753a;font-weight:600}
.bad{color:#b3261e;font-weight:600}table{border-collapse:collapse;width:100%}
td,th{padding:4px 8px;border-bottom:1px solid #eef1f5;text-align:left;vertical-align:top}
th{font-weight:600;color:#39414f;background:#f6f8fb}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}.grid{display:grid;grid-template-columns:repeat(auto-fill,
minmax(330px,1fr));gap:8px 28px}.chart h3{font-size:14px;margin:14px 0 6px}
.row{display:grid;grid-template-columns:150px 1fr 48px;gap:8px;align-items:center;margin:3px 0}
.label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}.bar{background:#eef1f5;
height:14px;border-radius:3px;position:relative}.fill{display:block;height:14px;border-radius:3px;
background:#3b6fd6}.fill.warn{background:#d9822b}.fill.err{background:#c8443b}
.span{position:absolute;top:0;height:14px;border-radius:3px;background:#3b6fd6}
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #dde2ea;border-radius:6px;
padding:8px 12px;min-width:120px}.card b{display:block;font-size:20px}
code,pre{font:12px/1.4 ui-monospace,Menlo,Consolas,monospace}pre{white-space:pre-wrap;
word-break:break-all;background:#f6f8fb;padding:8px;border-radius:4px}
.url{word-break:break-all}.small{font-size:12px}tr.failing td{background:#fff4f2}
"""


def esc(value: Any) -> str:
    """Text for HTML content or a quoted attribute: every one of & < > " ' escaped."""
    return html.escape("" if value is None else str(value), quote=True)


def link(url: Any, text: Any = None) -> str:
    """A link only for http(s) URLs (never javascript:, data:, ...); otherwise plain text."""
    shown = esc(text if text not in (None, "") else url)
    value = "" if url is None else str(url)
    if value.lower().startswith(("http://", "https://")):
        return f'<a class="url" href="{esc(value)}" rel="noopener noreferrer nofollow">{shown}</a>'
    return f'<span class="url">{shown}</span>'


def bars(title: str, values: Mapping[str, int], kind: str = "") -> str:
    """A horizontal bar chart: the largest ``MAX_BARS`` values, the rest summed as 'other'."""
    items = sorted(values.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > MAX_BARS:
        rest = sum(v for _, v in items[MAX_BARS - 1 :])
        items = [*items[: MAX_BARS - 1], ("(other)", rest)]
    top = max((v for _, v in items), default=0)
    rows = []
    for label, value in items:
        width = 100.0 * value / top if top else 0.0
        rows.append(
            f'<div class="row"><span class="label" title="{esc(label)}">{esc(label)}</span>'
            f'<span class="bar"><span class="fill {kind}" style="width:{width:.1f}%"></span>'
            f'</span><span class="n">{value}</span></div>'
        )
    body = "".join(rows) or '<p class="muted">none</p>'
    return f'<div class="chart" data-chart="{esc(title)}"><h3>{esc(title)}</h3>{body}</div>'


def _table(headers: Iterable[tuple[str, bool]], rows: Iterable[Iterable[str]]) -> str:
    head = "".join(f'<th class="{"n" if n else ""}">{esc(h)}</th>' for h, n in headers)
    flags = [n for _, n in headers]
    lines = []
    for row in rows:
        cells = list(row)
        css = ""
        if cells and cells[0].startswith("\0failing"):
            css = ' class="failing"'
            cells[0] = cells[0].removeprefix("\0failing")
        lines.append(
            f"<tr{css}>"
            + "".join(
                f'<td class="{"n" if flags[i] else ""}">{cell}</td>' for i, cell in enumerate(cells)
            )
            + "</tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(lines)}</tbody></table>"


def _cards(invariant: Mapping[str, Any], report: Mapping[str, Any]) -> str:
    figures = [
        ("entries read", invariant.get("entries_read", 0)),
        ("stories", invariant.get("stories", 0)),
        ("duplicates", invariant.get("duplicates", 0)),
        ("rejected", invariant.get("rejected", 0)),
        ("dead letters", invariant.get("dead_letters", 0)),
        ("feed dead letters", report.get("feed_dead_letters", 0)),
    ]
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in figures)
        + "</div>"
    )


def _accounting(invariant: Mapping[str, Any]) -> str:
    holds = bool(invariant.get("holds"))
    equation = (
        f"entries read {esc(invariant.get('entries_read', 0))} = stories "
        f"{esc(invariant.get('stories', 0))} + duplicates {esc(invariant.get('duplicates', 0))}"
        f" + rejected {esc(invariant.get('rejected', 0))} + dead letters "
        f"{esc(invariant.get('dead_letters', 0))}"
    )
    verdict = (
        '<p class="ok">Accounting holds: every entry is a story, a duplicate, a rejection or a '
        "dead letter.</p>"
        if holds
        else '<p class="bad">ACCOUNTING FAILED</p><ul>'
        + "".join(f"<li>{esc(p)}</li>" for p in invariant.get("problems") or [])
        + "</ul>"
    )
    listed = invariant.get("entries_listed")
    if listed is not None:  # the feed reader's count, with its named skips
        skipped = invariant.get("skipped") or {}
        parts = " + ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(skipped.items()))
        equation = (
            f"entries listed {esc(listed)} = entries read {esc(invariant.get('entries_read', 0))}"
            + (f" + skipped ({parts})" if parts else "")
            + "<br>"
            + equation
        )
    return f"<p><code>{equation}</code></p>{verdict}"


def _gate(report: Mapping[str, Any]) -> str:
    """The failure gate (exit code 3): which threshold the run went past, if any."""
    gate = report.get("gate") or {}
    failures = gate.get("failures") or []
    if not failures:
        return ""
    return (
        '<p class="bad">Too much failed (exit code 3):</p><ul>'
        + "".join(f"<li>{esc(f)}</li>" for f in failures)
        + "</ul>"
    )


def _feeds(feeds: list[Mapping[str, Any]] | None) -> str:
    if feeds is None:
        return '<p class="muted">Per-feed figures are not in this report.</p>'
    if not feeds:
        return '<p class="muted">No feeds were read.</p>'
    headers = [
        ("feed", False),
        ("listed", True),
        ("stories", True),
        ("duplicates", True),
        ("rejected", True),
        ("dead letters", True),
        ("last error", False),
        ("last success", False),
    ]
    rows = []
    for feed in feeds:
        failing = bool(feed.get("dead_letters")) or bool(feed.get("last_error"))
        name = esc(feed.get("name") or feed.get("feed_url"))
        first = f"<b>{name}</b><br>{link(feed.get('feed_url'))}"
        rows.append(
            [
                ("\0failing" if failing else "") + first,
                esc(feed.get("entries_listed", 0)),
                esc(feed.get("stories", 0)),
                esc(feed.get("duplicates", 0)),
                esc(feed.get("rejected", 0)),
                esc(feed.get("dead_letters", 0)),
                f'<span class="small">{esc(feed.get("last_error") or "")}</span>',
                esc(feed.get("last_success") or ""),
            ]
        )
    return _table(headers, rows)


def _stages(stages: Mapping[str, Mapping[str, Any]]) -> str:
    active = {k: v for k, v in stages.items() if v.get("outputs")}
    if not active:
        return '<p class="muted">No stage timings in this report.</p>'
    end = max(v.get("last_output_s", 0) for v in active.values()) or 1.0
    rows = []
    for name, stage in stages.items():
        outputs = stage.get("outputs", 0)
        if outputs:
            left = min(99.0, 100.0 * stage.get("first_output_s", 0) / end)
            width = max(1.0, 100.0 * stage.get("active_s", 0) / end)
            chart = (
                f'<span class="bar"><span class="span" style="left:{left:.1f}%;'
                f'width:{min(width, 100.0 - left):.1f}%"></span></span>'
            )
            timing = f"{stage.get('first_output_s', 0):.1f} – {stage.get('last_output_s', 0):.1f} s"
        else:
            chart, timing = '<span class="bar"></span>', "–"
        rows.append(
            f'<div class="row"><span class="label">{esc(name)}</span>{chart}'
            f'<span class="n">{esc(outputs)}</span></div>'
            f'<div class="small muted" style="margin:-2px 0 4px 158px">{esc(timing)}</div>'
        )
    return (
        '<p class="small muted">Outputs of each stage and when it produced them (seconds after '
        "the first entry; stages overlap).</p>" + "".join(rows)
    )


def _clusters(clusters: list[Mapping[str, Any]]) -> str:
    if not clusters:
        return '<p class="muted">No duplicates in this run.</p>'
    parts = []
    for cluster in clusters:
        canonical = cluster.get("canonical") or {}
        copies = cluster.get("copies") or []
        title = canonical.get("title") or "(canonical written by an earlier run)"
        rows = [
            [
                f"{esc(copy.get('title'))}<br>{link(copy.get('url'))}",
                esc(copy.get("reason")),
                esc("" if copy.get("similarity") is None else f"{copy['similarity']:.3f}"),
            ]
            for copy in copies
        ]
        parts.append(
            f'<h3>{esc(title)} <span class="muted small">({len(copies)} '
            f"cop{'y' if len(copies) == 1 else 'ies'}; cluster {esc(cluster.get('cluster_id'))})"
            f'</span></h3><p class="small">canonical: {link(canonical.get("url"))}</p>'
            + _table([("copy", False), ("reason", False), ("similarity", True)], rows)
        )
    return "".join(parts)


def _retried(retried: list[Mapping[str, Any]] | None) -> str:
    if retried is None:
        return ""
    rows = []
    for item in retried:
        original = item.get("original") or {}
        rows.append(
            [
                link(item.get("url")),
                esc(item.get("outcome")),
                f"{esc(original.get('stage'))}/{esc(original.get('reason'))} at "
                f'{esc(original.get("at"))}<br><span class="small muted">'
                f"{esc(original.get('file'))}</span>",
            ]
        )
    return "<h2>Retried dead letters</h2>" + _table(
        [("entry", False), ("outcome now", False), ("original dead letter", False)], rows
    )


def _withdrawn(withdrawn: list[Mapping[str, Any]] | None) -> str:
    """Agency items their provider withdrew: what downstream systems must take down."""
    if not withdrawn:
        return ""
    rows = [
        [esc(item.get("wire_guid")), esc(item.get("story_id")), esc(item.get("at"))]
        for item in withdrawn
    ]
    return "<h2>Withdrawn agency items (take these stories down)</h2>" + _table(
        [("guid", False), ("story id", False), ("withdrawn at", False)], rows
    )


def render_html(report: Mapping[str, Any]) -> str:
    """The whole page for one ``_run_report.json`` document."""
    invariant = report.get("invariant") or {}
    run = report.get("run") or {}
    versions = report.get("versions") or {}
    holds = bool(invariant.get("holds"))
    status = (
        '<span class="ok">accounting holds</span>'
        if holds
        else '<span class="bad">accounting failed</span>'
    )
    if holds and (report.get("gate") or {}).get("failures"):
        status = '<span class="bad">too much failed</span>'

    meta = " · ".join(
        esc(part)
        for part in (
            f"run {report.get('run_id', '')}",
            f"started {run.get('started_at', '?')}",
            f"finished {run.get('finished_at', '?')}",
            f"{run.get('duration_seconds', 0)} s",
            f"output {report.get('output', '')}",
        )
    )
    version_line = " · ".join(f"{esc(k)} {esc(v)}" for k, v in sorted(versions.items()))
    dead = report.get("dead_letters_by_stage_reason") or {}
    charts = "".join(
        (
            bars("stories per language", report.get("stories_per_language") or {}),
            bars("stories per topic (best topic)", report.get("stories_per_topic") or {}),
            bars("stories per country (first place)", report.get("stories_per_country") or {}),
            bars("duplicates by reason", report.get("duplicates_by_reason") or {}),
            bars("rejections by reason", report.get("rejected_by_reason") or {}, "warn"),
            bars("dead letters by stage/reason", dead, "err"),
        )
    )
    settings = json.dumps(report.get("settings") or {}, indent=2, sort_keys=True)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>wirestream run {esc(report.get('run_id', ''))}</title>"
        f"<style>{STYLE}</style></head><body>"
        f'<h1>wirestream run report — {status}</h1><p class="muted">{meta}</p>'
        f'<p class="muted small">{version_line}</p>'
        f"<h2>Summary</h2>{_cards(invariant, report)}"
        f"<h2>Accounting check</h2>{_accounting(invariant)}{_gate(report)}"
        f"<h2>Feeds</h2>{_feeds(report.get('feeds'))}"
        f'<h2>What was written</h2><div class="grid">{charts}</div>'
        f"<h2>Stages</h2>{_stages(report.get('stages') or {})}"
        f"<h2>Largest duplicate clusters</h2>{_clusters(report.get('largest_clusters') or [])}"
        f"{_retried(report.get('retried'))}"
        f"{_withdrawn(report.get('withdrawn'))}"
        f"<h2>Settings</h2><details><summary>settings and flags of this run</summary>"
        f"<pre>{esc(settings)}</pre></details>"
        "</body></html>\n"
    )

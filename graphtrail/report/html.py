"""The report as one self-contained HTML page: the summary, each incident (path, findings, blast radius,
containment), the evidence timeline table, and the browser view of the graph embedded.

Nothing is fetched: the styles are inline and the graph view (a whole page from `graphtrail.viz.render_page`)
is embedded as an escaped `srcdoc` of a sandboxed iframe, so its scripts run apart from this page. Every string
from a log is escaped; the page itself runs no script.
"""

from __future__ import annotations

from html import escape

from graphtrail.report.model import BlastRadiusSummary, FindingReport, IncidentReport, Report

MAX_LIST = 25

_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header,main{max-width:1400px;margin:0 auto;padding:0 24px}header{padding-top:20px}
h1{font-size:22px;margin:0 0 6px}h2{font-size:18px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
section.incident{background:#fff;border:1px solid #dde1e8;border-radius:8px;padding:4px 18px 14px;margin:16px 0}
table{border-collapse:collapse;width:100%;background:#fff;font-size:12.5px}
th,td{border-bottom:1px solid #e6e9ef;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#eef1f5;position:sticky;top:0}td code,li code{word-break:break-all}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
pre{background:#f1f3f6;padding:8px;border-radius:6px;white-space:pre-wrap;word-break:break-all}
.sev{display:inline-block;padding:1px 7px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.critical{background:#b3152a}.high{background:#d9480f}.medium{background:#c79100}.low{background:#1c7ed6}
.info{background:#868e96}.refused{color:#b3152a}.muted{color:#5c6370}
.timeline{max-height:640px;overflow:auto;border:1px solid #dde1e8}
iframe.graph{width:100%;height:820px;border:1px solid #dde1e8;border-radius:8px;background:#fff}
.note{background:#fff4e6;border:1px solid #ffd8a8;padding:8px 12px;border-radius:6px}
"""


def _e(value: object) -> str:
    return escape("" if value is None else str(value), quote=True)


def _c(value: object) -> str:
    return f"<code>{_e(value)}</code>" if value not in (None, "") else '<span class="muted">—</span>'


def _sev(severity: str) -> str:
    return f'<span class="sev {_e(severity)}">{_e(severity)}</span>'


def render_html(report: Report, graph_page: str | None = None, *, graph_note: str | None = None) -> str:
    """The page. `graph_page`: the browser view's whole HTML page, embedded as is (escaped into srcdoc); when
    None, `graph_note` says why the graph is missing."""
    case = report.case
    title = report.heading
    incidents = report.counts("incidents")
    findings = report.counts("findings")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # A srcdoc frame inherits this policy: it allows the graph view's inline scripts (this page has none).
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; script-src \'unsafe-inline\'; '
        "style-src 'unsafe-inline'; img-src data:; font-src data:; connect-src 'none'; form-action 'none'; "
        "base-uri 'none'\">",
        '<meta name="referrer" content="no-referrer">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{_e(title)}</h1>",
        f'<p class="muted">{case.events:,} events, {_e(case.first_event or "—")} → {_e(case.last_event or "—")}, '
        f"accounts {', '.join(_e(a) for a in case.accounts) or '—'}; {len(report.hunts)} hunts; "
        f"{_e(report.generator)}. Times are UTC.</p>",
        "<p><b>Incidents:</b> "
        + (" ".join(f"{_sev(s)} {n}" for s, n in incidents.items() if n) or "none")
        + " &nbsp; <b>Findings:</b> "
        + (" ".join(f"{_sev(s)} {n}" for s, n in findings.items() if n) or "none")
        + f" &nbsp; <b>Events cited:</b> {len(report.events):,}"
        + (f' <span class="muted">({report.below_least} incident(s) below {_e(report.least)} not shown)</span>'
           if report.below_least else "")
        + "</p>",
        '<nav><a href="#incidents">Incidents</a> · <a href="#timeline">Evidence timeline</a> · '
        '<a href="#graph">Graph</a></nav></header><main>',
    ]  # fmt: skip
    parts.append('<h2 id="incidents">Incidents</h2>')
    if report.incidents:
        parts.append(
            "<table><tr><th>#</th><th>severity</th><th>incident</th><th>when</th><th>entry point</th>"
            "<th>findings</th></tr>"
        )
        for incident in report.incidents:
            entry = incident.entry
            where = "—" if entry is None else f"{_c(entry.principal)} {_c(entry.access_key)} from {_c(entry.source_ip)}"
            parts.append(
                f'<tr><td>{incident.number}</td><td>{_sev(incident.severity)}</td><td><a href="#{_e(incident.id)}">'
                f"{_e(incident.id)}</a> {_e(incident.title)}</td><td>{_e(incident.first_seen)} → "
                f"{_e(incident.last_seen)}</td><td>{where}</td><td>{len(incident.findings)}</td></tr>"
            )
        parts.append("</table>")
    else:
        parts.append("<p>No incident: the hunts found nothing.</p>")
    by_id = {finding.id: finding for finding in report.findings}
    for incident in report.incidents:
        parts.append(_incident(incident, by_id))
    parts.append(_timeline(report))
    parts.append('<h2 id="graph">Graph</h2>')
    if graph_page is not None:
        parts.append(
            '<p class="muted">The browser view of the case (drag, zoom, click a node or edge for its evidence). '
            "It runs in a sandboxed frame.</p>"
            f'<iframe class="graph" title="graph view" sandbox="allow-scripts" srcdoc="{_e(graph_page)}"></iframe>'
        )
    else:
        parts.append(f'<p class="note">The graph view is not included: {_e(graph_note or "not available")}.</p>')
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _incident(incident: IncidentReport, findings: dict[str, FindingReport]) -> str:
    parts = [
        f'<section class="incident" id="{_e(incident.id)}">',
        f"<h2>Incident {incident.number} {_sev(incident.severity)} {_e(incident.title)}</h2>",
        f'<p class="muted">{_e(incident.id)} · {_e(incident.first_seen)} → {_e(incident.last_seen)} · ATT&amp;CK '
        f"{_e(', '.join(incident.attack) or '—')}</p>",
        f"<p>{_e(incident.summary)}</p>",
    ]
    if incident.entry is not None:
        entry = incident.entry
        parts.append(
            f"<p><b>Entry point:</b> {_c(entry.principal)}, key {_c(entry.access_key)}, from {_c(entry.source_ip)}, "
            f"{_c(entry.action)} at {_e(entry.time)}.</p>"
        )
    parts.append(f"<h3>Attack path ({len(incident.path)} steps)</h3>")
    parts.append(
        "<table><tr><th>#</th><th>time</th><th>actor</th><th>key</th><th>IP</th><th>action</th><th>target</th>"
        "<th>result</th><th>events</th></tr>"
    )
    for hop in incident.path:
        when = _e(hop.time) if hop.count == 1 else f"{_e(hop.time)} → {_e(hop.last_time)}"
        result = f'<span class="refused">{_e(hop.result)}</span>' if hop.refused else _e(hop.result)
        more = f" +{hop.count - 1}" if hop.count > 1 else ""
        parts.append(
            f"<tr><td>{hop.number}</td><td>{when}</td><td>{_c(hop.actor)}</td><td>{_c(hop.access_key)}</td>"
            f"<td>{_c(hop.source_ip)}</td><td><b>{_e(hop.action)}</b>{' ×' + str(hop.count) if hop.count > 1 else ''}"
            f"</td><td>{_c(hop.target)}</td><td>{result}</td><td>{_c(hop.event_ids[0])}{more}</td></tr>"
        )
    parts.append("</table>")
    parts.append(f"<h3>Findings ({len(incident.findings)})</h3><ul>")
    for finding_id in incident.findings:
        finding = findings[finding_id]
        data = finding.data
        parts.append(
            f"<li>{_sev(finding.severity)} <b>{_e(finding.title)}</b> {_c(finding.id)}<br>"
            f'<span class="muted">{_e(data["category"])} · confidence {data["confidence"]:.1f} · ATT&amp;CK '
            f"{_e(', '.join(data['attack']))}</span><br>{_e(data['narrative'])}</li>"
        )
    parts.append("</ul>")
    if incident.blast_radius is not None:
        parts.append(_blast_radius(incident.blast_radius))
    parts.append(f"<h3>Containment ({len(incident.containment)} steps)</h3>")
    if not incident.containment:
        parts.append('<p class="muted">No step proposed (below medium severity, or nothing concrete to undo).</p>')
    parts.append("<ol>")
    for step in incident.containment:
        commands = f"<pre>{_e(chr(10).join(step.commands))}</pre>" if step.commands else ""
        evidence = ", ".join(_c(e) for e in step.event_ids[:3]) + (
            f" +{len(step.event_ids) - 3}" if len(step.event_ids) > 3 else ""
        )
        parts.append(
            f"<li><b>{_e(step.title)}</b><br>{_e(step.why)}"
            + (f'<br><span class="muted">Evidence: {evidence}</span>' if step.event_ids else "")
            + f"{commands}</li>"
        )
    parts.append("</ol></section>")
    return "\n".join(parts)


def _blast_radius(radius: BlastRadiusSummary) -> str:
    rows = [
        f"<h3>Blast radius</h3><p>From {_e(radius.since)}: {radius.events:,} call(s) by "
        f"{', '.join(_c(k) for k in radius.subjects)} and the keys they minted or created (every use of those keys, "
        "the attacker's and any legitimate use alike).</p><ul>"
    ]
    if radius.created:
        rows.append(
            "<li><b>Created or taken over:</b> "
            + "; ".join(f"{_e(c.time)} {_e(c.action)} → {_c(c.target)}" for c in radius.created[:MAX_LIST])
            + "</li>"
        )
    if radius.roles:
        rows.append("<li><b>Roles reached:</b> " + ", ".join(_c(r) for r, _ in radius.roles[:MAX_LIST]) + "</li>")
    rows.append(f"<li><b>Keys reached:</b> {len(radius.keys)}; <b>principals acting:</b> {len(radius.principals)}</li>")
    if radius.resources:
        rows.append(
            "<li><b>Resources</b> (busiest first): "
            + "; ".join(
                f"{_c(r.resource)} {r.count:,} ({_e(', '.join(f'{a} ×{n}' for a, n in r.actions[:4]))})"
                for r in radius.resources[:MAX_LIST]
            )
            + (f" … {len(radius.resources) - MAX_LIST} more" if len(radius.resources) > MAX_LIST else "")
            + "</li>"
        )
    rows.append("</ul>")
    return "".join(rows)


def _timeline(report: Report) -> str:
    parts = [
        f'<h2 id="timeline">Evidence timeline ({len(report.events):,} events)</h2>',
        '<div class="timeline"><table><tr><th>time</th><th>event</th><th>actor</th><th>key</th><th>IP</th>'
        "<th>target</th><th>result</th><th>incident</th><th>findings</th><th>event id</th></tr>",
    ]
    for event in report.events:
        result = f'<span class="refused">{_e(event.error_code)}</span>' if event.error_code else "ok"
        parts.append(
            f"<tr><td>{_e(event.time)}</td><td>{_e(event.name)}</td><td>{_c(event.actor)}</td>"
            f"<td>{_c(event.access_key)}</td><td>{_c(event.source_ip)}</td><td>{_c(event.target)}</td>"
            f"<td>{result}</td><td>{_e(' '.join(event.incidents))}</td><td>{_e(' '.join(event.findings))}</td>"
            f"<td>{_c(event.event_id)}</td></tr>"
        )
    parts.append("</table></div>")
    return "\n".join(parts)

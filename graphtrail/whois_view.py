"""Terminal rendering of a `WhoisReport`; every string from a log is printed as text, never as markup."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from graphtrail.lineage import KeyLineage
from graphtrail.whois import WhoisReport


def _line(label: str, value: object) -> Text:
    text = Text()
    text.append(f"{label}: ", style="bold")
    text.append("-" if value in (None, "", []) else str(value))
    return text


def _hop(hop: KeyLineage) -> Text:
    text = Text()
    text.append(hop.access_key_id, style="bold")
    if not hop.resolved:
        text.append(" ← origin unknown (no issuing event in the case)")
        return text
    text.append(f" ← {hop.via or 'minted'} by ")
    text.append(hop.issuer or "?")
    if hop.issuer_key:
        text.append(f" with key {hop.issuer_key}")
    if hop.time:
        text.append(f" at {hop.time}")
    if hop.source_ip:
        text.append(f" from {hop.source_ip}")
    text.append(f"  [{hop.method}" + (f", event {hop.event_id}]" if hop.event_id else "]"))
    return text


def print_whois(console: Console, report: WhoisReport) -> None:
    console.print(_line(report.kind, report.subject))
    if report.name and report.name != report.subject:
        console.print(_line("name", report.name))
    if report.kind != "IP":
        console.print(_line("account", report.account))
    if report.acts_as:
        console.print(_line("acts as", report.acts_as))
    console.print(_line("first seen", report.first_seen))
    console.print(_line("last seen", report.last_seen))
    console.print(_line("events", f"{report.event_count:,}"))
    if report.keys:
        console.print(_line("keys", ", ".join(report.keys)))
    if report.sessions:
        console.print(_line("sessions", ", ".join(report.sessions[:20])))
    if report.kind == "IP":
        console.print(_line("owner", report.ip_owners.get(report.subject)))
        if report.seen_with:
            console.print(Text("used by:", style="bold"))
            for who, kind, count in report.seen_with:
                console.print(Text(f"  {who} ({kind}), {count:,} calls"))
    else:
        ips = [f"{ip} ({report.ip_owners[ip]})" if ip in report.ip_owners else ip for ip in report.source_ips]
        console.print(_line("source IPs", ", ".join(ips)))
        console.print(_line("user agents", "; ".join(report.user_agents[:10])))
    if report.chain:
        console.print(Text("lineage (newest first):", style="bold"))
        for hop in report.chain:
            console.print(Text("  ") + _hop(hop))
        console.print(_line("origin", report.long_term_origin))
    if report.actions:
        console.print(Text("what it did:", style="bold"))
        for action in report.actions:
            text = Text(f"  {action.first_seen}  ")
            text.append(action.name, style="bold")
            text.append(f" x{action.count}")
            if action.errors:
                text.append(f" ({action.errors} failed)", style="red")
            if action.last_seen != action.first_seen:
                text.append(f", last {action.last_seen}")
            if action.targets:
                text.append(" -> " + ", ".join(action.targets))
            console.print(text)
    if report.minted_keys:
        console.print(Text("what it minted:", style="bold"))
        for hop in report.minted_keys:
            console.print(Text("  ") + _hop(hop))

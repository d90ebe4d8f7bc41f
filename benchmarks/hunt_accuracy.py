"""How well the hunts find what is known to be there, and how much else they flag. Prints Markdown tables.

    .venv/bin/python benchmarks/hunt_accuracy.py [--events 200000] [--days 7] [--seed 3] [--workdir /tmp/gt-acc]

(a) Simulator ground truth: per attack, the share of its steps' events that findings cover, whether one
    incident holds the whole chain (entry key to impact), and the worst severity; per decoy, whether any
    finding at medium or above rests on it.
(b) Invictus IR dataset (real detonations of ~32 Stratus Red Team techniques, labelled per session from the
    tool's user agent): per session, which hunts fired on its events.
(c) Panther's labelled rule tests (single events that their rules should or should not fire on): per hunt
    family, findings on positive and on negative events.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from graphtrail.case import Case  # noqa: E402
from graphtrail.findings import Finding, Severity  # noqa: E402
from graphtrail.hunts import hunt_report  # noqa: E402
from graphtrail.hunts.context import HuntContext  # noqa: E402
from graphtrail.ingest import ingest_paths  # noqa: E402
from graphtrail.simulate import SimulationConfig, simulate  # noqa: E402

DATA = ROOT / "tests" / "data" / "cloudtrail"
INVICTUS = DATA / "invictus-ir-aws-dataset"
PANTHER = DATA / "panther-analysis" / "rule_tests_cloudtrail.jsonl"


def _hunt(case_path: Path) -> tuple[list[Finding], Any, float]:
    started = time.perf_counter()
    with Case(case_path) as case:
        report = hunt_report(HuntContext(case))
    return report.findings, report, time.perf_counter() - started


def simulator(workdir: Path, events: int, days: int, seed: int) -> None:
    out = workdir / "sim"
    shutil.rmtree(out, ignore_errors=True)
    simulate(SimulationConfig(out=out, seed=seed, days=days, events=events))
    case_path = workdir / "sim.case"
    case_path.unlink(missing_ok=True)
    ingest_paths([str(out)], case_path)
    truth = orjson.loads((out / "ground_truth.json").read_bytes())
    findings, report, seconds = _hunt(case_path)
    print(f"\n### (a) Simulator: seed {seed}, {days} days, {events:,} events; hunts took {seconds:.1f} s\n")
    print("| attack | steps' events covered | one incident holds the chain | worst severity | hunts that fired |")
    print("|---|---|---|---|---|")
    for story in truth["scenarios"]:
        wanted = {e for step in story["steps"] for e in step["event_ids"]}
        hits = [f for f in findings if wanted & set(f.event_ids)]
        covered = wanted & {e for f in hits for e in f.event_ids}
        incidents = [i for i in report.incidents if wanted & {e for f in i.findings for e in f.event_ids}]
        whole = any(
            {e for f in i.findings for e in f.event_ids} >= _chain_ends(story) for i in incidents
        )  # entry and impact
        worst = str(max((f.severity for f in hits), default="none"))
        names = ", ".join(sorted({f.hunt for f in hits})) or "-"
        print(f"| {story['name']} | {len(covered)}/{len(wanted)} | {'yes' if whole else 'no'} | {worst} | {names} |")
    print("\n| decoy | imitates | flagged at medium or above | findings resting on it (severity) |")
    print("|---|---|---|---|")
    for story in truth["decoys"]:
        wanted = {e for step in story["steps"] for e in step["event_ids"]}
        hits = [f for f in findings if wanted & set(f.event_ids)]
        flagged = any(f.severity >= Severity.MEDIUM for f in hits)
        detail = ", ".join(sorted({f"{f.hunt} ({f.severity})" for f in hits})) or "-"
        print(f"| {story['name']} | {story['imitates']} | {'YES' if flagged else 'no'} | {detail} |")
    attack_events = {e for s in truth["scenarios"] for step in s["steps"] for e in step["event_ids"]}
    decoy_events = {e for s in truth["decoys"] for step in s["steps"] for e in step["event_ids"]}
    elsewhere = [f for f in findings if not set(f.event_ids) & (attack_events | decoy_events)]
    by_severity = defaultdict(int)
    for finding in elsewhere:
        by_severity[str(finding.severity)] += 1
    print(
        f"\nFindings on baseline activity only (no attack or decoy step among their events): {len(elsewhere)} "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_severity.items())) or 'none'}); "
        f"{len(findings)} findings in {len(report.incidents)} incidents in all."
    )


def _chain_ends(story: dict[str, Any]) -> set[str]:
    """The first and last steps' events: a chain is whole when one incident holds its entry and its impact."""
    steps = story["steps"]
    return set(steps[0]["event_ids"]) | set(steps[-1]["event_ids"])


def invictus(workdir: Path) -> None:
    case_path = workdir / "invictus.case"
    case_path.unlink(missing_ok=True)
    ingest_paths([str(INVICTUS / "CloudTrail")], case_path)
    findings, _, seconds = _hunt(case_path)
    sessions: dict[str, set[str]] = defaultdict(set)
    hints: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for line in (INVICTUS / "labels_derived.jsonl").read_text().splitlines():
        label = orjson.loads(line)
        if label.get("stratus_session"):
            session = label["stratus_session"]
            sessions[session].add(label["eventID"])
            hints[session].update(label["resource_hints"])
            names[session].add(label["eventName"])
    warmups = [s for s in sessions if names[s] <= {"DescribeAccountAttributes", "GetCallerIdentity"}]
    for session in warmups:  # the tool checking its credentials before a technique: nothing to find
        del sessions[session]
    labels = {session: _session_label(hints[session], names[session]) for session in sessions}
    print(
        f"\n### (b) Invictus IR dataset: {len(sessions)} Stratus sessions (and {len(warmups)} that only checked "
        f"credentials); hunts took {seconds:.1f} s\n"
    )
    print("| Stratus session | events | hunts that fired on them (worst severity) |")
    print("|---|---|---|")
    found = found_without_tooling = 0
    for session, events in sorted(sessions.items(), key=lambda item: (labels[item[0]], item[0])):
        hits = [f for f in findings if events & set(f.event_ids)]
        found += bool(hits)
        found_without_tooling += any(f.hunt != "attacker-tooling" for f in hits)
        worst: dict[str, Severity] = {}
        for f in hits:
            worst[f.hunt] = max(worst.get(f.hunt, Severity.INFO), f.severity)
        text = ", ".join(f"{h} ({s})" for h, s in sorted(worst.items())) or "-"
        print(f"| {labels[session]} ({session[:8]}) | {len(events)} | {text} |")
    print(
        f"\nSessions with at least one finding: {found}/{len(sessions)}; leaving out attacker-tooling (which "
        f"recognises Stratus's own user agent): {found_without_tooling}/{len(sessions)}."
    )


def _session_label(hints: set[str], names: set[str]) -> str:
    """What a Stratus session did: its resources' common name, else the API calls it made."""
    stems = sorted(hint.removeprefix("stratus-red-team-") for hint in hints)
    if stems:
        return min(stems, key=len)
    return ", ".join(sorted(names)[:3]) + (" …" if len(names) > 3 else "")


def panther(workdir: Path) -> None:
    tests = [orjson.loads(line) for line in PANTHER.read_text().splitlines()]
    logs = workdir / "panther.jsonl"
    positives: set[str] = set()
    negatives: set[str] = set()
    with logs.open("wb") as handle:
        for index, test in enumerate(tests):
            record = dict(test["log"])
            record["eventID"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"panther-test-{index}"))  # tests reuse ids
            (positives if test["expected_result"] else negatives).add(record["eventID"])
            handle.write(orjson.dumps(record) + b"\n")
    case_path = workdir / "panther.case"
    case_path.unlink(missing_ok=True)
    summary = ingest_paths([str(logs)], case_path)
    findings, _, seconds = _hunt(case_path)
    print(
        f"\n### (c) Panther rule tests: {len(positives)} positive and {len(negatives)} negative events "
        f"({summary.records_rejected} of them are partial records that ingest rejects); hunts took {seconds:.1f} s\n"
    )
    print("| hunt family | positives with a finding | negatives with a finding (medium or above) |")
    print("|---|---|---|")
    families: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        families[_family(f.hunt)].append(f)
    for family, hits in sorted(families.items()):
        events = {e for f in hits for e in f.event_ids}
        loud = {e for f in hits if f.severity >= Severity.MEDIUM for e in f.event_ids}
        print(f"| {family} | {len(events & positives)} | {len(events & negatives)} ({len(loud & negatives)}) |")
    events = {e for f in findings for e in f.event_ids}
    print(
        f"\nAny hunt: {len(events & positives)}/{len(positives)} positives, "
        f"{len(events & negatives)}/{len(negatives)} negatives."
    )


def _family(hunt: str) -> str:
    from graphtrail.hunts import all_hunts

    return next((spec.family for spec in all_hunts() if spec.name == hunt), hunt)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/gt-acc"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    simulator(args.workdir, args.events, args.days, args.seed)
    invictus(args.workdir)
    panther(args.workdir)


if __name__ == "__main__":
    main()

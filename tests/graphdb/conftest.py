"""A real Neo4j for the Neo4j tests, and the cases they load.

NEO4J_URI (with NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE if needed) points the tests at a server you run;
the tests delete graphtrail's nodes (label GT) in that database, so give them a scratch one. Without it the
launcher (tests/neo4j_launcher, Neo4j's own test harness) is built with Maven if needed and started once per
session on a free port of 127.0.0.1. When CI is set and no server can be had, the tests fail; elsewhere a
missing Java or Maven skips them with the reason.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import neo4j
import orjson
import pytest

from graphtrail.case import Case
from graphtrail.graphdb.connection import open_driver, settings_from
from graphtrail.graphdb.load import wipe
from graphtrail.hunts import hunt_report
from graphtrail.hunts.context import HuntContext
from graphtrail.ingest import ingest_paths
from graphtrail.simulate import SimulationConfig, simulate

ROOT = Path(__file__).resolve().parents[2]
LAUNCHER = ROOT / "scripts" / "neo4j-launcher"
START_TIMEOUT = 300  # seconds: a cold JVM on a busy 2-core machine


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"no Neo4j for the tests (CI is set, so this fails rather than skips): {reason}")
    pytest.skip(f"no Neo4j for the tests: {reason}; set NEO4J_URI or install Java 17+ and Maven")


@pytest.fixture(scope="session")
def neo4j_uri() -> Iterator[str]:
    if os.environ.get("NEO4J_URI"):
        yield os.environ["NEO4J_URI"]
        return
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        _unavailable(f"{' and '.join(missing)} not found")
    build = subprocess.run([str(LAUNCHER), "build"], capture_output=True, text=True, timeout=1800)
    if build.returncode != 0:
        _unavailable(f"the launcher did not build: {build.stderr[-2000:]}")
    process = subprocess.Popen(
        [str(LAUNCHER), "start", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = process.stdout
    threading.Thread(target=lambda: lines.put(reader.readline()), daemon=True).start()
    try:
        uri = lines.get(timeout=START_TIMEOUT).strip()
    except queue.Empty:
        uri = ""
    if not uri.startswith("bolt://"):
        process.kill()
        _unavailable(f"the launcher printed no bolt URI within {START_TIMEOUT} s (exit code {process.poll()})")
    try:
        yield uri
    finally:
        assert process.stdin is not None
        process.stdin.close()  # the launcher stops when its stdin closes
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="session")
def driver(neo4j_uri: str) -> Iterator[neo4j.Driver]:
    connected = open_driver(settings_from(uri=neo4j_uri))
    yield connected
    connected.close()


@pytest.fixture
def graph_db(driver: neo4j.Driver) -> neo4j.Driver:
    """The driver, with no graphtrail node in the database (each test loads what it needs)."""
    with driver.session(database=settings_from().database) as session:
        wipe(session)
    return driver


@pytest.fixture(scope="module")
def loaded(driver: neo4j.Driver, simulated: SimulatedCase) -> neo4j.Driver:
    """The driver, with the simulated case loaded (once per test module)."""
    from graphtrail.graphdb.load import load_case

    with driver.session(database=settings_from().database) as session:
        wipe(session)
    with Case(simulated.path) as case:
        load_case(driver, case, database=settings_from().database)
    return driver


def count(driver: neo4j.Driver, query: str, **params: Any) -> int:
    record = driver.execute_query(query, params, database_=settings_from().database).records[0]
    return int(record[0])


# -- cases -----------------------------------------------------------------------------------------------------


@dataclass
class SimulatedCase:
    path: Path
    trail: Path
    truth: dict[str, Any]
    report: dict[str, Any]  # `graphtrail hunt --json` of the case: the networkx hunts' findings

    def story(self, name: str) -> dict[str, Any]:
        return next(s for s in self.truth["scenarios"] + self.truth["decoys"] if s["name"] == name)


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> SimulatedCase:
    """The hunt tests' simulated organisation (tests/hunts/conftest.py: seed 2, 3 days, 30k events, every
    attack and decoy), with the networkx hunts run on it once."""
    root = tmp_path_factory.mktemp("graphdb-sim")
    out = root / "trail"
    simulate(SimulationConfig(out=out, seed=2, days=3, events=30_000))
    case_path = root / "sim.case"
    ingest_paths([str(out)], case_path, workers=1)
    with Case(case_path) as case:
        report = hunt_report(HuntContext(case)).as_dict()
    return SimulatedCase(case_path, out, orjson.loads((out / "ground_truth.json").read_bytes()), report)


def loaded_graph(driver: neo4j.Driver) -> tuple[dict[str, str], dict[tuple[str, str, str], str]]:
    """What Neo4j holds: node key -> gt_hash, (src, action, dst) -> gt_hash (the hash covers every property)."""
    database = settings_from().database
    nodes = driver.execute_query("MATCH (n:GT) RETURN n.key AS key, n.gt_hash AS hash", database_=database).records
    rels = driver.execute_query(
        "MATCH (a:GT)-[r]->(b:GT) RETURN a.key AS src, r.action AS action, b.key AS dst, r.gt_hash AS hash",
        database_=database,
    ).records
    return {r["key"]: r["hash"] for r in nodes}, {(r["src"], r["action"], r["dst"]): r["hash"] for r in rels}


def case_graph(case_path: Path) -> tuple[dict[str, str], dict[tuple[str, str, str], str]]:
    """The same, computed from the case: what a correct load leaves in Neo4j."""
    from graphtrail.graphdb.load import edge_row, node_row

    with Case(case_path) as case:
        logged = frozenset(
            a for (a,) in case.db.execute("SELECT DISTINCT account FROM events WHERE account IS NOT NULL")
        )
        nodes = {row.key: row.hash for row in (node_row(n, logged) for n in case.node_states())}
        edges = {row.identity: row.hash for row in map(edge_row, case.edge_states(include_derived=True))}
    return nodes, edges


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"Records": records}))
    return path


def assume_role_record(
    event_id: str,
    time: str,
    *,
    session_name: str = "deploy",
    event_name: str = "AssumeRole",
    caller_key: str = "AKIAEXAMPLE000000001",
    new_key: str = "ASIAEXAMPLE000000001",
    ip: str = "203.0.113.10",
    user_agent: str = "aws-cli/2.13.0",
) -> dict[str, Any]:
    """An AssumeRole by an IAM user (a real record's shape, values invented), naming the key it returned."""
    account = "111122223333"
    role = f"arn:aws:iam::{account}:role/deployer"
    return {
        "eventVersion": "1.08",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE000000001",
            "arn": f"arn:aws:iam::{account}:user/alice",
            "accountId": account,
            "accessKeyId": caller_key,
            "userName": "alice",
        },
        "eventTime": time,
        "eventSource": "sts.amazonaws.com",
        "eventName": event_name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": ip,
        "userAgent": user_agent,
        "requestParameters": {"roleArn": role, "roleSessionName": session_name, "durationSeconds": 900},
        "responseElements": {
            "credentials": {"accessKeyId": new_key, "expiration": "Jul 10, 2023, 12:09:47 PM"},
            "assumedRoleUser": {
                "assumedRoleId": f"AROAEXAMPLE000000001:{session_name}",
                "arn": f"arn:aws:sts::{account}:assumed-role/deployer/{session_name}",
            },
        },
        "requestID": event_id,
        "eventID": event_id,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": account,
        "eventCategory": "Management",
    }

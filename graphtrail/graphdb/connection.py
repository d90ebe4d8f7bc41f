"""Where the Neo4j server is and how to sign in: options first, then NEO4J_URI / NEO4J_USER / NEO4J_PASSWORD.

The password is held apart from everything that gets printed: it is not in the settings' repr, and driver
errors are scrubbed of it before they become a `Neo4jConnectionError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import neo4j
from neo4j.exceptions import AuthError, DriverError, Neo4jError, ServiceUnavailable

from graphtrail.errors import GraphtrailError

log = logging.getLogger(__name__)

DEFAULT_URI = "bolt://127.0.0.1:7687"
DEFAULT_USER = "neo4j"
SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")


class Neo4jConnectionError(GraphtrailError):
    """The server cannot be reached, refuses the credentials, or rejects a statement."""


@dataclass(frozen=True)
class Neo4jSettings:
    uri: str = DEFAULT_URI
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None

    @property
    def auth(self) -> tuple[str, str] | None:
        """None (a server with authentication off, like the test launcher) unless a password is known."""
        if self.password is None:
            return None
        return (self.user or DEFAULT_USER, self.password)

    def scrub(self, text: str) -> str:
        """`text` with the password blanked out, for anything that may be shown or logged."""
        return text.replace(self.password, "***") if self.password else text


def settings_from(
    uri: str | None = None,
    user: str | None = None,
    database: str | None = None,
    password: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Neo4jSettings:
    """Settings from explicit values, falling back to the environment (NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD,
    NEO4J_DATABASE). The password is never an option: callers pass what they read from the environment or a
    prompt."""
    env = os.environ if environ is None else environ
    chosen_uri = uri or env.get("NEO4J_URI") or DEFAULT_URI
    scheme = chosen_uri.split("://", 1)[0].lower() if "://" in chosen_uri else ""
    if scheme not in SCHEMES:
        raise Neo4jConnectionError(
            f"unsupported Neo4j URI {chosen_uri!r}: use one of {', '.join(s + '://' for s in SCHEMES)}"
        )
    return Neo4jSettings(
        uri=chosen_uri,
        user=user or env.get("NEO4J_USER") or None,
        password=password if password is not None else env.get("NEO4J_PASSWORD"),
        database=database or env.get("NEO4J_DATABASE") or None,
    )


def open_driver(settings: Neo4jSettings) -> neo4j.Driver:
    """A driver that has reached the server; errors name the URI and never the password."""
    try:
        driver = neo4j.GraphDatabase.driver(settings.uri, auth=settings.auth, notifications_min_severity="OFF")
    except (DriverError, ValueError) as exc:
        raise Neo4jConnectionError(f"cannot use Neo4j at {settings.uri}: {settings.scrub(str(exc))}") from None
    try:
        driver.verify_connectivity()
    except AuthError:
        driver.close()
        who = settings.user or DEFAULT_USER
        raise Neo4jConnectionError(
            f"Neo4j at {settings.uri} refused the credentials of user {who!r} (set NEO4J_PASSWORD)"
        ) from None
    except (ServiceUnavailable, DriverError, Neo4jError, OSError) as exc:
        driver.close()
        raise Neo4jConnectionError(f"cannot reach Neo4j at {settings.uri}: {settings.scrub(str(exc))}") from None
    log.info("connected to Neo4j at %s", settings.uri)
    return driver

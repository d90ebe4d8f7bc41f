"""Sign-in: the root user at work, console passwords used without MFA, and password guessing that got in.

ConsoleLogin is read through the action table's facts (`login_result`, `mfa_used`). Identity Center and SAML
sign-ins are role sessions whose MFA the identity provider enforces; their MFAUsed is No even when MFA was
required (reference section 3.3), so only IAM users' and root's password sign-ins are judged on it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence

from graphtrail.cloudtrail.timeparse import shift_time
from graphtrail.findings import Finding, Hop, Severity
from graphtrail.hunts import HuntSpec
from graphtrail.hunts.common import (
    ADDITIONAL_CLOUD_CREDENTIALS,
    BRUTE_FORCE,
    PASSWORD_GUESSING,
    VALID_CLOUD_ACCOUNTS,
    address_known,
    bursts,
    finding_from,
    is_new_address,
)
from graphtrail.hunts.context import HuntContext, HuntEvent, seconds_between

ROOT_SESSION_GAP = 3 * 3600  # root calls closer than this are one session (root is rarely used at all)
FAILURE_WINDOW = 3600  # refused sign-ins this long before a success are one guessing run
SLOW_FAILURE_WINDOW = 7 * 86400  # slower guessing counts from the same address against the same user
MIN_FAILURES = 3
RESET_WINDOW = 86400  # a password set by someone else this long before the sign-in
FOLLOW_UP = 3600
HIDDEN_USER = "HIDDEN_DUE_TO_SECURITY_REASONS"  # CloudTrail's name for a user name that does not exist

# Changes that hand out or keep access, or blind the defenders: what makes root use critical.
SENSITIVE = frozenset(
    {"CreateAccessKey", "UpdateAccessKey", "CreateLoginProfile", "UpdateLoginProfile", "CreateUser",
     "AttachUserPolicy", "PutUserPolicy", "AttachRolePolicy", "PutRolePolicy", "AttachGroupPolicy",
     "PutGroupPolicy", "AddUserToGroup", "CreateRole", "UpdateAssumeRolePolicy", "DeactivateMFADevice",
     "DeleteVirtualMFADevice", "CreateVirtualMFADevice", "EnableMFADevice", "PasswordUpdated", "ChangePassword",
     "GetFederationToken", "GetSessionToken", "StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors",
     "DeleteDetector", "LeaveOrganization", "CreateSAMLProvider", "CreateOpenIDConnectProvider"}
)  # fmt: skip
# Documented tasks that need the root user (account settings, contacts, Regions), and AWS acting as root.
BENIGN_ROOT_TASKS = frozenset(
    {"ConsoleLogin", "CheckMfa", "CreateServiceLinkedRole", "PutAlternateContact", "DeleteAlternateContact",
     "PutContactInformation", "SetContactAddress", "SetSecurityQuestions", "UpdateAccountName", "EnableRegion",
     "DisableRegion", "PutAccountSetting", "AcceptAgreement"}
)  # fmt: skip
_READ_PREFIXES = ("List", "Describe", "Get", "Head", "Lookup", "Search", "Check")


# --- root-use --------------------------------------------------------------------------------------------------


def root_use(context: HuntContext) -> Iterator[Finding]:
    events = list(context.events(where="actor_kind='Root'"))
    for run in bursts(events, ROOT_SESSION_GAP, key=lambda event: event.row.actor):
        yield _root_finding(context, run)


def _root_finding(context: HuntContext, run: list[HuntEvent]) -> Finding:
    actor = run[0].row.actor
    account = run[0].row.account or actor.split(":")[4]
    logins = [event for event in run if event.row.name == "ConsoleLogin"]
    signed_in = [event for event in logins if not event.failed]
    refused_logins = [event for event in logins if event.failed]
    succeeded = [event for event in run if not event.failed]
    no_mfa = [event for event in signed_in if event.facts.get("mfa_used") is False]
    keyed = [event for event in succeeded if (event.row.access_key or "").startswith("AKIA")]
    sensitive = [event for event in succeeded if event.row.name in SENSITIVE]
    writes = [event for event in succeeded if not _read_only(event) and event.row.name not in BENIGN_ROOT_TASKS]
    new_ips = _new_addresses(context, actor, run)
    if not succeeded:
        severity, confidence = Severity.LOW, 0.5
    elif sensitive and (no_mfa or new_ips or keyed):
        severity, confidence = Severity.CRITICAL, 0.9
    elif sensitive or no_mfa or keyed:
        severity, confidence = Severity.HIGH, 0.8
    elif writes and new_ips:
        severity, confidence = Severity.HIGH, 0.7
    elif writes or (signed_in and new_ips):
        severity, confidence = Severity.MEDIUM, 0.6
    else:
        severity, confidence = Severity.LOW, 0.5

    sentences = [f"The root user of account {account} acted between {run[0].time} and {run[-1].time}."]
    if refused_logins:
        sentences.append(f"{len(refused_logins)} console sign-in(s) as root were refused ({_ips(refused_logins)}).")
    for login in signed_in:
        mfa = {True: "with MFA", False: "WITHOUT MFA"}.get(login.facts.get("mfa_used"), "(MFA not recorded)")
        sentences.append(f"Console sign-in at {login.time} from {login.row.source_ip} {mfa}.")
    if sensitive:
        steps = "; ".join(f"{e.row.name} at {e.time} on {e.target}" for e in sensitive[:8])
        sentences.append(f"It then changed access or logging: {steps}.")
    elif writes:
        sentences.append(f"It made changes: {_names(writes)}.")
    if keyed:
        keys = sorted({e.row.access_key for e in keyed if e.row.access_key})
        sentences.append(
            f"Root access key(s) {', '.join(keys)} were used ({_ips(keyed)}) for {len(keyed)} call(s): "
            f"{_names(keyed)}. Root should have no access keys at all."
        )
    if new_ips:
        sentences.append(f"Address(es) never seen for root before: {', '.join(new_ips)}.")
    if severity == Severity.LOW and succeeded:
        sentences.append("Only reads and documented root-only account tasks: likely routine; confirm with the owner.")
    techniques = [VALID_CLOUD_ACCOUNTS] + ([ADDITIONAL_CLOUD_CREDENTIALS] if sensitive else [])
    if succeeded:
        title = (
            "Root user "
            + ("signed in without MFA" if no_mfa else "used")
            + (" and changed access" if sensitive else "")
        )
    else:
        title = "Refused root sign-in or call"
    return finding_from(
        context, "root-use", "initial-access:root-use", title, severity, confidence, techniques, run,
        " ".join(sentences), hops=_root_hops(run),
    )  # fmt: skip


def _read_only(event: HuntEvent) -> bool:
    if event.event.read_only is not None:
        return event.event.read_only
    return event.row.name.startswith(_READ_PREFIXES)


def _root_hops(run: Sequence[HuntEvent]) -> list[Hop]:
    """Each sign-in and change as its own hop; reads grouped by name, so a long console session stays short."""
    hops: list[Hop] = []
    reads: dict[str, list[HuntEvent]] = defaultdict(list)
    for event in run:
        if _read_only(event) and event.row.name not in ("ConsoleLogin", "CheckMfa"):
            reads[event.row.name].append(event)
        else:
            refused = f" (refused: {event.row.error_code})" if event.failed else ""
            hops.append(event.hop(action=event.row.name + refused))
    for name, group in reads.items():
        first = group[0]
        hops.append(Hop(first.row.actor, name, first.target, first.time, tuple(e.id for e in group),
                        first.row.source_ip, first.row.access_key))  # fmt: skip
    return hops


# --- console-login-without-mfa ---------------------------------------------------------------------------------


def console_login_without_mfa(context: HuntContext) -> Iterator[Finding]:
    logins = [
        event
        for event in context.events(
            where="name='ConsoleLogin' AND error_code IS NULL AND actor_kind IN ('User','Root')"
        )
        if event.facts.get("mfa_used") is False and not _federated(event)
    ]
    groups: dict[tuple[str, str | None], list[HuntEvent]] = defaultdict(list)
    for login in logins:
        groups[(login.row.actor, login.row.source_ip)].append(login)
    resets = _password_resets(context)
    for (actor, ip), group in groups.items():
        yield _no_mfa_finding(context, actor, ip, group, resets.get(actor, []))


def _federated(login: HuntEvent) -> bool:
    """A SAML sign-in to an IAM user's console (Panther's case): the identity provider handles MFA."""
    return bool(login.event.additional.text("SamlProviderArn"))


def _password_resets(context: HuntContext) -> dict[str, list[HuntEvent]]:
    """Console passwords set for a user by someone else, by the user they were set for."""
    found: dict[str, list[HuntEvent]] = defaultdict(list)
    for event in context.events(["CreateLoginProfile", "UpdateLoginProfile"], where="error_code IS NULL"):
        if event.facts.get("for_other_user") and event.target:
            found[event.target].append(event)
    return found


def _no_mfa_finding(
    context: HuntContext, actor: str, ip: str | None, logins: list[HuntEvent], resets: list[HuntEvent]
) -> Finding:
    first = logins[0]
    root = first.row.actor_kind == "Root"
    new = is_new_address(context, ip, first.row.access_key, during=(first.time, first.time), principal=actor)
    reset_before = [
        reset for reset in resets
        if any(0 <= seconds_between(reset.time, login.time) <= RESET_WINDOW for login in logins)
    ]  # fmt: skip
    if reset_before:
        severity, confidence = Severity.HIGH, 0.85
    elif root:
        severity, confidence = Severity.HIGH, 0.8
    elif new:
        severity, confidence = Severity.MEDIUM, 0.6
    else:
        severity, confidence = Severity.LOW, 0.4
    who = f"The root user of account {first.row.account}" if root else actor
    times = first.time if len(logins) == 1 else f"{len(logins)} times between {first.time} and {logins[-1].time}"
    sentences = [f"{who} signed in to the console with a password and no MFA from {ip}, {times}."]
    if new:
        sentences.append(f"{ip} was never seen for this principal before.")
    else:
        sentences.append(f"{ip} is an address this principal used before.")
    for reset in reset_before:
        sentences.append(
            f"Its console password was set by {reset.row.actor} ({reset.row.name} at {reset.time}, from "
            f"{reset.row.source_ip}) shortly before: someone else may now hold it."
        )
    sentences.append(_then(context, actor, logins[-1].time))
    techniques = [VALID_CLOUD_ACCOUNTS] + ([ADDITIONAL_CLOUD_CREDENTIALS] if reset_before else [])
    title = f"Console sign-in without MFA as {'root' if root else first.event.principal.name or actor}"
    events = sorted([*reset_before, *logins], key=lambda e: (e.time, e.id))
    return finding_from(
        context, "console-login-without-mfa", "initial-access:console-login-without-mfa", title, severity,
        confidence, techniques, events, " ".join(s for s in sentences if s),
        hops=[e.hop(dst=e.target if e.row.name != "ConsoleLogin" else e.row.actor) for e in events],
    )  # fmt: skip


# --- signin-failures-then-success ---------------------------------------------------------------------------------


def signin_failures_then_success(context: HuntContext) -> Iterator[Finding]:
    logins = list(context.events(where="name='ConsoleLogin'"))
    failures = [event for event in logins if event.failed]
    if not failures:
        return
    failure_times = [event.time for event in failures]
    used: set[str] = set()
    for success in (event for event in logins if not event.failed):
        fast = _failures_before(failures, failure_times, success, FAILURE_WINDOW, used, same_ip_only=False)
        slow = False
        if len(fast) < MIN_FAILURES:
            # Slower guessing counts only from one address, against one user, that the user never signed in from.
            fast = _failures_before(failures, failure_times, success, SLOW_FAILURE_WINDOW, used, same_ip_only=True)
            ip = success.row.source_ip
            if len(fast) < MIN_FAILURES or not ip:
                continue
            during = (fast[0].time, success.time)
            if not is_new_address(context, ip, success.row.access_key, during=during, principal=success.row.actor):
                continue
            slow = True
        used.update(event.id for event in fast)
        yield _guessing_finding(context, fast, success, slow)


def _failures_before(
    failures: list[HuntEvent],
    times: list[str],
    success: HuntEvent,
    window: int,
    used: set[str],
    *,
    same_ip_only: bool,
) -> list[HuntEvent]:
    """Refused sign-ins within `window` before `success`: for the same user or, unless `same_ip_only`, from the
    same address (password spraying); with `same_ip_only`, for the same user from the same address."""
    start = shift_time(success.time, -window)
    ip = success.row.source_ip
    picked = []
    for event in failures[bisect_left(times, start) : bisect_right(times, success.time)]:
        if event.id in used:
            continue
        same_user = event.row.actor == success.row.actor
        same_ip = bool(ip) and event.row.source_ip == ip
        if (same_user and same_ip) if same_ip_only else (same_user or same_ip):
            picked.append(event)
    return picked


def _guessing_finding(context: HuntContext, failures: list[HuntEvent], success: HuntEvent, slow: bool) -> Finding:
    actor = success.row.actor
    ip = success.row.source_ip
    targets = Counter(event.row.actor for event in failures)
    sprayed = len(targets) > 1
    root = success.row.actor_kind == "Root"
    no_mfa = success.facts.get("mfa_used") is False and success.row.actor_kind in ("User", "Root")
    during = (failures[0].time, success.time)
    new = is_new_address(context, ip, success.row.access_key, during=during, principal=actor)
    if root or no_mfa or sprayed:
        severity, confidence = Severity.HIGH, 0.9 if new else 0.75
    elif new or slow:
        severity, confidence = Severity.MEDIUM, 0.6
    else:
        severity, confidence = Severity.LOW, 0.4  # a mistyped password from the usual place, then MFA
    users = ", ".join(_user(name) for name in targets)
    addresses = sorted({event.row.source_ip for event in failures if event.row.source_ip})
    messages = Counter(event.event.error_message or event.row.error_code or "Failure" for event in failures)
    span = "over days" if slow else "within the hour"
    mfa = {True: "with MFA", False: "without MFA"}.get(success.facts.get("mfa_used"), "")
    sentences = [
        f"{len(failures)} console sign-in(s) were refused {span} between {failures[0].time} and {failures[-1].time} "
        f"(for {users}; from {', '.join(addresses)}; {', '.join(f'{m} x{n}' for m, n in messages.items())}).",
        f"Then {_user(actor)} signed in successfully at {success.time} from {ip} {mfa}.".replace(" .", "."),
    ]
    if sprayed:
        sentences.append("The address tried several users: password spraying.")
    if new:
        sentences.append(f"{ip} was never seen for this principal before.")
    sentences.append(_then(context, actor, success.time))
    events = [*failures, success]
    title = f"Console sign-in after {len(failures)} refused attempts" + (" (password spraying)" if sprayed else "")
    return finding_from(
        context, "signin-failures-then-success", "credential-access:password-guessing", title, severity, confidence,
        [BRUTE_FORCE, PASSWORD_GUESSING, VALID_CLOUD_ACCOUNTS], events, " ".join(s for s in sentences if s),
        hops=[e.hop(action="ConsoleLogin" + (" (refused)" if e.failed else ""), dst=e.row.actor) for e in events],
    )  # fmt: skip


# --- shared -------------------------------------------------------------------------------------------------


def _new_addresses(context: HuntContext, actor: str, run: Sequence[HuntEvent]) -> list[str]:
    """Outside addresses of `run` that `actor` never used in the baseline (other than during `run`): the same
    test as `is_new_address`, with each call's own VPC endpoint."""
    during = (run[0].time, run[-1].time)
    outside = context.outside_addresses(event.row for event in run)
    return sorted(ip for ip in outside if not address_known(context, ip, during=during, principal=actor))


def _then(context: HuntContext, actor: str, after: str) -> str:
    """The first changes the principal made within the hour after signing in."""
    end = shift_time(after, FOLLOW_UP)
    rows = context.case.db.execute(
        "SELECT name, time, error_code FROM events WHERE actor=? AND time > ? AND time <= ? ORDER BY time LIMIT 500",
        (actor, after, end),
    )
    steps: list[str] = []
    seen: set[str] = set()
    for name, time, error in rows:
        if name.startswith(_READ_PREFIXES) or name in ("ConsoleLogin", "CheckMfa") or name in seen:
            continue
        seen.add(name)
        steps.append(f"{name} at {time}" + (f" (refused: {error})" if error else ""))
        if len(steps) == 5:
            break
    return f"Within the hour it went on to: {'; '.join(steps)}." if steps else ""


def _user(actor: str) -> str:
    return "an unknown user name" if actor.endswith(HIDDEN_USER) else actor


def _ips(events: Sequence[HuntEvent]) -> str:
    addresses = sorted({event.row.source_ip for event in events if event.row.source_ip})
    return "from " + ", ".join(addresses) if addresses else "no address recorded"


def _names(events: Sequence[HuntEvent], limit: int = 8) -> str:
    names = Counter(event.row.name for event in events)
    parts = [f"{name} x{count}" if count > 1 else name for name, count in names.most_common(limit)]
    return ", ".join(parts) + (f" and {len(names) - limit} more" if len(names) > limit else "")


HUNTS = [
    HuntSpec(
        name="root-use",
        family="sign-in",
        title="Root user activity",
        description="Any console or API use by an account's root user, one finding per session (calls within "
        "three hours). Critical when root changed access or logging (CreateAccessKey, IAM policy or user changes, "
        "StopLogging...) after a sign-in without MFA, from a new address or with a root access key; high for a "
        "sign-in without MFA or any root access key use; low for reads and documented root-only account tasks.",
        techniques=(VALID_CLOUD_ACCOUNTS, ADDITIONAL_CLOUD_CREDENTIALS),
        run=root_use,
    ),
    HuntSpec(
        name="console-login-without-mfa",
        family="sign-in",
        title="Console password sign-in without MFA",
        description="Successful ConsoleLogin with MFAUsed No by an IAM user or root (Identity Center and SAML "
        "sign-ins are left out: their identity provider enforces MFA and CloudTrail still says No). Medium from "
        "an outside address never seen for that principal, high for root or when someone else set the user's "
        "password within the day before (CreateLoginProfile/UpdateLoginProfile), low from a known, AWS or "
        "trusted address.",
        techniques=(VALID_CLOUD_ACCOUNTS, ADDITIONAL_CLOUD_CREDENTIALS),
        run=console_login_without_mfa,
    ),
    HuntSpec(
        name="signin-failures-then-success",
        family="sign-in",
        title="Console sign-in after repeated refused attempts",
        description="At least three refused ConsoleLogins for the same user (or from the same address: password "
        "spraying) within the hour before a successful one, or over a week from one outside address the user "
        "never used. High for root, a sign-in without MFA or spraying; low for a few typos from the usual address "
        "(or an AWS or trusted one).",
        techniques=(BRUTE_FORCE, PASSWORD_GUESSING, VALID_CLOUD_ACCOUNTS),
        run=signin_failures_then_success,
    ),
]

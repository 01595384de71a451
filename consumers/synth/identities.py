"""Callers of the synthetic traffic: principals (``userIdentity``), user agents and source IPs.

Each account has a roster of actors (instance roles, Lambda roles, CI, Terraform, SSO humans,
service-linked roles, AWS services, an IAM user); each API is called by a few of them with skewed
popularity. Anomalies are driven by a specific actor, often a new one, so attributions mean
something.

>>> import numpy as np
>>> roster = account_roster("123456789012", "2026-01-05T00:00:00Z", np.random.default_rng(0))
>>> any(a.identity["type"] == "AssumedRole" for a in roster)
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

_UPPER_DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
APPS = (
    "orders",
    "payments",
    "checkout",
    "inventory",
    "auth",
    "search",
    "billing",
    "reports",
    "ingest",
    "notify",
)
_PEOPLE = ("alice", "bob", "carol", "dmitri", "erin", "farid", "grace", "hiro", "ines", "jamal")


@dataclass(frozen=True)
class Actor:
    """One caller: the ``userIdentity`` object, its ARN (None for AWS services), user agent and IP."""

    identity: dict[str, Any]
    arn: str | None
    user_agent: str
    source_ip: str
    internal: bool = False  # AWS-internal call: no tlsDetails


def _key(rng: np.random.Generator, prefix: str, length: int) -> str:
    return prefix + "".join(_UPPER_DIGITS[i] for i in rng.integers(0, 32, length))


def _hex(rng: np.random.Generator, length: int) -> str:
    return "".join("0123456789abcdef"[i] for i in rng.integers(0, 16, length))


def _private_ip(rng: np.random.Generator) -> str:
    a, b, c = rng.integers(0, 256, 3)
    return f"10.{a}.{b}.{max(int(c), 4)}"


def _public_ip(rng: np.random.Generator, firsts: tuple[int, ...] = (3, 18, 34, 52, 54)) -> str:
    b, c, d = rng.integers(1, 255, 3)
    return f"{firsts[int(rng.integers(len(firsts)))]}.{b}.{c}.{d}"


def _sdk_agent(rng: np.random.Generator, kind: str) -> str:
    minor = int(rng.integers(10, 60))
    if kind == "boto3":
        return (
            f"Boto3/1.34.{minor} md/Botocore#1.34.{minor} ua/2.0 os/linux#5.10.205-195.807.amzn2.x86_64 "
            f"md/arch#x86_64 lang/python#3.12.1 exec-env/AWS_Lambda_python3.12 Botocore/1.34.{minor}"
        )
    if kind == "java":
        return (
            f"aws-sdk-java/2.21.{minor} Linux/5.10.201-191.748.amzn2.x86_64 "
            "OpenJDK_64-Bit_Server_VM/17.0.9+8-LTS "
            "Java/17.0.9 vendor/Amazon.com_Inc."
        )
    if kind == "go":
        return f"aws-sdk-go/1.50.{minor} (go1.21.6; linux; amd64)"
    if kind == "cli":
        return (
            f"aws-cli/2.15.{minor} Python/3.11.6 Linux/6.2.0-1018-azure exe/x86_64.ubuntu.22 prompt/off "
            "command/cloudformation.deploy"
        )
    if kind == "terraform":
        return (
            "APN/1.0 HashiCorp/1.0 Terraform/1.6.6 (+https://www.terraform.io) terraform-provider-aws/5.31.0 "
            "(+https://registry.terraform.io/providers/hashicorp/aws) "
            f"aws-sdk-go-v2/1.24.{minor % 10} os/linux lang/go#1.21.5 md/GOOS#linux md/GOARCH#amd64"
        )
    if kind == "console":
        return (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/120.0.{6099 + minor}.130 Safari/537.36"
        )
    if kind == "ssm":
        return f"aws-sdk-go/1.44.260 (go1.20.{minor % 12}; linux; amd64) amazon-ssm-agent/3.2.2086.0"
    if kind == "ecs":
        return f"aws-sdk-go/1.44.{minor + 200} (go1.20.11; linux; amd64) ecs-agent/1.79.{minor % 3}"
    return f"Boto3/1.28.{minor} Python/3.10.12 Linux/5.15.0-1040-aws Botocore/1.31.{minor}"


def assumed_role(
    account: str, role: str, session: str, created: str, rng: np.random.Generator, path: str = ""
) -> tuple[dict[str, Any], str]:
    """A ``userIdentity`` for an assumed-role session and its ARN."""
    role_id = _key(rng, "AROA", 17)
    arn = f"arn:aws:sts::{account}:assumed-role/{role}/{session}"
    identity = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": arn,
        "accountId": account,
        "accessKeyId": _key(rng, "ASIA", 16),
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{account}:role/{path}{role}",
                "accountId": account,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": created, "mfaAuthenticated": "false"},
        },
    }
    return identity, arn


def iam_user(account: str, name: str, rng: np.random.Generator) -> tuple[dict[str, Any], str]:
    """A ``userIdentity`` for an IAM user with a long-term access key, and its ARN."""
    arn = f"arn:aws:iam::{account}:user/{name}"
    identity = {
        "type": "IAMUser",
        "principalId": _key(rng, "AIDA", 17),
        "arn": arn,
        "accountId": account,
        "accessKeyId": _key(rng, "AKIA", 16),
        "userName": name,
    }
    return identity, arn


def _role_actor(
    account: str, role: str, session: str, agent: str, ip: str, created: str, rng: np.random.Generator
) -> Actor:
    identity, arn = assumed_role(account, role, session, created, rng)
    return Actor(identity, arn, agent, ip)


# Regular callers: role ({appN}: one of the account's apps), session ({i}: an instance id), agent, network.
_ROLES = (
    ("{app0}-ec2-role", "{i}", "java", "private"),
    ("{app1}-lambda-role", "{app1}-handler", "boto3", "public"),
    ("eks-nodegroup-NodeInstanceRole-{key}", "{i}", "go", "private"),
    ("ssm-managed-instance-role", "{i}", "ssm", "private"),
    ("ecsInstanceRole", "{i}", "ecs", "private"),
    ("{app2}-lambda-role", "{app2}-worker", "boto3", "public"),
    ("DatadogIntegrationRole", "DatadogAWSIntegration", "go", "public"),
    ("github-actions-deploy", "GitHubActions", "cli", "public"),
    ("terraform-apply", "terraform-{n}", "terraform", "private"),
    ("{app3}-ec2-role", "{i}", "java", "private"),
)


def account_roster(account: str, created: str, rng: np.random.Generator) -> list[Actor]:
    """The regular callers of one account, most active kinds first."""
    apps = {f"app{n}": APPS[i] for n, i in enumerate(rng.permutation(len(APPS))[:4])}
    people = [_PEOPLE[i] for i in rng.permutation(len(_PEOPLE))[:2]]
    roster: list[Actor] = []
    for role, session, agent, network in _ROLES:
        fill = {
            **apps,
            "i": f"i-0{_hex(rng, 16)}",
            "key": _key(rng, "", 12),
            "n": int(rng.integers(1000, 9999)),
        }
        ip = _private_ip(rng) if network == "private" else _public_ip(rng)
        roster.append(
            _role_actor(
                account, role.format(**fill), session.format(**fill), _sdk_agent(rng, agent), ip, created, rng
            )
        )
    sso_role = f"AWSReservedSSO_AdministratorAccess_{_hex(rng, 16)}"
    for person in people:
        ip = _public_ip(rng, (81, 84, 91, 185))
        kind = "console" if person == people[0] else "cli"
        roster.append(
            _role_actor(account, sso_role, f"{person}@example.com", _sdk_agent(rng, kind), ip, created, rng)
        )
    identity, arn = assumed_role(
        account,
        "AWSServiceRoleForAutoScaling",
        "AutoScaling",
        created,
        rng,
        path="aws-service-role/autoscaling.amazonaws.com/",
    )
    identity["invokedBy"] = "autoscaling.amazonaws.com"
    roster.append(
        Actor(identity, arn, "autoscaling.amazonaws.com", "autoscaling.amazonaws.com", internal=True)
    )
    for service in ("lambda.amazonaws.com", "ec2.amazonaws.com"):
        roster.append(
            Actor({"type": "AWSService", "invokedBy": service}, None, service, service, internal=True)
        )
    identity, arn = iam_user(account, "svc-backup", rng)
    roster.append(Actor(identity, arn, _sdk_agent(rng, "legacy"), _public_ip(rng, (52, 54))))
    return roster


def anomaly_actor(account: str, kind: str, created: str, rng: np.random.Generator) -> Actor:
    """A new caller behind an anomaly: a runaway automation session or an unfamiliar principal."""
    choice = int(rng.integers(3))
    if kind in ("rare_hammered", "error_new_code") and choice < 2:
        name = ("temp-migration", "contractor-dev", "ci-legacy", "backup-old")[int(rng.integers(4))]
        identity, arn = iam_user(account, name, rng)
        agents = (
            "python-requests/2.31.0",
            _sdk_agent(rng, "legacy"),
            "aws-cli/1.18.69 Python/2.7.18 Linux/4.14",
        )
        ip = _public_ip(rng, (45, 89, 185, 193))
        return Actor(identity, arn, agents[int(rng.integers(3))], ip)
    if choice == 0:
        role, session, agent = (
            "github-actions-deploy",
            f"GitHubActions-{_hex(rng, 8)}",
            _sdk_agent(rng, "cli"),
        )
    elif choice == 1:
        role, session, agent = "batch-reprocess-role", f"reprocess-{_hex(rng, 6)}", _sdk_agent(rng, "boto3")
    else:
        app = APPS[int(rng.integers(len(APPS)))]
        role, session, agent = f"{app}-worker-role", f"i-0{_hex(rng, 16)}", _sdk_agent(rng, "java")
    return _role_actor(account, role, session, agent, _private_ip(rng), created, rng)

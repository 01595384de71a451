"""The ground truth of a synthetic trace, as written to ``labels.json``.

Minutes are integer minutes since the Unix epoch; ``end_minute`` is exclusive. ``magnitude`` depends on
the kind: the multiplier of the current level (spike, step, low_rate_rise), the remaining fraction of
calls (drop, low_rate_drop), calls per minute (rare_hammered), failing calls per minute
(error_new_code) or the multiplier over the background error rate (error_surge, known_code_surge).
``rate`` / ``baseline_rate`` are the expected per-minute counts of what the insight type counts, with
and without the anomaly, averaged over its minutes. ``z`` is the anomaly's window z under the
generator's true model and ``tier`` its class (``window_z``): clear, between, edge or faint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

from consumers.synth.anomalies import DOWN_KINDS
from consumers.synth.anomaly_z import anomaly_z
from consumers.synth.options import minute_to_iso
from consumers.synth.window_z import tier_of

if TYPE_CHECKING:
    from consumers.synth.traffic_model import TrafficPlan


class ApiLabel(TypedDict):
    account: str
    region: str
    eventSource: str
    eventName: str
    readOnly: bool
    profile: str
    tier: str
    mean_rate: float
    errors: list[dict[str, str | float]]
    detail: dict[str, int]


class AnomalyLabel(TypedDict):
    id: str
    kind: str
    insightType: str
    direction: str
    account: str
    region: str
    eventSource: str
    eventName: str
    errorCode: str | None
    start_minute: int
    end_minute: int
    start: str
    end: str
    magnitude: float
    rate: float
    baseline_rate: float
    userIdentityArn: str | None
    userAgent: str | None
    z: float
    tier: str


class DecoyLabel(TypedDict):
    kind: str
    account: str
    region: str
    eventSource: str
    eventName: str
    start_minute: int
    end_minute: int
    start: str
    end: str
    detail: dict[str, float]


class Labels(TypedDict):
    seed: int
    anomaly_suite: str
    start: str
    start_minute: int
    minutes: int
    warmup_minutes: int
    anomaly_free: bool
    accounts: list[str]
    utc_offset_minutes: dict[str, int]
    regions: list[str]
    apis: list[ApiLabel]
    anomalies: list[AnomalyLabel]
    decoys: list[DecoyLabel]


def build_labels(plan: TrafficPlan) -> Labels:
    """The labels of ``plan``: its API roster and its anomalies, in start order."""
    o, s = plan.options, plan.start_minute
    apis: list[ApiLabel] = [
        ApiLabel(
            account=a.account,
            region=a.region,
            eventSource=a.source,
            eventName=a.spec.name,
            readOnly=a.spec.read_only,
            profile=a.profile,
            tier=a.tier,
            mean_rate=round(a.mean_rate, 6),
            detail=a.detail,
            errors=[
                {"errorCode": e.code, "mean_rate": round(e.fraction * a.mean_rate + e.steady, 6)}
                for e in a.errors
            ],
        )
        for a in plan.apis
    ]
    anomalies: list[AnomalyLabel] = []
    for i, an in enumerate(plan.anomalies):
        api = plan.apis[an.api]
        z = anomaly_z(an, api, plan.lam[an.api])
        actor = plan.actors[an.actor] if an.actor is not None else None
        anomalies.append(
            AnomalyLabel(
                id=f"a{i:03d}",
                kind=an.kind,
                insightType=an.insight_type,
                direction="down" if an.kind in DOWN_KINDS else "up",
                account=api.account,
                region=api.region,
                eventSource=api.source,
                eventName=api.spec.name,
                errorCode=an.code,
                start_minute=s + an.start,
                end_minute=s + an.end,
                start=minute_to_iso(s + an.start),
                end=minute_to_iso(s + an.end),
                magnitude=an.magnitude,
                rate=round(an.rate, 4),
                baseline_rate=round(an.baseline_rate, 4),
                userIdentityArn=actor.arn if actor else None,
                userAgent=actor.user_agent if actor else None,
                z=round(z, 2),
                tier=tier_of(z),
            )
        )
    decoys = [
        DecoyLabel(
            kind=d.kind,
            account=plan.apis[d.api].account,
            region=plan.apis[d.api].region,
            eventSource=plan.apis[d.api].source,
            eventName=plan.apis[d.api].spec.name,
            start_minute=s + d.start,
            end_minute=s + d.end,
            start=minute_to_iso(s + d.start),
            end=minute_to_iso(s + d.end),
            detail={k: round(v, 4) for k, v in d.detail.items()},
        )
        for d in plan.decoys
    ]
    return Labels(
        seed=o.seed,
        anomaly_suite=o.anomaly_suite,
        start=minute_to_iso(s),
        start_minute=s,
        minutes=o.minutes,
        warmup_minutes=o.warmup_minutes,
        anomaly_free=not anomalies,
        accounts=plan.accounts,
        utc_offset_minutes=plan.utc_offsets,
        regions=plan.regions,
        apis=apis,
        anomalies=anomalies,
        decoys=decoys,
    )

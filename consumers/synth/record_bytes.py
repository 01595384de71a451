"""Materialisation of synthetic CloudTrail records as JSON bytes, vectorised where it counts.

Every (API, caller) pair gets pre-encoded byte templates; a record is the concatenation of those
templates with its per-record parts (eventTime, requestID, eventID), which are drawn and formatted
for a whole batch at once with numpy. A record is about 1-1.4 KB, shaped like real CloudTrail.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from consumers.synth.api_roster import Api
from consumers.synth.aws_catalog import GLOBAL_SERVICES, HOME_REGION, error_message
from consumers.synth.identities import Actor
from consumers.synth.options import minute_to_iso
from consumers.synth.request_params import request_variant
from consumers.synth.traffic_model import Cells, TrafficPlan

_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
_UUID_POS = np.array([i for i in range(36) if i not in (8, 13, 18, 23)])
_ID_GLUE = b'","eventID":"'
_TLS = (
    ("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
    ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256"),
)


def _j(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def uuid4_hex(raw: np.ndarray) -> np.ndarray:
    """Format rows of 16 random bytes as version-4 UUID text: an (n, 36) uint8 array."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    digits = np.empty((raw.shape[0], 32), dtype=np.uint8)
    digits[:, 0::2] = _HEX[raw >> 4]
    digits[:, 1::2] = _HEX[raw & 0x0F]
    out = np.full((raw.shape[0], 36), ord("-"), dtype=np.uint8)
    out[:, _UUID_POS] = digits
    return out


class RecordFactory:
    """Builds record bytes for cells of a ``TrafficPlan``; templates are made once per (API, caller)."""

    def __init__(self, plan: TrafficPlan, codes: list[str]) -> None:
        self.plan, self.codes = plan, codes
        rng = np.random.default_rng(plan.seeds[5])
        self.head: list[bytes] = []  # up to "eventTime":"
        self.mid: list[bytes] = []  # eventSource .. userAgent
        self.tail: list[bytes] = []  # readOnly .. end of record
        self.k_api: list[int] = []
        self.k_actor: list[int] = []
        self.k_of: dict[tuple[int, int], int] = {}
        self.err: dict[tuple[int, int], bytes] = {}
        n_apis = len(plan.apis)
        width = max(len(p[0]) for p in plan.pools) if plan.pools else 1
        self.pool_k = np.zeros((n_apis, width), dtype=np.int64)
        self.pool_cum = np.ones((n_apis, width))
        for api, (members, cum) in zip(plan.apis, plan.pools, strict=True):
            self.pool_k[api.index, : len(members)] = [self.template(api.index, int(m)) for m in members]
            self.pool_cum[api.index, : len(cum)] = cum
            self.pool_cum[api.index, len(cum) - 1 :] = 2.0
        for an in plan.anomalies:
            if an.actor is not None:
                self.template(an.api, an.actor)
        self.req: list[bytes] = []  # per variant: success form, then failure form
        self.var_off = np.zeros(n_apis, dtype=np.int64)
        self.var_cum = np.full((n_apis, 5), 2.0)
        for api in plan.apis:
            self._variants(api, rng)

    def template(self, api_index: int, actor_index: int) -> int:
        """Index of the byte templates for ``api`` called by ``actor`` (built on first use)."""
        key = (api_index, actor_index)
        k = self.k_of.get(key)
        if k is not None:
            return k
        api, actor = self.plan.apis[api_index], self.plan.actors[actor_index]
        self.head.append(
            f'{{"eventVersion":"1.09","userIdentity":{_j(actor.identity)},"eventTime":"'.encode()
        )
        self.mid.append(
            (
                f'","eventSource":"{api.source}","eventName":"{api.spec.name}","awsRegion":"{api.region}",'
                f'"sourceIPAddress":{_j(actor.source_ip)},"userAgent":{_j(actor.user_agent)}'
            ).encode()
        )
        self.tail.append(self._tail(api, actor).encode())
        self.k_api.append(api_index)
        self.k_actor.append(actor_index)
        self.k_of[key] = len(self.head) - 1
        return len(self.head) - 1

    def _tail(self, api: Api, actor: Actor) -> str:
        tail = (
            f'","readOnly":{_j(api.spec.read_only)},"eventType":"AwsApiCall","managementEvent":true,'
            f'"recipientAccountId":"{api.account}","eventCategory":"Management"'
        )
        if not actor.internal:
            region = HOME_REGION if api.spec.service in GLOBAL_SERVICES else api.region
            host = f"{api.spec.service}.amazonaws.com" if api.spec.service in GLOBAL_SERVICES else None
            version, suite = _TLS[len(actor.user_agent) % 2]
            tls = {
                "tlsVersion": version,
                "cipherSuite": suite,
                "clientProvidedHostHeader": host or f"{api.spec.service}.{region}.amazonaws.com",
            }
            tail += f',"tlsDetails":{_j(tls)}'
        return tail + "}"

    def _variants(self, api: Api, rng: np.random.Generator) -> None:
        n = int(rng.integers(1, 6))
        self.var_off[api.index] = len(self.req) // 2
        weights = (np.arange(n) + 1.0) ** -1.2
        self.var_cum[api.index, :n] = np.cumsum(weights / weights.sum())
        self.var_cum[api.index, n - 1 :] = 2.0
        for _ in range(n):
            params, response = request_variant(api.spec, api.account, api.region, rng)
            front = f',"requestParameters":{_j(params)},"responseElements":'
            self.req.append(f'{front}{_j(response)},"requestID":"'.encode())
            self.req.append(f'{front}null,"requestID":"'.encode())

    def _error_part(self, k: int, code: int) -> bytes:
        part = self.err.get((k, code))
        if part is None:
            api, actor = self.plan.apis[self.k_api[k]], self.plan.actors[self.k_actor[k]]
            name = self.codes[code]
            message = error_message(name, actor.arn, api.spec.service, api.spec.name)
            part = self.mid[k] + f',"errorCode":{_j(name)},"errorMessage":{_j(message)}'.encode()
            self.err[(k, code)] = part
        return part

    def records(
        self, cells: Cells, lo: int, hi: int, rng: np.random.Generator
    ) -> tuple[list[bytes], np.ndarray]:
        """Records of cells ``lo:hi`` in cell order, and each record's API index."""
        counts = cells.count[lo:hi]
        n = int(counts.sum())
        api = np.repeat(cells.api[lo:hi], counts)
        code = np.repeat(cells.code[lo:hi], counts)
        minute = np.repeat(cells.minute[lo:hi], counts) + self.plan.start_minute
        cell_actor = cells.actor[lo:hi]
        cell_k = np.array(
            [
                self.k_of[(int(a), int(b))] if b >= 0 else -1
                for a, b in zip(cells.api[lo:hi], cell_actor, strict=True)
            ],
            dtype=np.int64,
        )
        fixed_k = np.repeat(cell_k, counts)
        u = rng.random((n, 2))
        pool_pick = (u[:, :1] > self.pool_cum[api]).sum(axis=1)
        k = np.where(fixed_k >= 0, fixed_k, self.pool_k[api, np.minimum(pool_pick, self.pool_k.shape[1] - 1)])
        variant = self.var_off[api] + (u[:, 1:] > self.var_cum[api]).sum(axis=1)
        req = variant * 2 + (code >= 0)
        times = self._times(minute, rng.integers(0, 60, n)).tobytes()
        ids = np.empty((n, 85), dtype=np.uint8)
        uuids = uuid4_hex(rng.integers(0, 256, (2 * n, 16), dtype=np.uint8))
        ids[:, :36], ids[:, 36:49], ids[:, 49:] = uuids[:n], np.frombuffer(_ID_GLUE, np.uint8), uuids[n:]
        idbuf = ids.tobytes()
        head, mid, tail, reqs, err = self.head, self.mid, self.tail, self.req, self._error_part
        out: list[bytes] = []
        append = out.append
        for i, (ki, ci, ri) in enumerate(zip(k.tolist(), code.tolist(), req.tolist(), strict=True)):
            middle = mid[ki] if ci < 0 else err(ki, ci)
            append(
                b"".join(
                    (
                        head[ki],
                        times[20 * i : 20 * i + 20],
                        middle,
                        reqs[ri],
                        idbuf[85 * i : 85 * i + 85],
                        tail[ki],
                    )
                )
            )
        return out, api

    @staticmethod
    def _times(minute: np.ndarray, second: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(minute, return_inverse=True)
        prefixes = np.frombuffer("".join(minute_to_iso(int(m))[:17] for m in uniq).encode(), np.uint8)
        out = np.empty((minute.size, 20), dtype=np.uint8)
        out[:, :17] = prefixes.reshape(-1, 17)[inverse]
        out[:, 17] = 48 + second // 10
        out[:, 18] = 48 + second % 10
        out[:, 19] = ord("Z")
        return out

#!/usr/bin/env bash
# The demo: generate a week and a half of CloudTrail traffic with injected anomalies, replay it
# through the engine and print the Insight events it finds (and the labelled anomalies beside them).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh runtime   # trailpulse and what it needs to run, no test tools
out=${DEMO_DIR:-demo}
echo "generating 10.5 days of synthetic CloudTrail into $out/ ..." >&2
.venv/bin/trailpulse generate --out "$out" --seed "${DEMO_SEED:-7}" --overwrite
echo "replaying $out/AWSLogs ..." >&2
.venv/bin/trailpulse replay "$out/AWSLogs" --workers 2 --output "$out/insights.jsonl"
.venv/bin/python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
events = [json.loads(line) for line in open(f"{out}/insights.jsonl")]
for e in events:
    d = e["insightDetails"]
    s = d["insightContext"]["statistics"]
    print(f'{e["eventTime"]}  {d["state"]:<5}  {d["insightType"]:<20}  {e["recipientAccountId"]} {e["awsRegion"]:<10}'
          f'  {d["eventSource"]} {d["eventName"]} {d.get("errorCode") or ""}'
          f'  baseline {s["baseline"]["average"]:.3g}/min  insight {s["insight"]["average"]:.3g}/min')
labels = json.load(open(f"{out}/labels.json"))
print(f"\n{len(events)} Insight events in {out}/insights.jsonl (AWS format, one per line);"
      f" {len(labels['anomalies'])} anomalies were injected (see {out}/labels.json).")
PY

#!/usr/bin/env bash
# The demo: generate a week and a half of CloudTrail traffic with injected anomalies, replay it
# through the engine, and show what came out: the Insight events (and the labelled anomalies beside
# them), the replay's Prometheus metrics, and a picture of the first insight's API.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-venv.sh runtime   # trailpulse and what it needs to run (plot included), no test tools
out=${DEMO_DIR:-demo}
echo "generating 10.5 days of synthetic CloudTrail into $out/ ..." >&2
.venv/bin/trailpulse generate --out "$out" --seed "${DEMO_SEED:-7}" --overwrite
echo "replaying $out/AWSLogs ..." >&2
.venv/bin/trailpulse replay "$out/AWSLogs" --workers 2 --output "$out/insights.jsonl" \
  --metrics-file "$out/metrics.prom"
# The insights, then the plot arguments that name the first insight's API (one per line).
plot_args=$(
  .venv/bin/python - "$out" <<'PY'
import json, sys
out = sys.argv[1]
events = [json.loads(line) for line in open(f"{out}/insights.jsonl")]
for e in events:
    d = e["insightDetails"]
    s = d["insightContext"]["statistics"]
    print(f'{e["eventTime"]}  {d["state"]:<5}  {d["insightType"]:<20}  {e["recipientAccountId"]} {e["awsRegion"]:<10}'
          f'  {d["eventSource"]} {d["eventName"]} {d.get("errorCode") or ""}'
          f'  baseline {s["baseline"]["average"]:.3g}/min  insight {s["insight"]["average"]:.3g}/min', file=sys.stderr)
labels = json.load(open(f"{out}/labels.json"))
print(f"\n{len(events)} Insight events in {out}/insights.jsonl (AWS format, one per line);"
      f" {len(labels['anomalies'])} anomalies were injected (see {out}/labels.json).\n", file=sys.stderr)
if events:
    first = events[0]
    d = first["insightDetails"]
    args = ["--event-name", d["eventName"], "--event-source", d["eventSource"],
            "--account", first["recipientAccountId"], "--region", first["awsRegion"]]
    if d.get("errorCode"):
        args += ["--error-code", d["errorCode"]]
    print("\n".join(args))
PY
)
echo "metrics of the replay ($out/metrics.prom, Prometheus text format):" >&2
grep -E '^trailpulse_(records_decoded|records_rejected|records_late|insights_emitted|keys_tracked|replay_files)' \
  "$out/metrics.prom" >&2
if [ -n "$plot_args" ]; then
  mapfile -t args <<<"$plot_args"
  echo >&2
  echo "drawing the first insight's API: trailpulse plot $out/AWSLogs ${args[*]} -o $out/plot.png" >&2
  .venv/bin/trailpulse plot "$out/AWSLogs" --workers 2 "${args[@]}" -o "$out/plot.png"
  echo "picture: $out/plot.png" >&2
fi

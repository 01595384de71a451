"""trailpulse's pure engine: CloudTrail records in, Insight events out, no I/O.

The data flows one way through small modules, one step each, each the only writer of its state::

    decode        decode.py, envelope.py, record.py, eventtime.py   bytes → records
    normalise     classify.py (stateless), normalise.py             semantics, event-time clock, dedup
    keys          keyspace.py (keys.py: interning tables)           which key owns which slot
    aggregate     aggregate.py                                      per-minute buffers, closed_through
    baseline      baseline.py (the hourly ring), references.py,     rolling 7-day references
                  alike_days.py
    detector      detector.py                                       surprise of a count
    lifecycle     start_rules.py, evidence.py, evidence_starts.py,  Start rules; Start/End; early Starts
                  lifecycle.py, decisions.py, ongoing.py, early.py
    attribution   attribution.py                                    top callers, agents, error codes
    events        transition.py, events.py                          the AWS Insight record

``engine.py`` drives them behind the event-time clock; ``track.py`` closes one minute for every key
at once (keys, baseline, lifecycle, attribution), holding no state of its own; ``census.py`` reads
what the engine holds for reports (the daemon's metrics) and changes nothing.
Everything here is deterministic: the same input gives byte-identical output.
"""

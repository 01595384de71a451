"""trailpulse's pure engine: CloudTrail records in, Insight events out, no I/O.

The data flows one way through small modules, one step each::

    decode → normalise → aggregate (per minute) → baseline → detector → lifecycle → events

Everything here is deterministic: the same input gives byte-identical output.
"""

"""The synthetic traffic generator of ``trailpulse generate``: traffic model, records, delivery, envelopes."""

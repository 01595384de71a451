"""The parts of ``bench/event_time.py``, the script to run.

``trace`` (one trace delivered twice, in order and as CloudTrail does, to files and a topic each, and
the check that both hold the same records), ``reads`` (each delivery through ``replay`` and ``run``,
their table, what fails the acceptance) and ``compare`` (the reads' Insight events: the same
eventIDs, and which fields of the shared events differ). Runs, replays and outcomes are the Kafka
bench's (``bench/throughput/``).
"""

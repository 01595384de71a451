"""The parts of ``bench/kafka_throughput.py``, the script to run.

``child`` (a subprocess whose JSON lines are read as they come), ``fill`` (the topic of generated
records, and the same files on disk), ``runs`` ((a) the bare consumer and (b) ``trailpulse run``, each
timed in its own process), ``bare_consumer`` ((a)'s process: a script of its own, so its start-up is
kafka-python's only), ``rounds`` (one topic: the rounds, each (b) judged against the replay),
``outcome`` (what a run or the replay did with the records, and their comparison), ``insight_reads``
(the output topic read back, ``trailpulse replay`` run), ``profile_report`` (where (b)'s time goes,
read from a cProfile of its process) and ``report`` (the tables and the JSON summary).
"""

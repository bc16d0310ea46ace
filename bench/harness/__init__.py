"""Shared code of the benchmark scripts in ``bench/`` (api.py, overhead.py, worker_throughput.py):
thread settings and machine facts (``env``), the offline services and server processes
(``services``), an open- and closed-loop HTTP load generator (``loadgen``), and the table with
targets and the JSON results (``report``). Not part of the product; nothing imports it but bench/.
"""

"""The conventional design the issue compares against: FastAPI + an RQ worker + Valkey, one job
at a time per worker, as tutorials build it (``rq_app`` the API, ``rq_tasks`` the job,
``rq_worker`` the worker). It answers with the same fake LLM, embedder and vector engine as
ragcore, so the benchmarks compare architectures, not models. Benchmarks only.
"""

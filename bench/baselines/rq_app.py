"""The baseline API: ``POST /chat`` enqueues an RQ job and answers 202 with its id;
``GET /result/{id}`` answers when it is done. Served by uvicorn (one process):

    python -m bench.baselines.rq_app PORT     # BASELINE_REDIS_URL=redis://...
"""

from __future__ import annotations

import os
import sys

from bench.harness import env

env.apply()
env.pin_to_cpu(os.environ.get("BENCH_CPU"))

import uvicorn  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402
from redis import Redis  # noqa: E402
from rq import Queue  # noqa: E402
from rq.job import Job  # noqa: E402

from bench.harness.services import READY  # noqa: E402

app = FastAPI()
redis = Redis.from_url(os.environ.get("BASELINE_REDIS_URL", "redis://127.0.0.1:6379/1"))
queue = Queue("chat", connection=redis)


class ChatIn(BaseModel):
    query: str = Field(min_length=1, max_length=2000)
    top_k: int = Field(5, ge=1, le=20)


@app.post("/chat", status_code=202)
def chat(body: ChatIn) -> dict:
    job = queue.enqueue("bench.baselines.rq_tasks.answer", body.query, body.top_k, job_timeout=60,
                        result_ttl=86400)
    return {"job_id": job.id, "status": "queued"}


@app.get("/result/{job_id}")
def result(job_id: str) -> dict:
    job = Job.fetch(job_id, connection=redis)
    if job is None:
        raise HTTPException(404)
    status = job.get_status()
    if status != "finished":
        raise HTTPException(202 if status in ("queued", "started", "deferred", "scheduled") else 409, str(status))
    return job.return_value()


@app.on_event("startup")
def _ready() -> None:
    print(READY, flush=True)


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]))

import time

from ragcore.domain.jobs import TERMINAL, JobStatus, is_valid_job_id, new_job, new_job_id
from ragcore.domain.lifecycle import CLAIM, FINISH, RULES, Outcome, Rule, apply


def _moves(rule: Rule) -> list[Rule]:
    return [rule, *(_moves(rule.otherwise) if rule.otherwise else [])]


def _exits(status: JobStatus) -> set[JobStatus]:
    """Where a rule may take a job in ``status``."""
    return {move.target for rule in RULES for move in _moves(rule) if status in move.sources}


def test_every_status_has_a_row_and_terminal_states_have_no_exit_but_a_redrive() -> None:
    assert {status for rule in RULES for move in _moves(rule) for status in move.sources} | TERMINAL == set(JobStatus)
    for status in TERMINAL:
        assert status.is_terminal
    assert _exits(JobStatus.FINISHED) == _exits(JobStatus.STOPPED) == set()
    assert _exits(JobStatus.FAILED) == {JobStatus.QUEUED}  # `ragcore dlq redrive` only


def test_the_happy_path_and_its_shortcuts() -> None:
    assert JobStatus.STARTED in _exits(JobStatus.QUEUED)
    assert JobStatus.FINISHED in _exits(JobStatus.STARTED)
    assert JobStatus.STARTED in _exits(JobStatus.STARTED)  # re-claim after a dead worker
    assert JobStatus.FINISHED not in _exits(JobStatus.QUEUED)  # never finished unstarted
    assert JobStatus.STARTED not in _exits(JobStatus.FINISHED)


def test_each_transition_is_named_once() -> None:
    names = [move.name for rule in RULES for move in _moves(rule)]
    assert len(names) == len(set(names))


def test_apply_checks_the_source_then_the_guards_and_leaves_the_record_alone() -> None:
    now = time.time()
    queued = new_job("chat", {"query": "q"}, 600)
    claimed = apply(CLAIM, queued, now, lease_seconds=60)
    assert claimed.outcome is Outcome.APPLIED and claimed.job is not None
    assert (claimed.job.status, claimed.job.attempts, claimed.job.lease_until) == (JobStatus.STARTED, 1, now + 60)
    assert queued.status is JobStatus.QUEUED and queued.attempts == 0  # a new record; this one unchanged
    assert apply(CLAIM, claimed.job, now, lease_seconds=60).outcome is Outcome.BUSY
    assert apply(FINISH, claimed.job, now, attempt=2).outcome is Outcome.STALE
    assert apply(FINISH, queued, now, attempt=0).outcome is Outcome.REFUSED
    assert apply(FINISH, None, now, attempt=1).outcome is Outcome.MISSING


def test_job_ids_are_32_lower_hex() -> None:
    job_id = new_job_id()
    assert is_valid_job_id(job_id)
    assert new_job_id() != job_id
    assert not is_valid_job_id(job_id.upper())
    assert not is_valid_job_id(job_id + "0")
    assert not is_valid_job_id("../" + job_id[3:])

from ragcore.domain.jobs import TERMINAL, TRANSITIONS, JobStatus, can_transition, is_valid_job_id, new_job_id


def test_every_status_has_a_row_and_terminal_states_have_no_exit_but_a_redrive() -> None:
    assert set(TRANSITIONS) == set(JobStatus)
    for status in TERMINAL:
        assert status.is_terminal
    assert TRANSITIONS[JobStatus.FINISHED] == TRANSITIONS[JobStatus.STOPPED] == frozenset()
    assert TRANSITIONS[JobStatus.FAILED] == {JobStatus.QUEUED}  # `ragcore dlq redrive` only


def test_the_happy_path_and_its_shortcuts() -> None:
    assert can_transition(JobStatus.QUEUED, JobStatus.STARTED)
    assert can_transition(JobStatus.STARTED, JobStatus.FINISHED)
    assert can_transition(JobStatus.STARTED, JobStatus.STARTED)  # re-claim after a dead worker
    assert not can_transition(JobStatus.QUEUED, JobStatus.FINISHED)  # never finished unstarted
    assert not can_transition(JobStatus.FINISHED, JobStatus.STARTED)


def test_job_ids_are_32_lower_hex() -> None:
    job_id = new_job_id()
    assert is_valid_job_id(job_id)
    assert new_job_id() != job_id
    assert not is_valid_job_id(job_id.upper())
    assert not is_valid_job_id(job_id + "0")
    assert not is_valid_job_id("../" + job_id[3:])

import io

from ragcore.api_schema import JobStatuses
from ragcore.cli.ask_file import Question, ask_file, summary


class _ExpiredJobs:
    """The API as a client sees it once every job it was following has expired."""

    def __init__(self) -> None:
        self.polls = 0

    def statuses(self, ids: list[str]) -> JobStatuses:
        self.polls += 1
        return JobStatuses(jobs=[], not_found=list(ids))


def test_a_job_the_api_no_longer_knows_is_final_at_once_not_polled_until_the_timeout() -> None:
    question = Question(1, {"query": "q"}, job_id="a" * 32, status="queued")
    client = _ExpiredJobs()
    ask_file(client, [question], timeout=600, progress=io.StringIO())  # type: ignore[arg-type]
    assert client.polls == 1
    assert question.final and question.status == "not_found"
    assert question.error == {"code": "job_not_found", "message": f"job {'a' * 32} is gone (expired?)"}
    assert summary([question]) == "1 questions: 1 not_found"

"""The web UI (/ui) and the API reference (/docs) in a real browser: headless Debian Chromium
driven by Playwright, against the real offline stack (Valkey, SQS on LocalStack, embedded
Qdrant, the ONNX embedder, the API and worker handlers behind the local API Gateway) with API
keys on. Only the LLM is a stand-in (tests/support/fake_llm.py): the UI's test is about the
page, and the stand-in answers at once, with a citation, in a known time.

Screenshots go to artifacts/ (ui.png, ui-phone.png, docs.png).
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from ragcore.bootstrap import get_container
from ragcore.domain.jobs import JobStatus
from ragcore.local.stack import DevStack
from ragcore.services.auth import create_key
from tests.support.fake_llm import FakeLLM, Reply
from tests.support.paths import ROOT, SAMPLES
from tests.support.stack import fake_llm_stack

playwright = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[dev]'")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts"
QUESTION = "When was Skerry Point Lighthouse first lit?"
SLOW_QUESTION = "Tell me slowly about the lighthouse keepers."
# The second claim is in no document: the citation check takes its [2] away and the page marks it.
ANSWER = "Skerry Point Lighthouse was first lit on 12 October 1874 [1]. Its first keeper was Angus Reid [2]."
LLM_SECONDS = 2.0  # long enough for the page to see the job started
SLOW_LLM_SECONDS = 6.0
MS = 1000
# Questions whose answer stops after its first words until the test releases it: the page must
# show those words while the job is started (a condition, not a timing).
HELD: dict[str, threading.Event] = {}
HELD_WORDS = 6
FIRST_WORD = "Skerry"  # written at once: the first piece of a stream is not held back


def reply_for(body: dict[str, Any]) -> Reply | None:
    question = body["messages"][-1]["content"]
    if SLOW_QUESTION in question:
        return Reply(delay=SLOW_LLM_SECONDS)
    held = [release for text, release in HELD.items() if text in question]
    return Reply(hold=(HELD_WORDS, held[0]), token_delay=0.05) if held else None


@pytest.fixture(scope="module")
def fake_llm() -> Iterator[FakeLLM]:
    with FakeLLM(answer=ANSWER, delay=LLM_SECONDS) as llm:
        llm.reply_for = reply_for
        yield llm


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, fake_llm: FakeLLM) -> Iterator[DevStack]:
    keys_on = {"auth_disabled": False}  # as deployed
    with fake_llm_stack(fake_llm, tmp_path_factory.mktemp("ui-stack"), "fake-model", keys_on,
                        visibility_timeout=5) as running:
        yield running


@pytest.fixture(scope="module")
def api_key(stack: DevStack) -> str:
    container = get_container()
    pepper = container.api_key_pepper
    _, key = create_key(container.key_store, pepper, "ui-test", rate_per_second=50, burst=100)
    return key


def wait_for_job(http: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = http.get(f"/job-status/{job_id}").json()
        if status["status"] not in (JobStatus.QUEUED, JobStatus.STARTED):
            return status
        time.sleep(0.3)
    raise AssertionError(f"job {job_id} not final after {timeout}s")


@pytest.fixture(scope="module")
def http(stack: DevStack, api_key: str) -> Iterator[httpx.Client]:
    """The API as a script would call it, with the same key; the lighthouse document in place so
    the question has a passage to cite."""
    bearer = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=stack.api_url, timeout=30, headers=bearer) as client:
        path = SAMPLES / "skerry-point-lighthouse.md"
        accepted = client.post("/documents", data={"document_id": path.stem},
                               files={"file": (path.name, path.read_bytes(), "text/markdown")})
        assert accepted.status_code == 202, accepted.text
        assert wait_for_job(client, accepted.json()["job_id"])["status"] == "finished"
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    assert CHROMIUM.exists(), "no /usr/bin/chromium: run scripts/setup.sh --test (apt-get install chromium)"
    with playwright.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class Watched:
    """A page whose script errors and CSP refusals are collected: the page must work with no
    inline script or style and nothing from another origin."""

    def __init__(self, browser: Any, **context_options: Any) -> None:
        self.context = browser.new_context(**context_options)
        self.page = self.context.new_page()
        self.page.set_default_timeout(30 * MS)
        self.problems: list[str] = []
        self.page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        if message.type == "error" and re.search(r"Content.Security.Policy|Refused to", message.text, re.I):
            self.problems.append(f"CSP: {message.text}")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    page = Watched(browser, viewport={"width": 1200, "height": 900})
    yield page
    page.close()
    assert page.problems == []


def test_ask_read_the_cited_passage_upload_list_and_delete(
    stack: DevStack, http: httpx.Client, api_key: str, watched: Watched, tmp_path: Path
) -> None:
    page = watched.page
    expect = playwright.expect
    page.goto(f"{stack.api_url}/ui")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page).to_have_title("ragcore")

    # Without a key: the API's 401 is shown readably, and nothing else happens.
    expect(page.locator("#documents-status")).to_contain_text("Paste your API key")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#ask-error")).to_contain_text("Error 401")
    expect(page.locator("#ask-error")).to_contain_text("API key")

    # Paste the key: kept in local storage, and the documents appear.
    page.get_by_label("Key", exact=True).fill(api_key)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#key-state")).to_have_text("Key saved in this browser.")
    assert page.evaluate("localStorage.getItem('ragcore.apiKey')") == api_key
    expect(page.locator('tr[data-document-id="skerry-point-lighthouse"]')).to_contain_text("ready")

    # Ask: the job goes queued -> started -> finished, then the answer with its citation.
    page.get_by_role("button", name="Ask", exact=True).click()
    job = page.locator("#job")
    expect(job).to_have_attribute("data-state", "started")
    expect(page.get_by_role("button", name="Cancel")).to_be_enabled()
    expect(job).to_have_attribute("data-state", "finished", timeout=60 * MS)
    assert job.get_attribute("data-seen").split() == ["sending", "queued", "started", "finished"]
    expect(page.locator("#job-status")).to_contain_text("Finished")
    expect(page.locator("#ask-error")).to_be_hidden()
    expect(page.locator("#answer-text")).to_contain_text("first lit on 12 October 1874 [1].")
    unsupported = page.locator("#answer-text .sentence.unsupported")
    expect(unsupported).to_have_count(1)
    expect(unsupported).to_contain_text("Its first keeper was Angus Reid.")
    expect(unsupported).to_contain_text("not supported by the sources")
    expect(unsupported.locator("button.cite")).to_have_count(0)
    expect(page.locator("#answer-meta")).to_contain_text("1 sentence not supported by the sources")
    expect(page.locator("#answer-meta")).to_contain_text("grounded 50%")

    # The citation reveals the passage it cites and the document it is from.
    citation = page.locator("#answer-text button.cite", has_text="1")
    expect(citation).to_have_attribute("aria-expanded", "false")
    passage = page.locator("#passage-1")
    expect(passage).to_be_hidden()
    citation.focus()
    page.keyboard.press("Enter")  # keyboard only
    expect(passage).to_be_visible()
    expect(citation).to_have_attribute("aria-expanded", "true")
    expect(passage).to_be_focused()
    expect(passage.locator("blockquote")).to_contain_text("12 October 1874")
    expect(passage).to_contain_text("skerry-point-lighthouse")
    passage.get_by_role("button", name="Show the document's record").click()
    expect(passage.locator(".record")).to_contain_text("skerry-point-lighthouse.md")

    # Upload a document: its ingestion shows, then it is listed as ready.
    note = tmp_path / "harbour-notes.md"
    note.write_text("# Harbour notes\n\nThe harbour master rang the bell at noon every Sunday.\n")
    page.get_by_label("File", exact=True).set_input_files(str(note))
    page.locator("#upload-title").fill("Harbour notes")
    page.locator("#upload-id").fill("harbour-notes")
    page.get_by_role("button", name="Upload").click()
    upload = page.locator("#uploads li").first
    expect(upload).to_have_attribute("data-state", "ingested", timeout=120 * MS)
    expect(upload).to_contain_text("ingested: added, 1 passage,")
    row = page.locator('tr[data-document-id="harbour-notes"]')
    expect(row).to_contain_text("ready", timeout=30 * MS)
    expect(row).to_contain_text("Harbour notes")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)

    # Delete it: confirmed in a dialog, gone from the list and from the API.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete Harbour notes").click()
    expect(page.locator("#documents-status")).to_have_text("Deleted “Harbour notes”.", timeout=120 * MS)
    expect(row).to_have_count(0)
    assert http.get("/documents/harbour-notes").status_code == 404

    # The key can be forgotten.
    page.get_by_role("button", name="Forget key").click()
    assert page.evaluate("localStorage.getItem('ragcore.apiKey')") is None


def held_answer(question: str) -> threading.Event:
    HELD[question] = threading.Event()
    return HELD[question]


def ask_and_see_the_answer_written(page: Any, question: str, release: threading.Event) -> None:
    """Asks ``question``; its first word shows, marked as being written, while the job is
    started and before the rest is written; then the checked answer with its citation replaces them."""
    expect = playwright.expect
    page.get_by_label("Question", exact=True).fill(question)
    page.get_by_role("button", name="Ask", exact=True).click()
    answer = page.locator("#answer")
    try:
        expect(answer).to_have_attribute("data-state", "writing")
        expect(page.locator("#answer-text")).to_contain_text(FIRST_WORD)
        expect(page.locator("#job")).to_have_attribute("data-state", "started")
        expect(answer).to_have_attribute("aria-busy", "true")
        assert "12 October" not in page.locator("#answer-text").text_content()
        expect(page.locator("#sources li")).to_have_count(0)
        expect(page.locator("#sources-title")).to_be_hidden()
    finally:
        release.set()
    expect(answer).to_have_attribute("data-state", "final", timeout=60 * MS)
    expect(page.locator("#job")).to_have_attribute("data-state", "finished")
    expect(page.locator("#answer-text")).to_contain_text("first lit on 12 October 1874 [1].")
    expect(page.locator("#answer-text button.cite")).to_have_count(1)
    expect(page.locator("#answer-text .sentence.unsupported")).to_have_count(1)
    expect(page.locator("#sources li").first).to_be_visible()
    assert answer.get_attribute("aria-busy") is None


def test_the_answer_shows_as_it_is_written_and_the_checked_answer_replaces_it(
    stack: DevStack, http: httpx.Client, api_key: str, watched: Watched
) -> None:
    page = watched.page
    followed: list[str] = []
    page.on("request", lambda request: followed.append(request.url) if request.url.endswith("/events") else None)
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
    page.reload()
    question = "Write as you go: when was Skerry Point Lighthouse first lit?"
    ask_and_see_the_answer_written(page, question, held_answer(question))
    assert len(followed) == 1 and "/jobs/" in followed[0]  # one connection: the job's events


def test_without_the_events_route_the_page_polls_the_partial_answer(
    stack: DevStack, http: httpx.Client, api_key: str, watched: Watched
) -> None:
    page = watched.page
    refused: list[str] = []

    def older_gateway(route: Any) -> None:  # API Gateway's answer to a path it does not route
        refused.append(route.request.url)
        route.fulfill(status=403, content_type="application/json", body=json.dumps(
            {"error": {"code": "MISSING_AUTHENTICATION_TOKEN", "message": "Missing Authentication Token"}}))

    page.route("**/jobs/*/events", older_gateway)
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
    page.reload()
    question = "Poll as it is written: when was Skerry Point Lighthouse first lit?"
    ask_and_see_the_answer_written(page, question, held_answer(question))
    assert len(refused) == 1


def test_a_started_question_can_be_cancelled(stack: DevStack, http: httpx.Client, api_key: str,
                                             watched: Watched) -> None:
    page = watched.page
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
    page.reload()
    expect = playwright.expect
    expect(page.locator("#key-state")).to_have_text("A key is saved in this browser.")
    page.get_by_label("Question", exact=True).fill(SLOW_QUESTION)
    page.get_by_label("Question", exact=True).press("Control+Enter")  # the keyboard way to ask
    expect(page.locator("#job")).to_have_attribute("data-state", "started")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job")).to_have_attribute("data-state", "stopped", timeout=60 * MS)
    expect(page.locator("#job-status")).to_contain_text("no answer was written")
    expect(page.locator('.steps li[aria-current="step"]')).to_have_text("Stopped")
    expect(page.locator("#answer")).to_be_hidden()


def test_follow_ups_make_a_thread_of_one_conversation_and_filters_are_sent(
    stack: DevStack, http: httpx.Client, api_key: str, watched: Watched
) -> None:
    page = watched.page
    expect = playwright.expect
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
    page.reload()
    question, job, state = page.get_by_label("Question", exact=True), page.locator("#job"), page.locator("#conversation-state")
    expect(page.get_by_role("button", name="New conversation")).to_be_disabled()

    def ask(text: str) -> None:
        question.fill(text)
        page.get_by_role("button", name="Ask", exact=True).click()
        expect(job).to_have_attribute("data-state", re.compile("finished|failed"), timeout=60 * MS)
        expect(job).to_have_attribute("data-state", "finished")

    ask(QUESTION)
    expect(state).to_contain_text("Conversation of 1 question")
    conversation_id = state.get_attribute("data-conversation-id")
    assert conversation_id and re.fullmatch(r"[0-9a-f]{32}", conversation_id)
    ask("When was it automated?")
    expect(state).to_contain_text("Conversation of 2 questions")
    assert state.get_attribute("data-conversation-id") == conversation_id
    # The first turn moved into the thread; the follow-up's answer says what it searched for.
    thread = page.locator("#thread li.turn")
    expect(thread).to_have_count(1)
    expect(thread.locator(".turn-question")).to_have_text(QUESTION)
    expect(thread.locator(".turn-answer")).to_contain_text("12 October 1874")
    expect(thread.locator(".turn-sources")).to_contain_text("[1] Skerry Point Lighthouse")
    expect(page.locator("#answer-question")).to_have_text("When was it automated?")
    expect(page.locator("#answer-meta")).to_contain_text(
        "searched for “When was it automated? Skerry Point Lighthouse”")
    turns = http.get(f"/conversations/{conversation_id}").json()["turns"]
    assert [t["question"] for t in turns] == [QUESTION, "When was it automated?"]

    # Filters: a metadata box that is not a JSON object is refused on the page, nothing sent.
    page.locator("#filters summary").click()
    page.get_by_label("Metadata conditions (JSON)").fill("[1, 2]")
    question.fill("Which documents mention a keeper?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#ask-error")).to_contain_text("must be a JSON object")
    expect(state).to_contain_text("Conversation of 2 questions")
    # A filter no passage meets leaves the answer without sources; one document's id finds it.
    page.get_by_label("Metadata conditions (JSON)").fill('{"year": {"gte": 2000}}')
    ask("Who kept the light?")
    expect(page.locator("#sources li")).to_have_count(0)
    page.get_by_label("Metadata conditions (JSON)").fill("")
    page.get_by_label("Document ids").fill("skerry-point-lighthouse, no-such-document")
    ask(QUESTION)
    expect(page.locator("#sources li").first).to_contain_text("Skerry Point Lighthouse")
    expect(thread).to_have_count(3)

    # A new conversation: the thread is cleared and the next question opens another.
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("#thread li")).to_have_count(0)
    expect(page.locator("#answer")).to_be_hidden()
    expect(state).to_contain_text("A new conversation")
    page.get_by_label("Document ids").fill("")
    ask(QUESTION)
    expect(state).to_contain_text("Conversation of 1 question")
    assert state.get_attribute("data-conversation-id") not in (None, "", conversation_id)


def test_a_rate_limited_key_is_told_when_to_retry(stack: DevStack, watched: Watched) -> None:
    container = get_container()
    _, slow_key = create_key(container.key_store, container.api_key_pepper, "ui-slow",
                             rate_per_second=0.05, burst=1)  # one request, then 20 s to wait
    page = watched.page
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", slow_key)
    page.reload()  # listing the documents spends the key's one token
    expect = playwright.expect
    expect(page.locator("#documents-status")).to_contain_text("in “default”")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    error = page.locator("#ask-error")
    expect(error).to_contain_text("Error 429")
    expect(error).to_contain_text(re.compile(r"Too many requests: .+ Try again in \d+ s\."))
    expect(page.locator("#job")).to_be_hidden()  # nothing was queued


def test_a_poll_told_to_wait_hours_shows_the_error_instead_of_waiting(
    stack: DevStack, api_key: str, watched: Watched
) -> None:
    """A spent daily quota answers polls with a Retry-After of hours: the page says so at once
    (it waits out 30 s at most), and keeps the job it queued on screen."""
    page = watched.page
    page.goto(f"{stack.api_url}/ui")
    page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
    page.reload()
    quota = json.dumps({"error": {"code": "quota_exceeded", "message": "the daily quota is used up"}})
    for path in ("**/jobs/*/events", "**/job-status/*"):  # every read of the job is refused alike
        page.route(path, lambda route: route.fulfill(
            status=429, body=quota, headers={"Content-Type": "application/json", "Retry-After": "7200"}))
    expect = playwright.expect
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask", exact=True).click()
    error = page.locator("#ask-error")
    expect(error).to_contain_text("Error 429", timeout=10 * MS)
    expect(error).to_contain_text("Try again in 7200 s.")
    expect(page.locator("#job")).to_be_visible()  # the job was queued; only its polling stopped
    expect(page.get_by_role("button", name="Ask", exact=True)).to_be_enabled()


def test_the_page_works_under_a_stage_prefix_and_on_a_phone(
    stack: DevStack, http: httpx.Client, api_key: str, browser: Any
) -> None:
    """As deployed (https://host/v1/ui): every request the page makes must carry the prefix.
    Requests to the prefix are passed on to the local gateway without it; any other is refused."""
    page = Watched(browser, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        refused: list[str] = []
        base = stack.api_url

        def unprefixed(route: Any) -> None:
            refused.append(route.request.url)
            route.abort()

        def prefixed(route: Any) -> None:
            response = route.fetch(url=route.request.url.replace(f"{base}/v1/", f"{base}/", 1))
            route.fulfill(response=response)

        page.context.route(f"{base}/**", unprefixed)
        page.context.route(f"{base}/v1/**", prefixed)
        page.page.goto(f"{base}/v1/ui")
        page.page.evaluate("key => localStorage.setItem('ragcore.apiKey', key)", api_key)
        page.page.reload()
        expect = playwright.expect
        expect(page.page.locator('tr[data-document-id="skerry-point-lighthouse"]')).to_contain_text("ready")
        # Readable on a phone: nothing wider than the screen.
        assert page.page.evaluate("document.documentElement.scrollWidth") <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        page.page.screenshot(path=str(ARTIFACTS / "ui-phone.png"), full_page=True)
        # The reference too, and its "Try it out" calls the API under the prefix.
        page.page.goto(f"{base}/v1/docs")
        path = page.page.locator('.opblock-summary-path[data-path="/"]')
        health = page.page.locator(".opblock-get", has=path)
        health.locator(".opblock-summary").click()
        health.get_by_role("button", name="Try it out").click()
        health.get_by_role("button", name="Execute").click()
        status = health.locator(".live-responses-table td.response-col_status:not(.col_header)")
        expect(status).to_contain_text("200")
        assert [url for url in refused if not url.endswith("/favicon.ico")] == []
        assert page.problems == []
    finally:
        page.close()


def test_docs_render_offline(stack: DevStack, watched: Watched) -> None:
    page = watched.page
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{stack.api_url}/docs")
    expect = playwright.expect
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    spec = httpx.get(f"{stack.api_url}/openapi.json").json()
    expected = sum(1 for item in spec["paths"].values() for method in item if method != "parameters")
    expect(operations).to_have_count(expected)
    expect(page.locator(".opblock-summary-path", has_text="/chat").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "docs.png"), full_page=False)
    assert all(url.startswith(stack.api_url) for url in requested), requested  # no CDN

// ragcore web UI: plain JavaScript, no build step, nothing inline (the page's CSP allows only
// this file). Every API URL is relative to where this script was served from, so the page
// works at http://host/ui as well as under a stage prefix (https://host/v1/ui).
"use strict";

(() => {
  // .../ui/app.js -> .../  (the API's base, stage prefix included)
  const API_BASE = new URL("../", document.currentScript.src);
  const KEY_STORAGE = "ragcore.apiKey";
  const POLL_MS = 1000;
  // The longest Retry-After a poll waits out; a longer one (a spent daily quota: hours) ends
  // the polling with the error shown, rather than a page that silently waits for hours.
  const MAX_RETRY_AFTER_S = 30;
  const MAX_INLINE_BYTES = 4 * 1024 * 1024; // the API's default MAX_INLINE_DOCUMENT_BYTES
  const FINAL = new Set(["finished", "failed", "stopped"]);
  const PAGE_SIZE = 50;

  const $ = (id) => document.getElementById(id);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // ---------------------------------------------------------------- the key

  let memoryKey = null; // when local storage is unavailable (private mode, blocked storage)

  function getKey() {
    try {
      return window.localStorage.getItem(KEY_STORAGE) || memoryKey;
    } catch {
      return memoryKey;
    }
  }

  function setKey(value) {
    memoryKey = value;
    try {
      if (value) window.localStorage.setItem(KEY_STORAGE, value);
      else window.localStorage.removeItem(KEY_STORAGE);
      return true;
    } catch {
      return false;
    }
  }

  function showKeyState(message) {
    $("key-state").textContent = message || (getKey()
      ? "A key is saved in this browser."
      : "No key saved. Paste the key you were given (it starts with rk_).");
  }

  // ---------------------------------------------------------------- calling the API

  class ApiError extends Error {
    constructor(status, code, message, details, retryAfter) {
      super(message);
      this.status = status;
      this.code = code;
      this.details = details || [];
      this.retryAfter = retryAfter;
    }
  }

  function apiUrl(path, params) {
    const url = new URL(path, API_BASE);
    for (const [name, value] of Object.entries(params || {})) {
      if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, value);
    }
    return url;
  }

  async function call(method, path, { json, form, params } = {}) {
    const headers = authorized({ Accept: "application/json" });
    let body;
    if (json !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(json);
    } else if (form) {
      body = form; // the browser sets multipart/form-data with its boundary
    }
    let response;
    try {
      response = await fetch(apiUrl(path, params), {
        method, headers, body, cache: "no-store", credentials: "omit", redirect: "error",
      });
    } catch {
      throw new ApiError(0, "network_error", "The API could not be reached. Check the connection and try again.");
    }
    const data = await jsonOf(response);
    if (!response.ok) throw errorOf(response, data);
    return { status: response.status, data, headers: response.headers };
  }

  // The API key, when one is set, on a request's headers.
  function authorized(headers) {
    const key = getKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    return headers;
  }

  // A response's JSON body, or null (empty, or not JSON: a gateway's HTML error page).
  async function jsonOf(response) {
    const text = await response.text();
    try {
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  function errorOf(response, data) {
    const error = (data && data.error) || {};
    const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    let message = error.message || response.statusText || "the request failed";
    if (response.status === 401) {
      message = `The API key was not accepted (${message}). Paste a valid key under “API key”.`;
    } else if (response.status === 429) {
      const wait = Number.isFinite(retryAfter) ? `${retryAfter} s` : "a moment";
      message = `Too many requests: ${message}. Try again in ${wait}.`;
    } else if (response.status === 503) {
      message = `The service is busy or a dependency is down (${message}). Try again shortly.`;
    }
    return new ApiError(response.status, error.code || `http_${response.status}`, message, error.details,
      Number.isFinite(retryAfter) ? retryAfter : undefined);
  }

  function showError(box, error) {
    box.replaceChildren();
    if (!error) {
      box.hidden = true;
      return;
    }
    const title = document.createElement("p");
    const strong = document.createElement("strong");
    strong.textContent = error.status ? `Error ${error.status}` : "Error";
    title.append(strong, ` ${error.message}`);
    box.append(title);
    if (error.details && error.details.length) {
      const list = document.createElement("ul");
      for (const detail of error.details) {
        const item = document.createElement("li");
        item.textContent = [detail.field, detail.problem].filter(Boolean).join(": ") || JSON.stringify(detail);
        list.append(item);
      }
      box.append(list);
    }
    if (error.code && error.status) {
      const code = document.createElement("p");
      code.className = "help";
      code.textContent = `code: ${error.code}`;
      box.append(code);
    }
    box.hidden = false;
  }

  function asError(error) {
    return error instanceof ApiError ? error : new ApiError(0, "client_error", String(error && error.message || error));
  }

  // Polls a job until it is final; 429 and 503 wait as told (up to MAX_RETRY_AFTER_S) and go
  // on, other errors (and longer waits) end it.
  async function follow(jobId, onStatus, isCurrent = () => true) {
    for (;;) {
      let status;
      try {
        status = (await call("GET", `job-status/${encodeURIComponent(jobId)}`)).data;
      } catch (error) {
        if (!isCurrent()) return null;
        const wait = error.retryAfter === undefined ? 2 : error.retryAfter;
        if ((error.status === 429 || error.status === 503) && wait <= MAX_RETRY_AFTER_S) {
          onStatus(null, error);
          await sleep(1000 * wait);
          continue;
        }
        throw error;
      }
      if (!isCurrent()) return null;
      onStatus(status, null);
      if (FINAL.has(status.status)) return status;
      await sleep(POLL_MS);
    }
  }

  // ---------------------------------------------------------------- a job's events

  // What an older server answers for GET jobs/{id}/events: the page then polls.
  const NO_EVENTS_ROUTE = new Set([404, 405, 501]);
  const MAX_QUIET_CONNECTIONS = 3; // in a row that brought nothing: the page polls instead

  // Follows GET jobs/{id}/events: server-sent events read with fetch, since EventSource cannot
  // send the API key. A dropped connection, or the server's close of a long one, is opened
  // again with Last-Event-ID, so nothing is lost (a snapshot may repeat text: STREAMING.md).
  // Calls onStatus(status) and onDelta(offset, text); resolves with the job's end ({status,
  // error} and the result), or null when the events cannot be followed (an older server, or
  // connections that keep failing): the caller polls then. A refused key (401, 403) is thrown,
  // as a poll would.
  async function streamEvents(jobId, { onStatus, onDelta }, isCurrent) {
    let lastId = null;
    let quiet = 0;
    while (quiet < MAX_QUIET_CONNECTIONS) {
      const headers = authorized({ Accept: "text/event-stream" });
      if (lastId) headers["Last-Event-ID"] = lastId;
      let heard = false;
      try {
        const response = await fetch(apiUrl(`jobs/${encodeURIComponent(jobId)}/events`), {
          headers, cache: "no-store", credentials: "omit", redirect: "error",
        });
        if (!response.ok) {
          const data = await jsonOf(response);
          const code = data && data.error && data.error.code;
          if (NO_EVENTS_ROUTE.has(response.status) || code === "MISSING_AUTHENTICATION_TOKEN") return null;
          if (response.status === 401 || response.status === 403) throw errorOf(response, data);
          return null; // 429, 503, ...: polling waits them out
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = sseParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (!isCurrent()) {
            reader.cancel();
            return undefined;
          }
          if (done) break;
          heard = true; // events or heartbeats: the connection was alive, a close is the server's bound
          for (const event of parser(value)) {
            if (event.id) lastId = event.id;
            const data = JSON.parse(event.data);
            if (event.type === "status") onStatus(data.status);
            else if (event.type === "delta") onDelta(data.offset, data.text);
            else if (event.type === "result") {
              reader.cancel();
              return { status: { status: "finished" }, result: data };
            } else if (event.type === "error") {
              reader.cancel();
              const error = data.error || {};
              return { status: { status: error.status || "failed", error: error.message } };
            }
          }
        }
      } catch (error) {
        if (error instanceof ApiError) throw error;
        // a dropped connection (or an event that is not JSON): connect again
      }
      if (!isCurrent()) return undefined;
      quiet = heard ? 0 : quiet + 1;
      if (quiet) await sleep(500 * 2 ** (quiet - 1));
    }
    return null;
  }

  // An event-stream parser (the WHATWG rules this page needs: fields id, event, data; comments
  // and retry ignored): text in, the events it completes out.
  function sseParser() {
    let buffer = "";
    let event = { id: null, type: "message", data: [] };
    return (text) => {
      buffer += text;
      // A trailing \r may be the first half of \r\n: it waits for the next piece.
      const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
      const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
      buffer = lines.pop() + buffer.slice(cut); // an unfinished line waits for the rest
      const done = [];
      for (const line of lines) {
        if (line === "") {
          if (event.data.length) done.push({ id: event.id, type: event.type, data: event.data.join("\n") });
          event = { id: null, type: "message", data: [] };
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "id") event.id = value;
        else if (field === "event") event.type = value;
        else if (field === "data") event.data.push(value);
      }
      return done;
    };
  }

  // ---------------------------------------------------------------- asking

  let currentAsk = null; // { jobId, collection, started, question }
  // The conversation the next question joins (null: a new one), and its shown turn, which
  // moves into the thread above when the next question is asked.
  let conversation = { id: null, turns: 0, shown: null };

  const STATE_TEXT = {
    sending: "Sending the question…",
    queued: "Queued: waiting for a worker.",
    started: "Started: finding passages and writing the answer.",
    finished: "Finished.",
    failed: "Failed.",
    stopped: "Stopped.",
  };

  // A job back in the queue after a failed attempt: say what failed and when it is tried again.
  function retryNote(status) {
    if (status.status !== "queued" || !status.retry_at) return "";
    const at = new Date(status.retry_at).toLocaleTimeString();
    return `Attempt ${status.attempts} failed (${status.last_error}); trying again at ${at}.`;
  }

  function showJobState(state, extra) {
    const job = $("job");
    job.hidden = false;
    job.dataset.state = state;
    const seen = new Set((job.dataset.seen || "").split(" ").filter(Boolean));
    seen.add(state);
    job.dataset.seen = [...seen].join(" ");
    const order = ["queued", "started", "finished"];
    const reached = state === "finished" ? 3 : state === "started" ? 2 : state === "queued" ? 1 : null;
    for (const step of job.querySelectorAll(".steps li")) {
      const index = order.indexOf(step.dataset.step) + 1;
      step.classList.remove("done", "current", "bad");
      step.removeAttribute("aria-current");
      if (step.dataset.step === "finished") step.textContent = "Finished";
      if (reached !== null) {
        if (index < reached || (index === reached && state === "finished")) step.classList.add("done");
        if (index === reached) step.setAttribute("aria-current", "step");
        if (index === reached && state !== "finished") step.classList.add("current");
      }
    }
    if (state === "failed" || state === "stopped") {
      const last = job.querySelector('.steps li[data-step="finished"]');
      last.textContent = state === "failed" ? "Failed" : "Stopped";
      last.classList.add("bad");
      last.setAttribute("aria-current", "step");
      for (const step of job.querySelectorAll(".steps li")) {
        if (step !== last && seen.has(step.dataset.step)) step.classList.add("done");
      }
    }
    $("job-status").textContent = [STATE_TEXT[state] || state, extra].filter(Boolean).join(" ");
  }

  // The filter inputs as POST /chat's ``filter``: undefined when both are empty; throws an
  // ApiError (shown like the API's 422) when the metadata box is not a JSON object.
  function filterOf() {
    const ids = $("filter-documents").value.split(",").map((id) => id.trim()).filter(Boolean);
    const text = $("filter-metadata").value.trim();
    const filter = {};
    if (ids.length) filter.document_ids = ids;
    if (text) {
      let metadata;
      try {
        metadata = JSON.parse(text);
      } catch (error) {
        metadata = undefined;
      }
      if (!metadata || typeof metadata !== "object" || Array.isArray(metadata)) {
        throw new ApiError(0, "invalid", "The metadata conditions must be a JSON object, like " +
          '{"year": {"gte": 2000}}.', [{ field: "filter.metadata", problem: "not a JSON object" }]);
      }
      filter.metadata = metadata;
    }
    return Object.keys(filter).length ? filter : undefined;
  }

  function showConversation() {
    const state = $("conversation-state");
    state.textContent = conversation.id
      ? `Conversation of ${conversation.turns} question${conversation.turns === 1 ? "" : "s"}: ` +
        "the next question is a follow-up."
      : "A new conversation: follow-up questions build on the answers before them.";
    state.dataset.conversationId = conversation.id || "";
    $("new-conversation").disabled = !conversation.id;
  }

  // The shown turn goes into the thread: its question, its answer as text, its sources' titles.
  function archiveShownTurn() {
    const shown = conversation.shown;
    conversation.shown = null;
    if (!shown) return;
    const item = document.createElement("li");
    item.className = "turn";
    const question = document.createElement("p");
    question.className = "turn-question";
    question.textContent = shown.question;
    const answer = document.createElement("p");
    answer.className = "turn-answer";
    answer.textContent = shown.answer;
    item.append(question, answer);
    if (shown.sources.length) {
      const sources = document.createElement("p");
      sources.className = "turn-sources";
      sources.textContent = `Sources: ${shown.sources.map((s) => `[${s.n}] ${s.title}`).join("; ")}`;
      item.append(sources);
    }
    $("thread").append(item);
  }

  function newConversation() {
    conversation = { id: null, turns: 0, shown: null };
    $("thread").replaceChildren();
    $("answer").hidden = true;
    $("job").hidden = true;
    showError($("ask-error"), null);
    showConversation();
    $("question").value = "";
    $("question").focus();
  }

  async function ask(event) {
    event.preventDefault();
    const query = $("question").value.trim();
    const collection = $("ask-collection").value.trim();
    showError($("ask-error"), null);
    if (!query) {
      showError($("ask-error"), new ApiError(0, "invalid", "Type a question first."));
      $("question").focus();
      return;
    }
    let filter;
    try {
      filter = filterOf();
    } catch (error) {
      showError($("ask-error"), error);
      $("filter-metadata").focus();
      return;
    }
    archiveShownTurn();
    $("answer").hidden = true;
    $("job").dataset.seen = "";
    showJobState("sending");
    $("ask-submit").disabled = true;
    const body = { query };
    if (collection) body.collection = collection;
    if (filter) body.filter = filter;
    if (conversation.id) body.conversation_id = conversation.id;
    const ticket = { jobId: null, collection: collection || "default", started: Date.now(), question: query };
    currentAsk = ticket;
    try {
      const accepted = (await call("POST", "chat", { json: body })).data;
      ticket.jobId = accepted.job_id;
      conversation.id = accepted.conversation_id || null;
      conversation.turns += 1;
      showConversation();
      $("question").value = "";
      $("ask-cancel").disabled = false;
      showJobState(accepted.status);
      const isCurrent = () => currentAsk === ticket;
      // The answer as it is written: from the job's events, or (from an older server, or when
      // the events cannot be followed) from polling the status's partial_answer.
      let partial = "";
      const onDelta = (offset, text) => {
        partial = Array.from(partial).slice(0, offset).join("") + text; // offsets count code points
        showPartial(ticket.question, partial);
      };
      const streamed = await streamEvents(ticket.jobId, {
        onStatus: (status) => {
          if (!FINAL.has(status)) showJobState(status);
        },
        onDelta,
      }, isCurrent);
      if (streamed === undefined) return;
      if (streamed) {
        await finishAsk(ticket, streamed.status, streamed.result);
        return;
      }
      const final = await follow(ticket.jobId, (status, error) => {
        if (error) showJobState($("job").dataset.state, `(${error.message})`);
        else if (!FINAL.has(status.status)) {
          showJobState(status.status, status.cancel_requested ? "Stopping…" : retryNote(status));
          if (status.partial_answer && status.partial_answer !== partial) onDelta(0, status.partial_answer);
        }
      }, isCurrent);
      if (!final) return;
      await finishAsk(ticket, final);
    } catch (error) {
      if (currentAsk === ticket) {
        if (!ticket.jobId) $("job").hidden = true; // nothing was queued
        const problem = asError(error);
        if (problem.code === "conversation_not_found" || problem.code === "conversation_full") {
          problem.message += " Select “New conversation” to go on.";
        }
        showError($("ask-error"), problem);
      }
    } finally {
      if (currentAsk === ticket) {
        $("ask-submit").disabled = false;
        $("ask-cancel").disabled = true;
      }
    }
  }

  // The answer so far, while it is written; the final answer (renderAnswer) replaces it.
  function showPartial(question, text) {
    const answer = $("answer");
    $("answer-question").textContent = question;
    $("answer-text").textContent = text;
    $("sources").replaceChildren();
    $("answer-meta").textContent = "Being written; the citations are checked when it is done.";
    answer.dataset.state = "writing";
    answer.setAttribute("aria-busy", "true");
    answer.hidden = false;
  }

  // ``result``: the result document when the job's events brought it, else it is fetched.
  async function finishAsk(ticket, status, result) {
    $("ask-cancel").disabled = true;
    if (status.status !== "finished") $("answer").hidden = true; // no checked answer: no partial one
    if (status.status === "failed") {
      showJobState("failed", status.error ? `Reason: ${status.error}` : "");
      conversation.shown = { question: ticket.question, answer: `(no answer: ${status.error || "failed"})`, sources: [] };
      return;
    }
    if (status.status === "stopped") {
      showJobState("stopped", "The question was cancelled; no answer was written.");
      conversation.shown = { question: ticket.question, answer: "(cancelled)", sources: [] };
      return;
    }
    const seconds = ((Date.now() - ticket.started) / 1000).toFixed(1);
    if (!result) result = (await call("GET", `result/${encodeURIComponent(ticket.jobId)}`)).data;
    showJobState("finished", `Answered in ${seconds} s.`);
    $("answer-question").textContent = ticket.question;
    renderAnswer(result, ticket.collection, ticket.question);
    conversation.shown = { question: ticket.question, answer: result.answer, sources: result.sources };
  }

  async function cancelAsk() {
    const ticket = currentAsk;
    if (!ticket || !ticket.jobId) return;
    $("ask-cancel").disabled = true;
    try {
      const response = await call("POST", `jobs/${encodeURIComponent(ticket.jobId)}/cancel`);
      showJobState(response.data.status, response.status === 202 ? "Stopping at its next step…" : "");
    } catch (error) {
      showError($("ask-error"), asError(error));
    }
  }

  const CITATION = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

  function renderAnswer(result, collection, question) {
    const sources = new Map(result.sources.map((source) => [source.n, source]));
    const text = $("answer-text");
    text.replaceChildren();
    // The answer as written, each sentence in a span: the citation check's verdict marks a
    // claim no source supports. Offsets count code points, as the API's do.
    const chars = Array.from(result.answer);
    let last = 0;
    for (const sentence of result.sentences || []) {
      if (sentence.end <= sentence.start || sentence.start < last) continue;
      appendCited(text, chars.slice(last, sentence.start).join(""), sources);
      text.append(sentenceItem(sentence, chars.slice(sentence.start, sentence.end).join(""), sources));
      last = sentence.end;
    }
    appendCited(text, chars.slice(last).join(""), sources);
    $("answer").dataset.state = "final";
    $("answer").removeAttribute("aria-busy");

    const list = $("sources");
    list.replaceChildren(...result.sources.map((source) => sourceItem(source, collection)));
    const usage = result.usage || {};
    const timings = result.timings_ms || {};
    const unsupported = (result.sentences || []).filter((s) => s.claim !== false && !s.supported).length;
    $("answer-meta").textContent = [
      result.standalone_query && result.standalone_query !== question && `searched for “${result.standalone_query}”`,
      METHODS[result.method],
      unsupported && `${unsupported} sentence${unsupported > 1 ? "s" : ""} not supported by the sources`,
      typeof result.grounded === "number" && `grounded ${Math.round(result.grounded * 100)}%`,
      result.model && result.model !== "none" && `model ${result.model}`,
      usage.total_tokens && `${usage.total_tokens} tokens`,
      timings.total_ms && `worker time ${(timings.total_ms / 1000).toFixed(1)} s`,
    ].filter(Boolean).join(" · ");
    $("answer").hidden = false;
  }

  const METHODS = {
    generated: "written by the model, citations checked",
    rephrased: "a source sentence, reworded by the model and checked",
    quoted: "quoted from the sources",
    declined: "the sources do not answer this",
  };

  function sentenceItem(sentence, written, sources) {
    const span = document.createElement("span");
    span.className = "sentence";
    appendCited(span, written, sources);
    if (sentence.claim !== false && !sentence.supported) {
      span.classList.add("unsupported");
      const tag = document.createElement("span");
      tag.className = "unsupported-tag";
      tag.textContent = "not supported by the sources";
      span.append(" ", tag);
    }
    return span;
  }

  // Text with its [n] markers as buttons that open the source; a number that is not a source stays text.
  function appendCited(container, answer, sources) {
    let last = 0;
    for (const match of answer.matchAll(CITATION)) {
      const numbers = match[1].split(",").map((n) => Number.parseInt(n.trim(), 10));
      if (!numbers.every((n) => sources.has(n))) continue;
      container.append(answer.slice(last, match.index), "[");
      numbers.forEach((n, i) => {
        if (i) container.append(", ");
        const button = document.createElement("button");
        button.type = "button";
        button.className = "cite";
        button.textContent = String(n);
        button.setAttribute("aria-label", `Source ${n}: ${sources.get(n).title}`);
        button.setAttribute("aria-controls", `passage-${n}`);
        button.setAttribute("aria-expanded", "false");
        button.dataset.n = String(n);
        button.addEventListener("click", () => revealSource(n, true));
        container.append(button);
      });
      container.append("]");
      last = match.index + match[0].length;
    }
    container.append(answer.slice(last));
  }

  function sourceItem(source, collection) {
    const item = document.createElement("li");
    item.id = `source-${source.n}`;
    item.className = "source";
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "source-toggle";
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-controls", `passage-${source.n}`);
    const number = document.createElement("span");
    number.className = "source-n";
    number.textContent = `[${source.n}]`;
    const title = document.createElement("span");
    title.textContent = ` ${source.title}`;
    toggle.append(number, title);
    toggle.addEventListener("click", () => revealSource(source.n, toggle.getAttribute("aria-expanded") !== "true"));

    const passage = document.createElement("div");
    passage.id = `passage-${source.n}`;
    passage.className = "passage";
    passage.tabIndex = -1;
    passage.hidden = true;
    const quote = document.createElement("blockquote");
    quote.textContent = source.snippet;
    const facts = document.createElement("dl");
    const addFact = (name, value) => {
      if (value === undefined || value === null || value === "") return;
      const dt = document.createElement("dt");
      dt.textContent = name;
      const dd = document.createElement("dd");
      if (value instanceof Node) dd.append(value);
      else dd.textContent = value;
      facts.append(dt, dd);
    };
    addFact("Document", source.title);
    addFact("Document id", source.document_id);
    addFact("Source", /^https?:\/\//i.test(source.source) ? externalLink(source.source) : source.source);
    addFact("Relevance score", Number(source.score).toFixed(2));
    const more = document.createElement("button");
    more.type = "button";
    more.className = "secondary small";
    more.textContent = "Show the document's record";
    const record = document.createElement("div");
    record.className = "record";
    record.setAttribute("aria-live", "polite");
    more.addEventListener("click", () => showRecord(source.document_id, collection, record, more));
    passage.append(quote, facts, more, record);
    item.append(toggle, passage);
    return item;
  }

  function externalLink(href) {
    const link = document.createElement("a");
    link.href = href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = href;
    return link;
  }

  function revealSource(n, open) {
    const passage = $(`passage-${n}`);
    if (!passage) return;
    passage.hidden = !open;
    for (const control of document.querySelectorAll(`[aria-controls="passage-${n}"]`)) {
      control.setAttribute("aria-expanded", String(open));
    }
    $(`source-${n}`).classList.toggle("open", open);
    if (open) {
      passage.scrollIntoView({ block: "nearest", behavior: "smooth" });
      passage.focus({ preventScroll: true });
    }
  }

  async function showRecord(documentId, collection, box, button) {
    button.disabled = true;
    box.replaceChildren();
    try {
      const record = (await call("GET", `documents/${encodeURIComponent(documentId)}`, { params: { collection } })).data;
      const facts = document.createElement("dl");
      for (const [name, value] of [
        ["Title", record.title], ["File", record.filename], ["Type", record.content_type],
        ["Size", record.size_bytes != null ? `${record.size_bytes} bytes` : null], ["Status", record.status],
        ["Passages", record.chunks], ["Collection", record.collection], ["Updated", when(record.updated_at)],
      ]) {
        if (value === undefined || value === null || value === "") continue;
        const dt = document.createElement("dt");
        dt.textContent = name;
        const dd = document.createElement("dd");
        dd.textContent = String(value);
        facts.append(dt, dd);
      }
      box.append(facts);
    } catch (error) {
      const note = document.createElement("p");
      note.className = "notice error";
      note.textContent = asError(error).status === 404
        ? "This document is no longer in the collection."
        : asError(error).message;
      box.append(note);
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- documents

  let listedCollection = "default";
  let nextOffset = null;
  let refreshTimer = null;

  // Document records carry epoch seconds, job documents ISO 8601 strings.
  function when(value) {
    if (value === undefined || value === null || value === "") return "";
    const date = new Date(typeof value === "number" ? value * 1000 : value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
  }

  async function upload(event) {
    event.preventDefault();
    showError($("documents-error"), null);
    const input = $("upload-file");
    const file = input.files && input.files[0];
    if (!file) {
      showError($("documents-error"), new ApiError(0, "invalid", "Choose a file to upload."));
      input.focus();
      return;
    }
    if (file.size > MAX_INLINE_BYTES) {
      showError($("documents-error"), new ApiError(0, "too_large",
        `“${file.name}” is larger than 4 MB. Upload it with the command line (ragcore ingest) or the ` +
        "API's presigned uploads (POST /documents/uploads)."));
      return;
    }
    const collection = $("upload-collection").value.trim();
    const form = new FormData();
    form.append("file", file, file.name);
    for (const [field, id] of [["title", "upload-title"], ["document_id", "upload-id"]]) {
      const value = $(id).value.trim();
      if (value) form.append(field, value);
    }
    if (collection) form.append("collection", collection);
    const item = document.createElement("li");
    item.className = "upload";
    const name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    const state = document.createElement("span");
    state.className = "upload-state";
    item.append(name, " ", state);
    $("uploads").prepend(item);
    const say = (status, text) => {
      item.dataset.state = status;
      state.textContent = text;
    };
    say("sending", "uploading…");
    $("upload-submit").disabled = true;
    try {
      const accepted = (await call("POST", "documents", { form })).data;
      item.dataset.documentId = accepted.document_id;
      $("upload-form").reset();
      $("upload-submit").disabled = false;
      say(accepted.status, "queued for ingestion…");
      if (accepted.collection === listedCollection) loadDocuments();
      const final = await follow(accepted.job_id, (status, error) => {
        if (error) say(item.dataset.state, `waiting: ${error.message}`);
        else if (status.status === "started") say("started", "ingesting: reading, splitting and indexing…");
      });
      if (final.status === "finished") {
        const result = (await call("GET", `result/${encodeURIComponent(accepted.job_id)}`)).data;
        const what = { created: "added", replaced: "replaced", unchanged: "unchanged (same content)" }[result.action]
          || result.action;
        const count = result.chunks ?? 0;
        say("ingested", `ingested: ${what}, ${count} passage${count === 1 ? "" : "s"}, as “${result.document_id}”.`);
      } else {
        say(final.status, `${final.status}${final.error ? `: ${final.error}` : ""}`);
      }
      if (accepted.collection === listedCollection) loadDocuments();
    } catch (error) {
      say("error", "not uploaded");
      showError($("documents-error"), asError(error));
    } finally {
      $("upload-submit").disabled = false;
    }
  }

  async function loadDocuments(more = false) {
    clearTimeout(refreshTimer);
    const status = $("documents-status");
    if (!more) listedCollection = $("list-collection").value.trim() || "default";
    const collection = listedCollection;
    const offset = more ? nextOffset || 0 : 0;
    try {
      const page = (await call("GET", "documents", { params: { collection, offset, limit: PAGE_SIZE } })).data;
      if (collection !== listedCollection) return;
      const body = $("documents-body");
      if (!more) body.replaceChildren();
      body.append(...page.documents.map(documentRow));
      nextOffset = page.next_offset;
      $("documents-more").hidden = nextOffset === null || nextOffset === undefined;
      status.textContent = page.total === 0
        ? `No documents in “${collection}” yet.`
        : `${page.total} document${page.total === 1 ? "" : "s"} in “${collection}”.`;
      showError($("documents-error"), null);
      if (page.documents.some((d) => d.status === "ingesting" || d.status === "deleting")) {
        refreshTimer = setTimeout(() => loadDocuments(), 3000);
      }
    } catch (error) {
      const problem = asError(error);
      if (problem.status === 401) {
        $("documents-body").replaceChildren();
        status.textContent = "Paste your API key under “API key” to see the documents.";
      } else {
        status.textContent = "";
        showError($("documents-error"), problem);
      }
    }
  }

  const STATUS_TEXT = { ingesting: "ingesting…", ready: "ready", failed: "failed", deleting: "deleting…" };

  function documentRow(doc) {
    const row = document.createElement("tr");
    row.dataset.documentId = doc.document_id;
    row.dataset.status = doc.status;
    const cell = (content, label) => {
      const td = document.createElement("td");
      td.dataset.label = label;
      if (content instanceof Node) td.append(content);
      else td.textContent = content === null || content === undefined ? "" : String(content);
      row.append(td);
      return td;
    };
    cell(doc.title || doc.filename || doc.document_id, "Title");
    const id = document.createElement("code");
    id.textContent = doc.document_id;
    cell(id, "Id");
    const badge = document.createElement("span");
    badge.className = `badge ${doc.status}`;
    badge.textContent = STATUS_TEXT[doc.status] || doc.status;
    const statusCell = cell(badge, "Status");
    if (doc.error) {
      const reason = document.createElement("span");
      reason.className = "help";
      reason.textContent = ` ${doc.error}`;
      statusCell.append(reason);
    }
    cell(doc.chunks, "Passages");
    cell(when(doc.updated_at), "Updated");
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger small";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${doc.title || doc.document_id}`);
    remove.disabled = doc.status === "deleting";
    remove.addEventListener("click", () => deleteDocument(doc, row, remove));
    cell(remove, "Actions");
    return row;
  }

  async function deleteDocument(doc, row, button) {
    const name = doc.title || doc.document_id;
    if (!window.confirm(`Delete “${name}”? Answers will no longer use its passages.`)) return;
    button.disabled = true;
    showError($("documents-error"), null);
    const collection = listedCollection;
    try {
      const accepted = (await call("DELETE", `documents/${encodeURIComponent(doc.document_id)}`,
        { params: { collection } })).data;
      row.dataset.status = "deleting";
      row.querySelector(".badge").className = "badge deleting";
      row.querySelector(".badge").textContent = STATUS_TEXT.deleting;
      $("documents-status").textContent = `Deleting “${name}”…`;
      const final = await follow(accepted.job_id, () => {});
      $("documents-status").textContent = final.status === "finished"
        ? `Deleted “${name}”.`
        : `Deleting “${name}” ${final.status}${final.error ? `: ${final.error}` : ""}.`;
      await loadDocuments();
      if (final.status === "finished") $("documents-status").textContent = `Deleted “${name}”.`;
    } catch (error) {
      button.disabled = false;
      showError($("documents-error"), asError(error));
    }
  }

  // ---------------------------------------------------------------- wiring

  function start() {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const value = $("key-input").value.trim();
      if (!value) {
        showKeyState("Paste a key first.");
        $("key-input").focus();
        return;
      }
      const kept = setKey(value);
      $("key-input").value = "";
      showKeyState(kept ? "Key saved in this browser." : "Key kept for this visit only: this browser does not allow storing it.");
      loadDocuments();
    });
    $("key-forget").addEventListener("click", () => {
      setKey(null);
      $("key-input").value = "";
      showKeyState("Key forgotten: it is no longer stored in this browser.");
      $("documents-body").replaceChildren();
      $("documents-status").textContent = "";
    });
    $("ask-form").addEventListener("submit", ask);
    $("question").addEventListener("keydown", (event) => {
      // Enter starts a new line; Ctrl+Enter (⌘+Enter) asks.
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        $("ask-form").requestSubmit();
      }
    });
    $("ask-cancel").addEventListener("click", cancelAsk);
    $("new-conversation").addEventListener("click", newConversation);
    $("upload-form").addEventListener("submit", upload);
    $("list-form").addEventListener("submit", (event) => {
      event.preventDefault();
      loadDocuments();
    });
    $("documents-more").addEventListener("click", () => loadDocuments(true));
    showKeyState();
    loadDocuments();
    document.body.dataset.ready = "true";
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();

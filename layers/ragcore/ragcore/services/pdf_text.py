"""PDF text extraction in a child process, bounded in time and memory.

pypdf's cost follows a page's decoded content, not the file's size: a 4.6 kB PDF whose page
holds a 2 MB content stream takes ~9 s and 1.2 M characters to extract, and pages may share
one stream, so the cost grows with pages at no cost in bytes. No bound inside pypdf stops it
early (its text visitor is called only once a page is parsed), so the child has an address
space limit (``RLIMIT_AS``) and is killed at the deadline; pages and characters are counted
as it goes. A plain subprocess with pipes, not multiprocessing's Pool or Queue: those need
POSIX semaphores in /dev/shm, which AWS Lambda does not have; a subprocess runs there.
"""

from __future__ import annotations

import io
import json
import os
import resource
import subprocess
import sys
from typing import Any

_MB = 1024 * 1024


def extract(
    data: bytes, max_pages: int, max_chars: int, seconds: float, memory_mb: int
) -> tuple[list[str], str | None]:
    """(each page's text, the title) of a PDF, or the bound it broke."""
    # Imported here, not at the top: the child runs this module, and needs only pypdf (its
    # import is most of the child's ~0.2 s start; ragcore's errors would add 0.1 s).
    from ragcore.domain.errors import DocumentTooLargeError, InvalidDocumentError

    # The child reads an attacker's file, so it gets no more than it needs: ragcore from
    # wherever this process imports it (a Lambda layer, a checkout), and none of this process's
    # environment (in Lambda that holds the function's AWS credentials); -P keeps the working
    # directory off its path; its stderr (a traceback) is dropped, not buffered without bound.
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p), "PATH": os.environ.get("PATH", "")}
    command = [sys.executable, "-P", "-m", __name__, str(max_pages), str(max_chars), str(memory_mb)]
    try:
        done = subprocess.run(
            command, input=data, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=seconds, env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:  # run() has killed and reaped the child
        reason = f"the PDF took more than {seconds:g} s to read (PDF_PARSE_SECONDS)"
        raise DocumentTooLargeError(reason) from exc
    try:
        reply: dict[str, Any] = json.loads(done.stdout)
    except ValueError:  # killed, or a crash before it could answer
        reply = {"error": "memory" if done.returncode < 0 else "crash"}
    if "error" not in reply:
        return reply["pages"], reply["title"]
    too_large = {
        "memory": f"the PDF needs more than {memory_mb} MB to read (PDF_PARSE_MEMORY_MB)",
        "pages": f"the PDF has {reply.get('pages')} pages; the limit is {max_pages} (MAX_DOCUMENT_PAGES)",
        "chars": f"the PDF's text is longer than {max_chars} characters (MAX_DOCUMENT_CHARS)",
        "inflate": f"a stream in the PDF inflates past pypdf's limit ({reply.get('detail')})",
    }.get(reply["error"])
    if too_large:
        raise DocumentTooLargeError(too_large)
    raise InvalidDocumentError(f"the PDF could not be read ({reply.get('detail', 'the reader crashed')})")


def _read(data: bytes, max_pages: int, max_chars: int) -> dict[str, Any]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data))
    if len(reader.pages) > max_pages:
        return {"error": "pages", "pages": len(reader.pages)}
    pages, total = [], 0
    for page in reader.pages:
        pages.append(page.extract_text() or "")
        total += len(pages[-1])
        if total > max_chars:  # stop here: the rest would only cost more
            return {"error": "chars"}
    title = reader.metadata.title if reader.metadata else None
    return {"pages": pages, "title": str(title) if title else None}


def _main(max_pages: int, max_chars: int, memory_mb: int) -> None:
    from pypdf.errors import LimitReachedError

    resource.setrlimit(resource.RLIMIT_AS, (memory_mb * _MB, memory_mb * _MB))
    try:
        reply = _read(sys.stdin.buffer.read(), max_pages, max_chars)
    except LimitReachedError as exc:  # pypdf's own bound on a stream's inflated size (75 MB)
        reply = {"error": "inflate", "detail": str(exc)[:200]}
    except MemoryError:
        reply = {"error": "memory"}
    except Exception as exc:  # a malformed file pypdf chokes on is the file's fault: 422
        reply = {"error": "invalid", "detail": type(exc).__name__}
    sys.stdout.write(json.dumps(reply))


if __name__ == "__main__":
    _main(*map(int, sys.argv[1:4]))

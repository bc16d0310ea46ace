"""Which chunks a question may be answered from: ``ChatRequest.filter``.

``document_ids`` keeps chunks of any of those documents; ``metadata`` keeps chunks whose
document's metadata (``DocumentFields.metadata``) meets every condition, one per field: ``eq``
a string, integer or boolean; ``any`` of a list of strings or of integers; or a range (``gt``,
``gte``, ``lt``, ``lte``) of numbers or of ISO 8601 dates. Both parts must hold. Everything a
Qdrant filter could misread is refused here, so a client gets a 422 naming the field rather
than a search that silently matches nothing. How the index applies it:
``adapters/qdrant_requests.py``; why these limits: docs/RETRIEVAL.md, "Filters".
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time, timezone
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from ragcore.domain.documents import DocumentId

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # what both Qdrant engines store as an integer
MAX_FILTER_DOCUMENTS = 100
MAX_FILTER_FIELDS = 16
MAX_ANY_VALUES = 100
MAX_VALUE_CHARS = 1000  # a document's whole metadata is at most 4,000 characters
# A field name, or a path into nested objects ("author.name"): segments of letters, digits,
# "_" and "-", which Qdrant reads as plain keys (anything else would need its quoting), at most
# as deep as metadata may nest (messages.MAX_METADATA_DEPTH).
FIELD_SEGMENT = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_FIELD_DEPTH = 5
FIELD_PATTERN = rf"^{FIELD_SEGMENT.pattern}(\.{FIELD_SEGMENT.pattern}){{0,{MAX_FIELD_DEPTH - 1}}}$"
_FIELD = re.compile(FIELD_PATTERN)
_DATE_START = re.compile(r"^\d{4}-\d{2}-\d{2}")
_RANGE_OPERATORS = ("gt", "gte", "lt", "lte")


def _field_name(name: str) -> str:
    if not _FIELD.match(name):
        raise ValueError(
            "a metadata field is letters, digits, '_' and '-' (at most 64), or a path of such "
            "names joined by '.' (at most 5 deep)"
        )
    return name


def _text(value: str) -> str:
    if len(value) > MAX_VALUE_CHARS:
        raise ValueError(f"a string to match is at most {MAX_VALUE_CHARS} characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text: it has a lone surrogate") from None
    return value


def _integer(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("an integer to match must fit in 64 bits (-2**63 to 2**63-1)")
    return value


def _scalar(value: Any) -> Any:
    """``eq``'s value. A float is refused rather than rounded: Qdrant matches only strings,
    integers and booleans exactly (a JSON 5.0 is the integer 5, as elsewhere in the API).
    ``None`` (here and below) is an operator not given: a stored request carries them as null."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return _integer(value)
    raise ValueError("eq takes a string, an integer or a boolean (for decimals use a range: gte and lte)")


def _values(value: Any) -> Any:
    """``any``'s list: all strings or all integers, as Qdrant's MatchAny takes."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("any takes a list of strings or a list of integers")
    if not 1 <= len(value) <= MAX_ANY_VALUES:
        raise ValueError(f"any takes 1 to {MAX_ANY_VALUES} values")
    if all(isinstance(v, str) for v in value):
        return [_text(v) for v in value]
    whole = [int(v) if isinstance(v, float) and v.is_integer() else v for v in value]
    if all(isinstance(v, int) and not isinstance(v, bool) for v in whole):
        return [_integer(v) for v in whole]
    raise ValueError("any takes strings or integers, all of one kind (not booleans, decimals or a mix)")


def _bound(value: Any) -> Any:
    """A range's bound: a finite number, or an ISO 8601 date (midnight UTC) or date-time (UTC
    when it names no offset, as Qdrant reads stored dates)."""
    if value is None or isinstance(value, datetime):  # datetime: a stored request, read back
        return value
    if isinstance(value, bool):
        raise ValueError("a range bound is a number or an ISO 8601 date, not a boolean")
    if isinstance(value, (int, float)):
        try:
            number = float(value)  # an integer past float's range overflows
        except OverflowError:
            number = math.inf
        if not math.isfinite(number):
            raise ValueError("a range bound must be a finite number")
        return number
    if isinstance(value, str):
        try:
            if not _DATE_START.match(value):
                raise ValueError
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(
                f"{value[:40]!r} is not an ISO 8601 date or date-time (e.g. 2024-01-31, "
                "2024-01-31T12:00:00Z)"
            ) from None
        if len(value) == 10:  # a date alone
            moment = datetime.combine(date.fromisoformat(value), time(), timezone.utc)
        try:  # year 1 or 9999 with an offset crosses the calendar's edge in UTC
            return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
        except OverflowError:
            raise ValueError(f"{value[:40]!r} is outside the dates a range can hold in UTC") from None
    raise ValueError("a range bound is a number or an ISO 8601 date")


FieldName = Annotated[str, AfterValidator(_field_name)]
Scalar = Annotated[str | int | bool | None, BeforeValidator(_scalar)]
Values = Annotated[list[str] | list[int] | None, BeforeValidator(_values)]
def _stored_bound(value: float | datetime | None) -> float | str | None:
    """A date as ISO 8601 text in every dump, the Python one too: a job's request is stored
    as JSON (``record_chat`` dumps it in Python mode)."""
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value


Bound = Annotated[
    float | datetime | None,
    BeforeValidator(_bound),
    PlainSerializer(_stored_bound),
    Field(description="a number, or an ISO 8601 date or date-time (UTC unless it names an offset)"),
]


class _Given(BaseModel):
    """Serialises only what was given: a stored request reads as its client wrote it."""

    @model_serializer(mode="wrap")
    def _without_nulls(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {name: value for name, value in handler(self).items() if value is not None}


class Condition(_Given):
    """One metadata field's condition: exactly one of ``eq``, ``any`` or a range."""

    model_config = ConfigDict(extra="forbid")

    eq: Scalar = Field(default=None, description="the field equals this string, integer or boolean")
    any: Values = Field(
        default=None, description="the field equals one of these (all strings or all integers)"
    )
    gt: Bound = None
    gte: Bound = None
    lt: Bound = None
    lte: Bound = None

    @model_validator(mode="after")
    def _one_kind(self) -> Condition:
        bounds = [getattr(self, op) for op in _RANGE_OPERATORS if getattr(self, op) is not None]
        kinds = (self.eq is not None) + (self.any is not None) + bool(bounds)
        if kinds != 1:
            raise ValueError("give exactly one condition: eq, any, or a range (gt, gte, lt, lte)")
        if bounds:
            self._check_range(bounds)
        return self

    def _check_range(self, bounds: list[float | datetime]) -> None:
        if len({isinstance(b, datetime) for b in bounds}) > 1:
            raise ValueError("a range's bounds are all numbers or all dates, not both")
        if self.gt is not None and self.gte is not None or self.lt is not None and self.lte is not None:
            raise ValueError("a range takes at most one lower bound (gt or gte) and one upper (lt or lte)")
        lower, upper = self.lower, self.upper
        if lower is not None and upper is not None:
            strict = self.gt is not None or self.lt is not None
            if lower > upper or lower == upper and strict:  # type: ignore[operator]  # one kind
                raise ValueError("the range is empty: its lower bound is above its upper bound")

    @property
    def lower(self) -> float | datetime | None:
        return self.gt if self.gt is not None else self.gte

    @property
    def upper(self) -> float | datetime | None:
        return self.lt if self.lt is not None else self.lte


class ChatFilter(_Given):
    """Body field ``filter`` of ``POST /chat``: which documents' chunks a search may return."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{
            "document_ids": ["skerry-point-lighthouse"],
            "metadata": {"year": {"gte": 1850, "lt": 1900}, "lang": {"eq": "en"},
                         "tags": {"any": ["lighthouse", "coast"]}, "published": {"gte": "2024-01-01"}},
        }]},
    )

    document_ids: list[DocumentId] | None = Field(
        default=None, min_length=1, max_length=MAX_FILTER_DOCUMENTS,
        description="chunks of any of these documents",
    )
    metadata: dict[FieldName, Condition] | None = Field(
        default=None, min_length=1, max_length=MAX_FILTER_FIELDS,
        description="each field's condition on the document's metadata; all must hold. A list in "
                    "the metadata matches when one of its elements does",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> ChatFilter:
        if self.document_ids is None and self.metadata is None:
            raise ValueError(
                "a filter needs document_ids, metadata or both (leave filter out to search everything)"
            )
        return self

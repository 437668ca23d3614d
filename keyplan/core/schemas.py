"""The base of every API input body: one place where the API contract for request bodies is kept.

- a field the schema does not declare is refused (an unknown field, or one this endpoint cannot change);
- values of the wrong type are refused instead of coerced (``"yes"`` is not a boolean, ``"12"`` not a number);
- ``null`` means "empty" on a text field and is refused where it has no meaning (a flag, a list:
  ``"stakeholder_ids": null`` must not quietly remove every participant);
- text holds no control characters other than tab and line breaks (they broke the map's XML and the .ics);
- text is at most ``TEXT_LIMIT`` characters (5,000; a field may declare less), as in the web forms;
- numbers fit a 64-bit integer, dates lie between 1900 and 2200.

Every error names the field as the client sent it. Output schemas stay plain ``ninja.Schema``.
"""

import datetime
import re
import types
import typing
from typing import Any

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import (
    BeforeValidator,
    ConfigDict,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

MIN_YEAR, MAX_YEAR = 1900, 2200
TEXT_LIMIT = 5000  # characters of a free-text field (a model's max_length where it has one)
MAX_INTEGER = 2**63 - 1
# C0 controls except tab, line feed and carriage return; DEL and the C1 controls; lone surrogates
# (JSON can carry "\ud800", which no database can store); the two XML non-characters.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None."""
    match = CONTROL_CHARACTERS.search(value)
    if match:
        return f"Control character U+{ord(match.group()):04X} at position {match.start() + 1}; only tab and line breaks are allowed in text."
    return None


def _kinds(annotation: Any) -> tuple[set[type], bool]:
    """The plain types a field accepts (list element types as ``list``), and whether it may be null."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        nullable = False
        for arg in typing.get_args(annotation):
            if arg is type(None):
                nullable = True
            else:
                kinds |= _kinds(arg)[0]
        return kinds, nullable
    if origin is typing.Annotated:
        return _kinds(typing.get_args(annotation)[0])
    if origin in (list, tuple, set, frozenset):
        return {list}, False
    if origin is typing.Literal:
        return {type(arg) for arg in typing.get_args(annotation)}, False
    if isinstance(annotation, type):
        if issubclass(annotation, bool):
            return {bool}, False
        if issubclass(annotation, str):  # str enums included
            return {str}, False
        if issubclass(annotation, int):
            return {int}, False
        if issubclass(annotation, datetime.datetime):
            return {datetime.datetime}, False
        if issubclass(annotation, datetime.date):
            return {datetime.date}, False
        if issubclass(annotation, datetime.time):
            return {datetime.time}, False
        return {annotation}, False
    return {object}, False


def _element_kinds(annotation: Any) -> set[type]:
    for arg in typing.get_args(annotation) or ():
        if typing.get_origin(arg) in (list, tuple, set, frozenset):
            return _element_kinds(arg)
        if arg is not type(None):
            return _kinds(arg)[0]
    return {object}


_KNOWN = {bool, int, float, str, list, datetime.date, datetime.datetime, datetime.time}


def _problem(value: Any, kinds: set[type]) -> str | None:
    """Why ``value`` (from JSON) is not one of ``kinds``; None when it may go on to the schema's own checks."""
    if object in kinds or kinds - _KNOWN:
        # A type with parsing of its own (Decimal, an enum, a nested schema): only the limits of every value.
        if isinstance(value, str):
            return text_problem(value)
        if isinstance(value, int) and not isinstance(value, bool) and not -MAX_INTEGER <= value <= MAX_INTEGER:
            return f"The number is out of range (at most {MAX_INTEGER})."
        return None
    if isinstance(value, bool):
        return None if bool in kinds else "Expected " + _expected(kinds) + ", not true or false."
    if isinstance(value, int):
        if int in kinds:
            return None if -MAX_INTEGER <= value <= MAX_INTEGER else f"The number is out of range (at most {MAX_INTEGER})."
        return None if float in kinds else "Expected " + _expected(kinds) + ", not a number."
    if isinstance(value, float):
        return None if (float in kinds or int in kinds) else "Expected " + _expected(kinds) + ", not a number."
    if isinstance(value, str):
        if str in kinds:
            if len(value) > TEXT_LIMIT:  # a field's own max_length, where lower, is checked by the schema
                return f"At most {TEXT_LIMIT} characters (this text has {len(value)})."
            return text_problem(value)
        if kinds & {datetime.date, datetime.datetime}:
            return _date_problem(value)
        if datetime.time in kinds:
            return None
        return "Expected " + _expected(kinds) + ", not text."
    if isinstance(value, list):
        return None if list in kinds else "Expected " + _expected(kinds) + ", not a list."
    if isinstance(value, dict):
        return "Expected " + _expected(kinds) + ", not an object."
    return None


def _expected(kinds: set[type]) -> str:
    names = {
        bool: "true or false",
        int: "a whole number",
        float: "a number",
        str: "text",
        list: "a list",
        datetime.date: "a date (YYYY-MM-DD)",
        datetime.datetime: "a date and time (ISO 8601)",
        datetime.time: "a time (HH:MM)",
    }
    return " or ".join(sorted(names.get(kind, kind.__name__) for kind in kinds))


def _date_problem(value: str) -> str | None:
    match = re.match(r"\s*([+-]?\d+)-", value)
    if match and not MIN_YEAR <= int(match.group(1)) <= MAX_YEAR:
        return f"The year must be between {MIN_YEAR} and {MAX_YEAR}."
    return None


def _form_contract(cls, data: dict) -> dict:
    errors = [(name, problem) for name, value in data.items()
              if isinstance(value, str) and (problem := text_problem(value))]
    if errors:
        raise PydanticCustomError("keyplan_contract", "{errors}", {"errors": errors})
    return data


class InputSchema(Schema):
    """Base class of every API request body (``…In``, ``…Patch``)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _contract(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, DjangoGetter):  # ninja's Schema wraps the input for its resolvers
            data = data._obj
        if not isinstance(data, dict):
            return data
        request = (info.context or {}).get("request")
        if request is not None and not (request.content_type or "").endswith("json"):
            # Form fields (a file upload's options) are text by nature: only their text is checked.
            return _form_contract(cls, data)
        errors: list[tuple[str, str]] = []
        cleaned = dict(data)
        fields = cls.model_fields
        for name, value in data.items():
            field = fields.get(name)
            if field is None:
                continue  # extra="forbid" names it
            kinds, _nullable = _kinds(field.annotation)
            if value is None:
                if str in kinds and kinds <= {str}:
                    cleaned[name] = ""  # null on text means empty text
                elif kinds & {bool, list}:
                    errors.append((name, "May not be null."))
                continue
            problem = _problem(value, kinds)
            if problem is None and list in kinds and isinstance(value, list):
                element_kinds = _element_kinds(field.annotation)
                for item in value:
                    problem = "null in a list." if item is None else _problem(item, element_kinds)
                    if problem:
                        break
            if problem:
                errors.append((name, problem))
        if errors:
            # One error per field, each under its own name; the API turns them into a 422.
            raise PydanticCustomError("keyplan_contract", "{errors}", {"errors": errors})
        return cleaned

    @model_validator(mode="after")
    def _dates_in_range(self) -> "InputSchema":
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if isinstance(value, (datetime.date, datetime.datetime)) and not MIN_YEAR <= value.year <= MAX_YEAR:
                raise PydanticCustomError(  # named as the client sent it: "from", not the attribute from_
                    "keyplan_contract", "{errors}", {"errors": [(field.alias or name, f"The year must be between {MIN_YEAR} and {MAX_YEAR}.")]}
                )
        return self


VERSION_OUT = "Raised by every saved change; send it back in a PATCH or DELETE (or If-Match) to be told of a concurrent change (409)"
VERSION_IN = "The version you read: a stale one is 409 and nothing is written"


class VersionConflictOut(Schema):
    """The body of a 409: a stale ``version`` (or ``If-Match``); nothing was written."""

    detail: str
    version: int
    current: dict[str, Any]


def choice(choices, *, blank: bool = False) -> Any:
    """A text field holding one of ``choices`` (a Django ``TextChoices``, or a sequence of values; ``blank``: or
    empty text).

    The OpenAPI document lists the values (``enum``); input is matched without regard to case, spaces
    or hyphens (``"Decision Maker"`` is ``decision_maker``) and stored as the value; anything else is a
    422 that lists the valid values.
    """
    values = [str(value) for value in getattr(choices, "values", choices)] + ([""] if blank else [])

    def normal(text: str) -> str:
        return re.sub(r"[\s\-]+", "_", text.strip().casefold())

    by_normal = {normal(value): value for value in values}

    def match(value: Any) -> Any:
        if not isinstance(value, str):
            return value  # the contract check names the wrong type
        found = by_normal.get(normal(value))
        if found is None:
            raise PydanticCustomError("enum", "Choose one of: {expected}.",
                                      {"expected": ", ".join(v for v in values if v) + (" (or empty)" if blank else "")})
        return found

    return typing.Annotated[str, BeforeValidator(match), WithJsonSchema({"type": "string", "enum": values})]

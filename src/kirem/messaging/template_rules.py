"""Local checks for template creation bodies (``POST /v1/templates``, Meta's ``message_templates`` body).

Meta's limits are applied, not stricter ones. In particular a template may have more than 2 buttons,
QUICK_REPLY and URL buttons mixed: Meta allows up to 10 buttons (at most 2 URL buttons and 1
PHONE_NUMBER button). Component and button types, categories and
formats are accepted in any case, as Meta does (its own examples use ``"type": "body"``). An explicit
``null`` is an absent field and unknown fields are left to Meta, as in send bodies.

``validate_template`` returns a field-level error dict (``"components[1].text"`` → sentence); empty
means OK. ``template_variable_counts`` tells how many header/body parameters a template expects.
"""

from __future__ import annotations

import re
from typing import Any

from kirem.kit.nulls import object_body
from kirem.messaging.message_rules import is_http_url
from kirem.meta.templates import (
    NAMED_VARIABLE,
    POSITIONAL,
    VARIABLE,
    upper,
    variable_count,
    variables,
)

Errors = dict[str, str]

NAME_PATTERN = re.compile(r"[a-z0-9_]{1,512}")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")
PARAMETER_FORMATS = ("POSITIONAL", "NAMED")
# CAROUSEL and LIMITED_TIME_OFFER are Meta component types too; they are passed through unchecked.
COMPONENT_TYPES = ("HEADER", "BODY", "FOOTER", "BUTTONS", "CAROUSEL", "LIMITED_TIME_OFFER")
# PRODUCT is Meta's header format for single-product (SPM) templates.
HEADER_FORMATS = ("TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION", "PRODUCT")
BUTTON_TYPES = (
    "QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "OTP", "FLOW", "MPM", "SPM", "CATALOG",
    "VOICE_CALL", "ORDER_DETAILS",
)  # fmt: skip
BUTTONS_NEEDING_TEXT = ("QUICK_REPLY", "URL", "PHONE_NUMBER")

MAX_HEADER_TEXT = 60
MAX_BODY_TEXT = 1024
MAX_FOOTER_TEXT = 60
MAX_BUTTONS = 10
MAX_BUTTON_TEXT = 25
MAX_BUTTONS_OF_TYPE = {"URL": 2, "PHONE_NUMBER": 1}

NAME_FORMAT = (2388046, "Name Format is Incorrect")
CHARACTER_LIMIT = (2388040, "Character Limit Exceeded")
OTHER_PARAMETER = (None, "Invalid parameter")
"""Meta's ``error_subcode`` and ``error_user_title`` for a refused template (code 100): a name it
does not take, a text over its limit, and any other parameter (no subcode)."""

_TOO_LONG = re.compile(r"at most \d+ characters")


@object_body
def validate_template(body: dict[str, Any]) -> Errors:
    """Check a create-template body: name, category, language, components and Meta's limits."""
    errors: Errors = {}
    name = body.get("name")
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        errors["name"] = "name must be 1 to 512 lowercase letters, digits or underscores"
    category = body.get("category")
    if not isinstance(category, str) or category.upper() not in CATEGORIES:
        errors["category"] = f"category must be one of {', '.join(CATEGORIES)}"
    language = body.get("language")
    if not isinstance(language, str) or not language.strip():
        errors["language"] = "language must be a language code such as id or en_US"
    parameter_format = body.get("parameter_format", "POSITIONAL")
    if not isinstance(parameter_format, str) or parameter_format.upper() not in PARAMETER_FORMATS:
        errors["parameter_format"] = "parameter_format must be POSITIONAL or NAMED"
        parameter_format = "POSITIONAL"
    if "allow_category_change" in body and not isinstance(body["allow_category_change"], bool):
        errors["allow_category_change"] = "allow_category_change must be true or false"
    named = parameter_format.upper() == "NAMED"
    authentication = isinstance(category, str) and category.upper() == "AUTHENTICATION"
    errors.update(_check_components(body.get("components"), named, authentication))
    return errors


def meta_refusal(errors: Errors) -> tuple[int | None, str]:
    """Meta's subcode and title for the first of ``errors`` (as ``validate_template`` orders them)."""
    field, sentence = next(iter(errors.items()), ("", ""))
    if field == "name":
        return NAME_FORMAT
    if _TOO_LONG.search(sentence):
        return CHARACTER_LIMIT
    return OTHER_PARAMETER


def template_variable_counts(components: list[Any]) -> dict[str, int]:
    """Parameters expected by the header and body texts: the highest ``{{n}}``, or the named count."""
    counts = {"header": 0, "body": 0}
    for component in components if isinstance(components, list) else []:
        if not isinstance(component, dict) or not isinstance(component.get("text"), str):
            continue
        kind = upper(component.get("type")).lower()
        if kind in counts:
            counts[kind] = variable_count(component["text"])
    return counts


def _check_components(components: object, named: bool, authentication: bool) -> Errors:
    if not isinstance(components, list) or not components:
        return {"components": "components must be a non-empty list"}
    errors: Errors = {}
    seen: set[str] = set()
    for index, component in enumerate(components):
        path = f"components[{index}]"
        if not isinstance(component, dict):
            errors[path] = f"{path} must be an object"
            continue
        kind = upper(component.get("type"))
        if kind not in COMPONENT_TYPES:
            errors[f"{path}.type"] = f"{path}.type must be one of {', '.join(COMPONENT_TYPES)}"
        elif kind in seen:
            errors[f"{path}.type"] = f"only one {kind} component is allowed"
        else:
            seen.add(kind)
            errors.update(_check_component(path, kind, component, named, authentication))
    if "BODY" not in seen:
        errors["components"] = "a BODY component is required"
    return errors


def _check_component(path: str, kind: str, component: dict[str, Any], named: bool, auth: bool) -> Errors:
    if kind == "HEADER":
        return _check_header(path, component, named)
    if kind == "BODY":
        if auth and "text" not in component:
            return {}
        return _check_text(path, component.get("text"), MAX_BODY_TEXT, named)
    if kind == "FOOTER":
        if auth and "text" not in component:
            return {}
        text = component.get("text")
        if isinstance(text, str) and VARIABLE.search(text):
            return {f"{path}.text": "a FOOTER cannot contain variables"}
        return _check_text(path, text, MAX_FOOTER_TEXT, named)
    if kind == "BUTTONS":
        return _check_buttons(f"{path}.buttons", component.get("buttons"))
    return {}


def _check_header(path: str, component: dict[str, Any], named: bool) -> Errors:
    header_format = upper(component.get("format"))
    if header_format not in HEADER_FORMATS:
        return {f"{path}.format": f"{path}.format must be one of {', '.join(HEADER_FORMATS)}"}
    if header_format != "TEXT":
        return {}
    errors = _check_text(path, component.get("text"), MAX_HEADER_TEXT, named)
    if not errors and len(VARIABLE.findall(component["text"])) > 1:
        errors[f"{path}.text"] = "a TEXT header can contain at most 1 variable"
    return errors


def _check_text(path: str, text: object, maximum: int, named: bool) -> Errors:
    key = f"{path}.text"
    if not isinstance(text, str) or not text.strip():
        return {key: f"{key} is required and must be a non-empty string"}
    if len(text) > maximum:
        return {key: f"{key} must be at most {maximum} characters, got {len(text)}"}
    problem = _variable_problem(text, named)
    return {key: problem} if problem else {}


def _variable_problem(text: str, named: bool) -> str | None:
    raw = [match.strip() for match in VARIABLE.findall(text)]
    invalid = [name for name in raw if not (POSITIONAL.fullmatch(name) or NAMED_VARIABLE.fullmatch(name))]
    if invalid:
        return f"{{{{{invalid[0]}}}}} is not a valid variable; use {{{{1}}}} or, with NAMED, {{{{name}}}}"
    positional, names = variables(text)
    if named and positional:
        return "with parameter_format NAMED, variables must be named like {{first_name}}, not {{1}}"
    if names and not named:
        return f'named variables like {{{{{names[0]}}}}} need "parameter_format": "NAMED"'
    if set(positional) != set(range(1, len(set(positional)) + 1)):
        return "variables must be numbered {{1}}, {{2}}, … without gaps"
    return None


def _check_buttons(path: str, buttons: object) -> Errors:
    if not isinstance(buttons, list) or not buttons:
        return {path: f"{path} must be a list of 1 to {MAX_BUTTONS} buttons"}
    if len(buttons) > MAX_BUTTONS:
        return {path: f"at most {MAX_BUTTONS} buttons are allowed, got {len(buttons)}"}
    errors: Errors = {}
    for index, button in enumerate(buttons):
        errors.update(_check_button(f"{path}[{index}]", button))
    kinds = [upper(button.get("type")) for button in buttons if isinstance(button, dict)]
    for kind, limit in MAX_BUTTONS_OF_TYPE.items():
        if kinds.count(kind) > limit:
            errors[path] = f"at most {limit} {kind} button(s) are allowed, got {kinds.count(kind)}"
    return errors


def _check_button(path: str, button: object) -> Errors:
    if not isinstance(button, dict):
        return {path: f"{path} must be an object"}
    kind = upper(button.get("type"))
    if kind not in BUTTON_TYPES:
        return {f"{path}.type": f"{path}.type must be one of {', '.join(BUTTON_TYPES)}"}
    errors: Errors = {}
    if kind in BUTTONS_NEEDING_TEXT or "text" in button:
        problem = _button_text_problem(button.get("text"))
        if problem:
            errors[f"{path}.text"] = f"{path}.text {problem}"
    if kind == "URL":
        problem = _url_problem(button.get("url"))
        if problem:
            errors[f"{path}.url"] = problem
    phone_number = button.get("phone_number")
    if kind == "PHONE_NUMBER" and not (isinstance(phone_number, str) and phone_number.strip()):
        errors[f"{path}.phone_number"] = "a PHONE_NUMBER button needs a phone_number"
    return errors


def _button_text_problem(text: object) -> str | None:
    if not isinstance(text, str) or not text.strip():
        return "is required and must be a non-empty string"
    if len(text) > MAX_BUTTON_TEXT:
        return f"must be at most {MAX_BUTTON_TEXT} characters, got {len(text)}"
    return None


def _url_problem(url: object) -> str | None:
    if not isinstance(url, str) or not is_http_url(VARIABLE.sub("x", url)):
        return "a URL button needs an http or https url"
    variables = VARIABLE.findall(url)
    if len(variables) > 1:
        return "a URL button can contain at most 1 variable"
    if variables and not url.endswith("}}"):
        return "the variable of a URL button must be at the end of the url"
    return None

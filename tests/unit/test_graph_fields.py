"""Graph's ``fields`` parameter: the top-level names, nested selections and modifiers accepted."""

from __future__ import annotations

from kirem.meta.fields import requested_fields, select_fields


def test_top_level_names_of_a_fields_parameter() -> None:
    assert requested_fields(None) is None and requested_fields("") is None and requested_fields(" , ") is None
    assert requested_fields("name, status") == ["name", "status"]
    assert requested_fields("components{type,text},quality_score.limit(2),name,name") == [
        "components",
        "quality_score",
        "name",
    ]


def test_selection_keeps_the_requested_fields_and_the_id() -> None:
    template = {"id": "1", "name": "a", "status": "APPROVED", "components": []}
    assert select_fields(template, ["status", "missing"]) == {"status": "APPROVED", "id": "1"}
    assert select_fields(template, None) == template
    assert select_fields({"about": "x"}, ["about"]) == {"about": "x"}

from kirem.bsuid import is_bsuid, is_parent_bsuid


def test_a_bsuid_is_a_country_code_a_dot_and_up_to_128_alphanumerics() -> None:
    assert is_bsuid("US.13491208655302741918")
    assert is_bsuid("ID.abcXYZ019")
    assert is_bsuid("US." + "9" * 128)
    for wrong in ("US." + "9" * 129, "us.1349", "USA.1349", "US.", "US.13 49", "US.١٣٤", "6281234", None, 42):
        assert not is_bsuid(wrong), wrong


def test_a_parent_bsuid_carries_ent() -> None:
    assert is_parent_bsuid("US.ENT.11815799212886844830")
    assert not is_bsuid("US.ENT.11815799212886844830")
    assert not is_parent_bsuid("US.11815799212886844830")

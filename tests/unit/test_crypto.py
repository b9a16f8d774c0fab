import os
import stat

import pytest

from kirem.config import Settings
from kirem.crypto import Sealer, SealError, generate_key_spec, parse_keyring


def test_seal_round_trip_with_fresh_nonce() -> None:
    sealer = Sealer(parse_keyring(generate_key_spec("k1")))
    first = sealer.seal("EAAS-token", "prj_1", "chan_1")
    second = sealer.seal("EAAS-token", "prj_1", "chan_1")
    assert first != second
    assert first.startswith("k1.")
    assert sealer.open(first, "prj_1", "chan_1") == "EAAS-token"


def test_ciphertext_moved_to_another_owner_does_not_open() -> None:
    sealer = Sealer(parse_keyring(generate_key_spec()))
    sealed = sealer.seal("secret", "prj_a", "chan_a")
    with pytest.raises(SealError):
        sealer.open(sealed, "prj_b", "chan_a")


def test_rotation_new_key_seals_old_key_still_opens() -> None:
    old_spec = generate_key_spec("old")
    old = Sealer(parse_keyring(old_spec))
    sealed_before = old.seal("value", "row")
    rotated = Sealer(parse_keyring(f"{generate_key_spec('new')},{old_spec}"))
    assert rotated.open(sealed_before, "row") == "value"
    assert rotated.seal("value", "row").startswith("new.")


def test_unknown_key_id_is_a_seal_error() -> None:
    sealed = Sealer(parse_keyring(generate_key_spec("a"))).seal("v")
    with pytest.raises(SealError, match="no key"):
        Sealer(parse_keyring(generate_key_spec("b"))).open(sealed)


@pytest.mark.parametrize("spec", ["", "nokid", "k1:c2hvcnQ=", "a.b:" + "A" * 43])
def test_bad_keyring_is_rejected(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_keyring(spec)


def test_embedded_default_generates_a_private_key_file(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path / "data", encryption_key=None, env="development")
    sealer = Sealer.from_settings(settings)
    key_file = tmp_path / "data" / "encryption.key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    again = Sealer.from_settings(settings)
    assert again.open(sealer.seal("x", "id"), "id") == "x"


def test_production_requires_a_configured_key(tmp_path) -> None:
    with pytest.raises(ValueError, match="KIREM_ENCRYPTION_KEY"):
        Sealer.from_settings(Settings(data_dir=tmp_path, encryption_key=None, env="production"))

from __future__ import annotations

from pathlib import Path

import pytest

from copyalign.errors import ConfigurationError
from copyalign.settings import SETTINGS, Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


@pytest.mark.parametrize(("var", "field", "default", "doc"), SETTINGS, ids=[s[0] for s in SETTINGS])
def test_every_setting_is_documented_with_its_default(var: str, field: str, default: str, doc: str) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{var}`")), None)
    assert row is not None, f"README's settings table lacks {var}"
    assert f"`{default}`" in row
    assert str(getattr(Settings(), field)) == default


def test_environment_and_overrides() -> None:
    s = Settings.from_env({"COPYALIGN_POLICY": "eu", "COPYALIGN_MAX_UPLOAD_BYTES": "1000"}, data_dir="/x")
    assert (s.policy, s.max_upload_bytes, s.data_dir) == ("eu", 1000, "/x")
    with pytest.raises(ConfigurationError, match="COPYALIGN_MAX_UPLOAD_BYTES must be an integer"):
        Settings.from_env({"COPYALIGN_MAX_UPLOAD_BYTES": "lots"})
    with pytest.raises(ConfigurationError, match="positive"):
        Settings.from_env({"COPYALIGN_MAX_IMAGE_PIXELS": "0"})

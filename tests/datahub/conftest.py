import pytest


@pytest.fixture
def media_tmp(settings, tmp_path):
    """Uploaded import files go to a temporary media root (tests that use a worker keep the shared one)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"

import pytest
from django.utils import translation


@pytest.fixture
def english(settings):
    """The dataset tests assert messages in English (the default language is Chinese; one test checks that)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def media_tmp(settings, tmp_path):
    """Uploaded import files go to a temporary media root (tests that use a worker keep the shared one)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"

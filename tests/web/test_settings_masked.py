"""/admin/settings shows the effective settings with every password and key masked, and is never cached."""

from __future__ import annotations

import pytest

from checkpoint.config import Settings

CENTRAL_PASSWORD = "Cen@tral-Pw-6612"
CENTRAL_ENCODED = "Cen%40tral-Pw-6612"
CAMERA_PASSWORD = "Cam-Pw-3307"
SECRET_KEY = "session-key-never-shown-4410"


@pytest.fixture
def settings(tmp_path) -> Settings:  # this module's app: a gate's settings with a centre, a camera login and a key
    return Settings.model_validate({
        "data_dir": str(tmp_path), "web": {"secret_key": SECRET_KEY},
        "camera": {"source": f"rtsp://admin:{CAMERA_PASSWORD}@10.0.0.5/stream1"},
        "database": {"central_url": f"postgresql+psycopg://gate:{CENTRAL_ENCODED}@db.example/checkpoint"},
    })


def test_settings_page_masks_every_secret_and_is_not_cached(client, auth):
    auth.login("admin")
    response = client.get("/admin/settings")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for secret in (CENTRAL_PASSWORD, CENTRAL_ENCODED, CAMERA_PASSWORD, SECRET_KEY):
        assert secret not in html
    assert "postgresql+psycopg://gate:***@db.example/checkpoint" in html
    assert "rtsp://admin:***@10.0.0.5/stream1" in html
    assert "no-store" in response.headers["Cache-Control"]

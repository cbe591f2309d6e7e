"""[mqtt] and [webhooks]: off by default, strict, secrets masked by `config check`."""

from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from checkpoint.config import ConfigError, load_settings
from checkpoint.runtime import AgentRuntime


def write(tmp_path, text: str):
    path = tmp_path / "gate.toml"
    path.write_text(text)
    return path


def test_both_are_off_by_default_and_the_agent_runs_no_sink(tmp_path):
    settings = load_settings(environ={}, overrides={"data_dir": str(tmp_path), "scanner": {"enabled": False},
                                                    "camera": {"enabled": False}})
    assert not settings.mqtt.enabled and not settings.webhooks.enabled
    runtime = AgentRuntime(settings).start()
    try:
        assert runtime.events is None
        assert not {"mqtt", "webhook"} & set(runtime.health.snapshot())
    finally:
        runtime.stop()
        runtime.engine.dispose()


@pytest.mark.parametrize("text, expected", [
    ('[webhooks]\nenabled = true\nsecret = "0123456789abcdef"\n',
     "'webhooks' (line 1): Value error, webhooks need an http"),
    ('[webhooks]\nenabled = true\nurl = "https://example.org/h"\nsecret = "short"\n', "a secret of at least 16"),
    ('[mqtt]\nqos = 2\n', "unknown key 'mqtt.qos' (line 2)"),
    ('[mqtt]\ntopic_prefix = "a/#"\n', "'mqtt.topic_prefix' (line 2)"),
    ('[mqtt]\nport = 0\n', "'mqtt.port' (line 2)"),
])
def test_bad_settings_name_their_key(tmp_path, text, expected):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, text), environ={})
    assert expected in str(error.value)


def test_config_check_masks_the_webhook_secret_and_the_broker_password(tmp_path):
    path = write(tmp_path, '[mqtt]\nenabled = true\nusername = "gate"\npassword = "broker-pass-1"\n'
                           '[webhooks]\nenabled = true\nurl = "https://hooks.example.org/in?token=tok-abc-123"\n')
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path), "--simulate"],
                            capture_output=True, text=True, timeout=60,
                            env={"CHECKPOINT_WEBHOOKS_SECRET": "a-shared-secret-of-32-characters", "PATH": ""})
    assert result.returncode == 0, result.stderr
    for secret in ("broker-pass-1", "a-shared-secret-of-32-characters", "tok-abc-123"):
        assert secret not in result.stdout
    printed = tomllib.loads(result.stdout)
    assert printed["webhooks"]["secret"] == "********" and printed["mqtt"]["password"] == "********"
    assert printed["mqtt"]["username"] == "gate" and printed["webhooks"]["url"].startswith("https://hooks.example.org")

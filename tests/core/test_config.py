import subprocess
import sys
import tomllib

import pytest

from checkpoint.config import ConfigError, effective_toml, load_settings


def write(tmp_path, text):
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_valid_and_embedded():
    settings = load_settings(environ={})
    assert settings.gate.timezone == "Asia/Jakarta"
    assert settings.rules.fever.threshold_c == 37.3
    assert settings.rules.plausible.min_c == 34.0 and settings.rules.plausible.max_c == 43.0
    assert settings.database_url.startswith("sqlite:///")


def test_misspelt_key_names_key_and_line(tmp_path):
    path = write(tmp_path, '[gate]\nid = "east"\n\n[rules.fever]\nthreshhold_c = 37.5\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert "unknown key 'rules.fever.threshhold_c' (line 5)" in str(error.value)


def test_bad_value_is_named(tmp_path):
    path = write(tmp_path, '[gate]\ntimezone = "Asia/Atlantis"\n[rules.mask]\nmode = "maybe"\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    text = str(error.value)
    assert "'gate.timezone' (line 2)" in text and "unknown time zone" in text
    assert "'rules.mask.mode' (line 4)" in text


def test_environment_overrides_file(tmp_path):
    path = write(tmp_path, '[database]\nurl = "sqlite:///a.db"\n[web]\nport = 5000\n')
    settings = load_settings(path, environ={"CHECKPOINT_DATABASE_URL": "sqlite:///b.db", "CHECKPOINT_WEB_PORT": "8080"})
    assert settings.database.url == "sqlite:///b.db"
    assert settings.web.port == 8080


def test_threshold_is_kept_in_tenths(tmp_path):
    settings = load_settings(write(tmp_path, "[rules.fever]\nthreshold_c = 37.54\n"), environ={})
    assert settings.rules.fever.threshold_c == 37.5


def test_effective_settings_are_toml_and_hide_the_secret(tmp_path):
    settings = load_settings(write(tmp_path, '[web]\nsecret_key = "hunter2"\n'), environ={})
    text = effective_toml(settings)
    assert "hunter2" not in text
    parsed = tomllib.loads(text)
    assert parsed["rules"]["fever"]["threshold_c"] == 37.3


def test_config_check_command_exits_2_on_unknown_key(tmp_path):
    path = write(tmp_path, "[scanner]\nbaud = 9600\n")
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "unknown key 'scanner.baud' (line 2)" in result.stderr


def test_config_check_command_prints_effective_settings(tmp_path):
    path = write(tmp_path, '[gate]\nid = "north"\n')
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["gate"]["id"] == "north"

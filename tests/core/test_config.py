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


def test_mask_and_face_rule_keys(tmp_path):
    text = ("[rules.mask]\nmask_threshold = 0.9\nrefuse_threshold = 0.4\nincorrect_is_no_mask = false\n"
            "[rules.face]\nmax_yaw_deg = 30\n")
    rules = load_settings(write(tmp_path, text), environ={}).rules
    assert (rules.mask.mask_threshold, rules.mask.refuse_threshold, rules.mask.incorrect_is_no_mask) == (0.9, 0.4, False)
    assert rules.face.max_yaw_deg == 30
    defaults = load_settings(environ={}).rules
    assert defaults.mask.incorrect_is_no_mask is True and defaults.face.max_yaw_deg == 45


@pytest.mark.parametrize("line, new", [
    ("min_confidence = 0.6", "refuse_threshold"),
    ("below_nose_is_no_mask = false", "incorrect_is_no_mask"),
])
def test_replaced_mask_keys_name_their_successor(tmp_path, line, new):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, f"[rules.mask]\n{line}\n"), environ={})
    assert "'rules.mask' (line 1)" in str(error.value) and new in str(error.value)


@pytest.mark.parametrize("section, line", [
    ("rules.mask", "mask_threshold = 0.4"), ("rules.mask", "refuse_threshold = 0"),
    ("rules.mask", "refuse_threshold = 1.2"), ("rules.face", "max_yaw_deg = 120"),
])
def test_mask_and_face_limits_are_bounded(tmp_path, section, line):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, f"[{section}]\n{line}\n"), environ={})
    assert f"'{section}.{line.split()[0]}' (line 2)" in str(error.value)


def test_every_mask_and_face_rule_key_is_described():
    from checkpoint.config import FaceRule, MaskRule

    for model in (MaskRule, FaceRule):
        assert all(field.description for field in model.model_fields.values()), model

import subprocess
import sys
import tomllib
from pathlib import Path

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
    settings = load_settings(write(tmp_path, "[rules.fever]\nthreshold_c = 37.5\n"), environ={})
    assert settings.rules.fever.threshold_c == 37.5
    # Finer than the rule's 0.1 °C steps is refused (issue 14), never rounded silently.
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, "[rules.fever]\nthreshold_c = 37.54\n"), environ={})
    assert "'rules.fever.threshold_c' (line 2)" in str(error.value) and "37.5 or 37.6" in str(error.value)


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
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path), "--simulate"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert tomllib.loads(result.stdout)["gate"]["id"] == "north"


REAL_DEVICES = ('[scanner]\nurl = "/dev/ttyUSB0"\n[camera]\nsource = "0"\n'
                '[door]\nmode = "pulse"\n[door.relay]\ndriver = "lcus"\nurl = "/dev/ttyUSB1"\n')


@pytest.mark.slow
def test_simulated_devices_are_refused_unless_asked_for(tmp_path):
    path = write(tmp_path, f'data_dir = "{tmp_path}"\n[door]\nmode = "pulse"\n')  # the defaults: all three simulated
    checked = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert checked.returncode == 2 and "configuration is valid" not in checked.stderr
    for line in ('scanner: [scanner] url = "virtual"', 'camera: [camera] source = "simulated"',
                 'door: [door.relay] url = "virtual"', "--simulate"):
        assert line in checked.stderr
    for command in ("run", "agent"):
        started = subprocess.run([sys.executable, "-m", "checkpoint", command, "-c", str(path)],
                                 capture_output=True, text=True, timeout=60)
        assert started.returncode == 2, started.stderr
        assert f"checkpoint {command}: these devices are simulated" in started.stderr
        assert "Traceback" not in started.stderr and not (tmp_path / "checkpoint.db").exists()
    assert subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path), "--simulate"],
                          capture_output=True, text=True, timeout=60).returncode == 0


def test_real_devices_need_no_simulate_flag(tmp_path):
    from checkpoint.simulated import simulated_devices

    path = write(tmp_path, REAL_DEVICES)
    assert simulated_devices(load_settings(path, environ={})) == {}
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "configuration is valid" in result.stderr, result.stderr
    # a device turned off is not simulated; the door is not driven unless its mode says so
    off = load_settings(write(tmp_path, '[scanner]\nenabled = false\n[camera]\nenabled = false\n'), environ={})
    assert simulated_devices(off) == {}


def test_mask_and_face_rule_keys(tmp_path):
    text = ("[rules.mask]\nmask_threshold = 0.9\nrefuse_threshold = 0.4\nincorrect_is_no_mask = false\n"
            "[rules.face]\nmax_yaw_deg = 30\n")
    rules = load_settings(write(tmp_path, text), environ={}).rules
    assert rules.mask.mask_threshold == 0.9
    assert rules.mask.refuse_threshold == 0.4
    assert rules.mask.incorrect_is_no_mask is False
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


# -- issue 14: one validation covers the scanner protocol and its options, env overrides by path --------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text, expected", [
    ('[gate]\nid = "east"\n\n[scanner]\nprotocol = "modbuss"\n',
     "'scanner.protocol' (line 5): 'modbuss' is no protocol of 'scanner'; one of 'ascii', 'gy-mcu90640', "
     "'mlx90640-text', 'modbus-rtu', 'optris'"),
    ('[scanner]\nprotocol = "modbus-rtu"\n\n[scanner.options]\nslavee = 3\n',
     "unknown key 'scanner.options.slavee' (line 5)"),
    ('[scanner]\nprotocol = "modbus-rtu"\n[scanner.options]\nslave = "three"\n',
     "'scanner.options.slave' (line 4): Input should be a valid integer"),
    ('[scanner]\nprotocol = "ascii"\noptions = { pattern = "adafruit", unit = "K" }\n',
     "'scanner.options.unit' (line 3): Input should be 'C' or 'F'"),
    ('[scanner]\nprotocol = "ascii"\n[scanner.options]\nslave = 3\n',
     "unknown key 'scanner.options.slave' (line 4)"),
    ("[rules.fever]\nmode = \"deny\"\nthreshold_c = 37.55\n",
     "'rules.fever.threshold_c' (line 3): Value error, the threshold is set in steps of 0.1 °C: 37.55"),
])
@pytest.mark.slow
def test_config_check_exits_2_naming_key_and_line(tmp_path, text, expected):
    path = write(tmp_path, text)
    result = subprocess.run([sys.executable, "-m", "checkpoint", "config", "check", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
    assert "configuration is valid" not in result.stderr


def test_the_agent_refuses_a_bad_protocol_option_before_it_starts(tmp_path):
    path = write(tmp_path, f'data_dir = "{tmp_path}"\n[scanner]\nprotocol = "modbus-rtu"\n'
                           '[scanner.options]\nslavee = 3\n')
    result = subprocess.run([sys.executable, "-m", "checkpoint", "agent", "-c", str(path)],
                            capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 2
    assert "unknown key 'scanner.options.slavee' (line 5)" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "checkpoint.db").exists()


def test_scanner_options_are_the_protocols_own_model(tmp_path):
    from drivers.thermal.protocols.modbus_rtu import ModbusOptions
    from drivers.thermal.registry import make_protocol

    text = '[scanner]\nprotocol = "modbus-rtu"\n[scanner.options]\nslave = 7\nregister = 20\nfunction = 4\n'
    scanner = load_settings(write(tmp_path, text), environ={}).scanner
    assert isinstance(scanner.options, ModbusOptions)
    assert (scanner.options.slave, scanner.options.address, scanner.options.function) == (7, 20, 4)
    # As a mapping: the options the file set, by their names in the file (laid over a recording's).
    recorded = {"slave": 1, "scale": 0.5}
    assert {**recorded, **scanner.options} == {"slave": 7, "register": 20, "function": 4, "scale": 0.5}
    protocol = make_protocol(scanner.protocol, scanner.options)
    assert protocol.options is scanner.options
    defaults = load_settings(environ={}).scanner
    assert defaults.protocol == "ascii" and dict(defaults.options) == {} and defaults.options.pattern == "auto"


def test_effective_settings_load_back_unchanged(tmp_path):
    text = ('[scanner]\nprotocol = "mlx90640-text"\n[scanner.options]\nwindow = [0.2, 0.2, 0.6, 0.6]\n'
            'keep_frame = true\n[door.relay]\ndriver = "modbus-rtu"\nslave = 3\n')
    settings = load_settings(write(tmp_path, text), environ={})
    again = load_settings(write(tmp_path, effective_toml(settings)), environ={})
    # data_dir is relative to its file
    assert again.model_dump(exclude={"data_dir"}) == settings.model_dump(exclude={"data_dir"})
    modbus = load_settings(write(tmp_path, '[scanner]\nprotocol = "modbus-rtu"\noptions = { register = 9 }\n'),
                           environ={})
    assert "register = 9" in effective_toml(modbus)
    assert load_settings(write(tmp_path, effective_toml(modbus)), environ={}).scanner.options.address == 9


def test_a_plain_scanner_config_is_validated_as_its_protocol():
    from checkpoint.config import ScannerConfig, Settings

    settings = Settings(scanner=ScannerConfig(protocol="optris", options={"dtr": False}))
    assert settings.scanner.protocol == "optris" and settings.scanner.options.dtr is False
    with pytest.raises(ValueError, match="slave"):
        Settings(scanner=ScannerConfig(protocol="optris", options={"slave": 2}))


def test_nested_environment_overrides(tmp_path):
    path = write(tmp_path, '[scanner]\nprotocol = "ascii"\n[rules.fever]\nthreshold_c = 37.3\n')
    settings = load_settings(path, environ={
        "CHECKPOINT_RULES_FEVER_THRESHOLD_C": "37.8", "CHECKPOINT_RULES_CAPACITY_LIMIT": "40",
        "CHECKPOINT_SCANNER_PROTOCOL": "modbus-rtu", "CHECKPOINT_SCANNER_OPTIONS_SLAVE": "2",
        "CHECKPOINT_SCANNER_OPTIONS_REGISTER": "7", "CHECKPOINT_SCANNER_OPTIONS_FUNCTION": "4",
        "CHECKPOINT_SCANNER_CALIBRATION_OFFSET_C": "0.6", "CHECKPOINT_CAMERA_ROI": "[0.2, 0.1, 0.6, 0.8]",
        "CHECKPOINT_DATABASE_CENTRAL_URL": "sqlite:///c.db", "CHECKPOINT_DATA_DIR": str(tmp_path),
        "CHECKPOINT_CONFIG": "/etc/elsewhere.toml", "CHECKPOINT_TEST_PG_URL": "postgresql://x/y",
    })
    assert settings.rules.fever.threshold_c == 37.8 and settings.rules.capacity.limit == 40
    assert settings.scanner.protocol == "modbus-rtu"
    options = settings.scanner.options
    assert (options.slave, options.address, options.function) == (2, 7, 4)
    assert settings.scanner.calibration.offset_c == 0.6 and settings.camera.roi == (0.2, 0.1, 0.6, 0.8)
    assert settings.database.central_url == "sqlite:///c.db" and settings.data_dir == str(tmp_path)


@pytest.mark.parametrize("environ, expected", [
    ({"CHECKPOINT_RULES_FEVER_THRESHHOLD_C": "37.8"}, "environment CHECKPOINT_RULES_FEVER_THRESHHOLD_C: names no key"),
    ({"CHECKPOINT_RULES_FEVER_THRESHOLD_C": "37.85"},
     "'rules.fever.threshold_c' (from CHECKPOINT_RULES_FEVER_THRESHOLD_C): Value error"),
    ({"CHECKPOINT_SCANNER_OPTIONS_SLAVE": "2"},
     "unknown key 'scanner.options.slave' (from CHECKPOINT_SCANNER_OPTIONS_SLAVE)"),
    ({"CHECKPOINT_SCANNER_PROTOCOL": "modbuss"}, "'scanner.protocol' (from CHECKPOINT_SCANNER_PROTOCOL): 'modbuss'"),
])
def test_environment_errors_name_the_variable(tmp_path, environ, expected):
    with pytest.raises(ConfigError) as error:
        load_settings(write(tmp_path, '[scanner]\nprotocol = "ascii"\n[rules.fever]\nthreshold_c = 37.3\n'),
                      environ=environ)
    assert expected in str(error.value)


def _leaf_keys(models, prefix=()):
    from checkpoint.config import _models_of

    keys = set()
    for model in models:
        for name, field in model.model_fields.items():
            key, inner = field.alias or name, _models_of(field.annotation)
            keys |= _leaf_keys(inner, prefix + (key,)) if inner else {prefix + (key,)}
    return keys


def test_every_key_has_one_unambiguous_environment_name():
    from checkpoint.config import Settings, env_keys

    keys = _leaf_keys([Settings])
    assert ("rules", "fever", "threshold_c") in keys and ("scanner", "options", "register") in keys
    assert ("door", "relay", "password") in keys and len(keys) > 100
    for key in keys:
        name = "CHECKPOINT_" + "_".join(key).upper()
        assert set(env_keys(name)) == {key}, name


def test_every_field_is_described():
    from pydantic import BaseModel

    from checkpoint.config import Settings, _models_of

    seen, missing = set(), []

    def walk(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            if not field.description:
                missing.append(f"{model.__name__}.{name}")
            for inner in _models_of(field.annotation):
                walk(inner)

    walk(Settings)
    assert len(seen) > 30 and not missing, missing


def test_the_example_configuration_loads():
    settings = load_settings(ROOT / "docs" / "checkpoint.example.toml", environ={})
    assert settings.scanner.protocol == "ascii" and settings.scanner.options.pattern == "adafruit"


@pytest.mark.parametrize("config", sorted((ROOT / "tests" / "fixtures" / "sessions").glob("*/config.toml")),
                         ids=lambda path: path.parent.name)
def test_session_gate_configs_load(config):
    assert load_settings(config, environ={}).scanner.protocol

"""The [door] section: strict, one options model per relay driver, errors that name the file's key and line."""

from __future__ import annotations

import pytest

from checkpoint.config import ConfigError, GpioRelay, HttpRelay, LcusRelay, ModbusRelay, effective_toml, load_settings


def write(tmp_path, text):
    path = tmp_path / "gate.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_door_is_not_driven_unless_configured():
    door = load_settings(environ={}).door
    assert door.mode == "off" and door.open_s == 3.0 and isinstance(door.relay, LcusRelay)


@pytest.mark.parametrize("driver, model", [("lcus", LcusRelay), ("modbus-rtu", ModbusRelay), ("http", HttpRelay),
                                           ("gpio", GpioRelay)])
def test_each_driver_has_its_own_options(tmp_path, driver, model):
    settings = load_settings(write(tmp_path, f'[door]\nmode = "pulse"\n[door.relay]\ndriver = "{driver}"\n'),
                             environ={})
    assert isinstance(settings.door.relay, model)
    for name, field in model.model_fields.items():
        assert field.description, f"door.relay.{name} ({driver}) is not described"


def test_every_door_field_is_described():
    from checkpoint.config import DoorConfig, VisitorConfig

    for model in (DoorConfig, VisitorConfig):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} is not described"


def test_an_option_of_another_driver_names_the_key_and_line(tmp_path):
    path = write(tmp_path, '[door]\nmode = "pulse"\n\n[door.relay]\ndriver = "lcus"\nslave = 2\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    assert "unknown key 'door.relay.slave' (line 6)" in str(error.value)


def test_bad_values_are_named(tmp_path):
    path = write(tmp_path, '[door]\nmode = "latch"\n[door.relay]\ndriver = "lcus"\nchannel = 9\n')
    with pytest.raises(ConfigError) as error:
        load_settings(path, environ={})
    text = str(error.value)
    assert "'door.mode' (line 2)" in text and "'door.relay.channel' (line 5)" in text
    with pytest.raises(ConfigError, match="'door.relay'.*'lcus', 'modbus-rtu', 'http', 'gpio'"):
        load_settings(write(tmp_path, '[door.relay]\ndriver = "wiegand"\n'), environ={})


def test_environment_sets_the_mode_and_secrets_are_masked():
    settings = load_settings(environ={"CHECKPOINT_DOOR_MODE": "hold"}, overrides={"door": {"relay": {
        "driver": "http", "url": "http://admin:hunter2@10.0.0.5/rpc/Switch.Set?id={channel}&on={on}",
        "username": "admin", "password": "hunter2"}}})
    assert settings.door.mode == "hold"
    text = effective_toml(settings)
    assert "hunter2" not in text and "[door.relay]" in text

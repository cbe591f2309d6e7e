"""Framers and parsers on the documented test vectors and formats."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.thermal.base import Fault, OptionsError, Sample, decode
from drivers.thermal.protocols.gy_mcu90640 import AUTO_PUSH, FRAME_LEN, checksum16, encode_frame
from drivers.thermal.protocols.modbus_rtu import crc16, gap_s, with_crc
from drivers.thermal.protocols.optris import decode_temperature, encode_temperature
from drivers.thermal.registry import make_protocol, protocol_keys


def run(protocol, data: bytes, chunk: int = 0):
    framer = protocol.framer()
    out = []
    pieces = [data] if not chunk else [data[i:i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        out += list(decode(protocol, framer, piece))
    return out


def samples(results):
    return [r for r in results if isinstance(r, Sample)]


def faults(results):
    return [r.kind for r in results if isinstance(r, Fault)]


def test_registry_knows_every_family():
    assert protocol_keys() == ["ascii", "gy-mcu90640", "mlx90640-text", "modbus-rtu", "optris"]
    with pytest.raises(ValueError, match="unknown scanner protocol 'mlx'"):
        make_protocol("mlx")


def test_options_are_strict_and_name_the_key():
    with pytest.raises(OptionsError, match=r"unknown key 'scanner.options.slav' for protocol 'modbus-rtu'"):
        make_protocol("modbus-rtu", {"slav": 2})
    with pytest.raises(OptionsError, match=r"'scanner.options.slave'"):
        make_protocol("modbus-rtu", {"slave": 300})
    with pytest.raises(OptionsError, match=r"'scanner.options.pattern'.*named group 'object'"):
        make_protocol("ascii", {"pattern": r"T=(\d+)"})
    with pytest.raises(OptionsError, match=r"'scanner.options.function'"):
        make_protocol("modbus-rtu", {"function": 6})


# --- Modbus RTU -----------------------------------------------------------------

def test_modbus_crc_test_vectors():
    assert crc16(bytes.fromhex("01 03 00 12 00 01")).to_bytes(2, "little") == bytes.fromhex("24 0F")
    assert with_crc(bytes.fromhex("01 03 02 01 6F")) == bytes.fromhex("01 03 02 01 6F F9 F8")
    assert crc16(b"123456789") == 0x4B37  # CRC-16/MODBUS check value


def test_modbus_request_and_reply_vectors():
    p = make_protocol("modbus-rtu", {"slave": 1, "function": 3, "register": 0x12})
    assert p.poll_request() == bytes.fromhex("01 03 00 12 00 01 24 0F")
    assert samples(run(p, bytes.fromhex("01 03 02 01 6F F9 F8"))) == [Sample(object_c=pytest.approx(36.7))]
    assert samples(run(p, bytes.fromhex("01 03 02 01 6F F9 F8"), chunk=1))[0].object_c == pytest.approx(36.7)


def test_modbus_function_04_slave_and_scale():
    p = make_protocol("modbus-rtu", {"slave": 7, "function": 4, "register": 1, "scale": 0.01})
    request = p.poll_request()
    assert request[:6] == bytes.fromhex("07 04 00 01 00 01")
    assert crc16(request[:6]) == int.from_bytes(request[6:], "little")
    reply, rest = p.answer(request, 36.55)
    assert rest == b"" and samples(run(p, reply))[0].object_c == pytest.approx(36.55)


def test_modbus_exception_bad_crc_and_garbage():
    p = make_protocol("modbus-rtu")
    exception = with_crc(bytes.fromhex("01 83 02"))
    assert faults(run(p, exception)) == ["exception_replies"]
    assert "crc_errors" in faults(run(p, bytes.fromhex("01 03 02 01 6F F9 F9")))
    mixed = b"\xff\x00" + bytes.fromhex("01 03 02 01 6F F9 F8")
    result = run(p, mixed)
    assert faults(result)[0] == "garbage_bytes" and samples(result)[0].object_c == pytest.approx(36.7)


def test_modbus_negative_register_and_reference_register():
    p = make_protocol("modbus-rtu", {"register": 0x12, "reference_register": 0x13})
    assert p.poll_request()[:6] == bytes.fromhex("01 03 00 12 00 02")
    reply = with_crc(bytes.fromhex("01 03 04") + (367).to_bytes(2, "big") + (349).to_bytes(2, "big"))
    sample = samples(run(p, reply))[0]
    assert sample.object_c == pytest.approx(36.7) and sample.reference_c == pytest.approx(34.9)
    p = make_protocol("modbus-rtu")
    cold = with_crc(bytes.fromhex("01 03 02") + (-55).to_bytes(2, "big", signed=True))
    assert samples(run(p, cold))[0].object_c == pytest.approx(-5.5)


def test_modbus_inter_frame_gap():
    assert gap_s(9600) == pytest.approx(3.5 * 11 / 9600)
    assert gap_s(115200) == pytest.approx(0.00175)


# --- Optris ------------------------------------------------------------------------

def test_optris_vector_and_short_reply():
    p = make_protocol("optris")
    assert p.poll_request() == b"\x01" and p.wants_dtr() is True
    assert decode_temperature(bytes.fromhex("05 56")) == pytest.approx(36.6)
    assert encode_temperature(36.6) == bytes.fromhex("05 56")
    framer = p.framer()
    framer.start_transaction()
    assert framer.feed(b"\x05") == []
    assert [f.kind for f in framer.start_transaction()] == ["length_errors"]
    assert framer.feed(bytes.fromhex("05 56"), 1.0) == [] and framer.window_end() == pytest.approx(1.02)
    assert [p.parse(m) for m in framer.close_window(1.02)] == [Sample(object_c=pytest.approx(36.6))]
    assert make_protocol("optris", {"dtr": False}).wants_dtr() is False


# --- ASCII ---------------------------------------------------------------------------

ADAFRUIT = (b"Adafruit MLX90614 test\r\n"
            b"Ambient = 24.51*C\tObject = 36.63*C\r\nAmbient = 76.12*F\tObject = 97.93*F\r\n\r\n")


def test_ascii_adafruit_example_with_banner_f_line_and_empty_line():
    results = run(make_protocol("ascii"), ADAFRUIT)
    assert samples(results) == [Sample(object_c=36.63, ambient_c=24.51)]
    assert faults(results) == []


def test_ascii_colon_and_number_and_nan():
    p = make_protocol("ascii", {"pattern": "colon"})
    assert samples(run(p, b"Object:36.60C, Ambient:28.10C\r\n")) == [Sample(object_c=36.6, ambient_c=28.1)]
    p = make_protocol("ascii", {"pattern": "number"})
    results = run(p, b"36.5\r\nnan\r\ninf\r\novf\r\n-12\r\n", chunk=3)
    assert [s.object_c for s in samples(results)] == [36.5, -12.0]
    assert faults(results) == ["failed_reads"] * 3
    auto = make_protocol("ascii")
    assert samples(run(auto, b"Ambient = 24.51*C\tObject = nan*C\r\n")) == []
    assert faults(run(auto, b"Ambient = 24.51*C\tObject = nan*C\r\n")) == ["failed_reads"]


def test_ascii_custom_regex_with_fahrenheit_and_reference():
    p = make_protocol("ascii", {"pattern": r"Suhu=(?P<object>[-\d.]+);Ref=(?P<reference>[-\d.]+)", "unit": "F"})
    sample = samples(run(p, b"Suhu=97.88;Ref=95.00\n"))[0]
    assert sample.object_c == pytest.approx(36.6) and sample.reference_c == pytest.approx(35.0)


def test_ascii_garbage_and_overlong_lines():
    p = make_protocol("ascii", {"max_line": 40})
    results = run(p, b"\x00\xff\x13\n" + b"x" * 100 + b"\nAmbient = 24.51*C\tObject = 36.63*C\r\n")
    assert faults(results) == ["garbage_lines", "overlong_lines"]
    assert samples(results)[0].object_c == 36.63


# --- MLX90640 text ---------------------------------------------------------------------

def test_mlx90640_text_frame_round_trip():
    p = make_protocol("mlx90640-text")
    data = b"Read 2 frames in 0.50 s\r\n" + p.encode(36.6, 27.0)
    results = run(p, data, chunk=97)
    assert faults(results) == []
    frame = samples(results)[0].frame
    assert frame.shape == (24, 32) and float(frame.max()) == pytest.approx(36.6) and frame[0, 0] == pytest.approx(27.0)


def test_mlx90640_text_cut_frame_and_wrong_row_length():
    p = make_protocol("mlx90640-text")
    good = p.encode(36.6, 27.0)
    cut = b"\r\n".join(good.split(b"\r\n")[:6]) + b"\r\n"
    short_row = good.replace(b"27.0, \r\n", b"\r\n", 1)
    results = run(p, cut + short_row + good)
    assert faults(results) == ["length_errors", "length_errors"]
    assert len(samples(results)) == 1


# --- GY-MCU90640 ---------------------------------------------------------------------------

def test_gy_frame_layout_and_checksum_rule():
    frame = np.full((24, 32), 27.0)
    frame[3, 4] = 36.6
    data = encode_frame(frame, 25.5)
    assert len(data) == FRAME_LEN == 1544 and data[:4] == bytes.fromhex("5A 5A 02 06")
    words = [int.from_bytes(data[i:i + 2], "little") for i in range(0, 1542, 2)]
    assert int.from_bytes(data[-2:], "little") == sum(words) & 0xFFFF == checksum16(data[:-2])
    sample = samples(run(make_protocol("gy-mcu90640"), data))[0]
    assert sample.frame[3, 4] == pytest.approx(36.6) and sample.ambient_c == pytest.approx(25.5)
    assert make_protocol("gy-mcu90640").startup_bytes() == AUTO_PUSH == bytes.fromhex("A5 35 02 DC")


def test_gy_resynchronises_after_garbage_bad_checksum_and_fake_header():
    p = make_protocol("gy-mcu90640")
    good = p.encode(36.6, 27.0)
    bad = bytearray(good)
    bad[100] ^= 0xFF
    stream = b"\x01\x02\x5a\x5a\x07\x00junk" + bytes(bad) + good[:500]
    results = run(p, stream + good[500:] + b"\x5a", chunk=333)
    assert set(faults(results)) == {"garbage_bytes", "length_errors", "crc_errors"}
    assert len(samples(results)) == 1
    unchecked = make_protocol("gy-mcu90640", {"checksum": "none"})
    assert len(samples(run(unchecked, bytes(bad)))) == 1


def test_encoders_of_push_protocols_round_trip_a_failed_read():
    for key in ("ascii", "mlx90640-text"):
        p = make_protocol(key)
        results = run(p, p.encode(None, 25.0))
        assert samples(results) == [] and "failed_reads" in faults(results), key


def test_fahrenheit_unit_applies_to_bare_numbers_even_under_auto():
    from drivers.thermal.registry import make_protocol

    auto_f = make_protocol("ascii", {"unit": "F"})
    assert round(auto_f.parse(b"98.6").object_c, 2) == 37.0
    labelled = auto_f.parse(b"Ambient = 24.51*C\tObject = 36.63*C")
    assert (labelled.object_c, labelled.ambient_c) == (36.63, 24.51)  # labelled lines say Celsius

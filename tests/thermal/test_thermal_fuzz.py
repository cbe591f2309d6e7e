"""No exception escapes any framer or parser: 100,000+ random and mutated inputs per protocol,
plus hypothesis for structure (round trips, chunking does not matter)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checkpoint.config import CalibrationConfig, ScannerConfig
from drivers.thermal.base import Fault, Sample, decode
from drivers.thermal.calibrate import Calibrator
from drivers.thermal.protocols.modbus_rtu import with_crc
from drivers.thermal.registry import make_protocol

INPUTS_PER_PROTOCOL = 100_000
PROTOCOLS = ["ascii", "mlx90640-text", "gy-mcu90640", "modbus-rtu", "optris"]
OPTIONS = {"ascii": [{}, {"pattern": "number"}, {"pattern": r"T=(?P<object>\S+) A=(?P<ambient>\S+)"}]}


def seeds(protocol) -> list[bytes]:
    corpus = [b"", b"\n", b"\r\n" * 3]
    if protocol.polled:
        for value in (36.7, -5.0, 0.0, 380.0):
            corpus.append(protocol.answer(protocol.poll_request(), value)[0])
        corpus += [with_crc(b"\x01\x83\x02"), bytes.fromhex("01 03 02 01 6F F9 F8"), bytes.fromhex("05 56")]
    else:
        corpus += [protocol.banner(), protocol.encode(36.6, 28.0), protocol.encode(None, 25.0),
                   protocol.encode(-30.0, -10.0)]
        corpus += [b"Object:36.60C, Ambient:28.10C\r\n", b"T=36.6 A=nan\n", b"-" * 32 + b"\r\n"]
    return corpus


def mutate(rng: random.Random, data: bytes, corpus: list[bytes]) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        if op < 0.25 and buf:
            i = rng.randrange(len(buf))
            buf[i] ^= 1 << rng.randrange(8)
        elif op < 0.40:
            i = rng.randint(0, len(buf))
            buf[i:i] = rng.randbytes(rng.randint(1, 16))
        elif op < 0.55 and buf:
            i = rng.randrange(len(buf))
            del buf[i:i + rng.randint(1, 64)]
        elif op < 0.65:
            buf = buf[:rng.randint(0, len(buf))]
        elif op < 0.75:
            other = rng.choice(corpus)
            buf += other[rng.randint(0, len(other)):]
        elif op < 0.82 and buf:
            i = rng.randrange(len(buf))
            buf[i] = rng.choice(b"\n\r,-=.:*Z\x5a\xa5\x01\x83nfo 0123456789")
        elif op < 0.90:
            buf += rng.choice([b"nan", b"inf", b"ovf", b"1e309", b"-0", b"\x5a\x5a\x02\x06", b"9" * 40])
        else:
            buf = bytearray(rng.randbytes(rng.randint(0, 200)))
    return bytes(buf)


def exercise(protocol, rng: random.Random, n: int) -> dict[str, int]:
    """Feed n mutated inputs, each through a framer (in random chunks) and straight to parse()."""
    pristine = seeds(protocol)
    corpus = list(pristine)
    calibrator = Calibrator(ScannerConfig(protocol=protocol.key, calibration=CalibrationConfig(
        method="blackbody", reference_c=35.0, reference_region=(0, 0, 3, 3))), protocol)
    framer = protocol.framer()
    tally = {"samples": 0, "faults": 0}
    fed = 0
    while fed < n:
        if rng.random() < 0.05:  # now and then a clean message after a reset, so the success paths run too
            data = rng.choice(pristine)
            framer.reset()
            if protocol.polled:
                framer.start_transaction()  # a reply counts only after a request (Optris: in its window)
        else:
            data = mutate(rng, rng.choice(corpus), corpus)
        if rng.random() < 0.02:
            corpus.append(data[:4096])  # mutants breed
        if rng.random() < 0.1:
            framer.start_transaction()
        if rng.random() < 0.01:
            framer.reset()
        pos = 0
        while pos <= len(data):
            step = rng.randint(1, 400)
            for result in decode(protocol, framer, data[pos:pos + step], float(fed)):
                if isinstance(result, Sample):
                    tally["samples"] += 1
                    calibrator.reading(result, float(fed))
                elif isinstance(result, Fault):
                    tally["faults"] += 1
                else:
                    assert result is None
            pos += step
        result = protocol.parse(data)  # messages that no framer would have produced
        assert result is None or isinstance(result, (Sample, Fault))
        if protocol.polled:
            reply, rest = protocol.answer(data[:64], 36.6)
            assert isinstance(reply, bytes) and isinstance(rest, bytes)
        fed += 1  # one mutant, given to the framer (in chunks) and to the parser
    return tally


@pytest.mark.slow
@pytest.mark.parametrize("key", PROTOCOLS)
def test_mutation_fuzz_never_raises(key):
    rng = random.Random(f"checkpoint-{key}")
    tallies = []
    variants = OPTIONS.get(key, [{}])
    for options in variants:
        tallies.append(exercise(make_protocol(key, options), rng, INPUTS_PER_PROTOCOL // len(variants) + 1))
    # the mutants reach both sides: some still parse, many are rejected
    assert sum(t["samples"] for t in tallies) > 500
    assert sum(t["faults"] for t in tallies) > 1000


# GY frames carry int16 °C x 100, which tops out at 327.67 °C
temperatures = st.floats(min_value=-39.0, max_value=300.0, allow_nan=False).map(lambda v: round(v, 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(["ascii", "gy-mcu90640", "mlx90640-text"]), obj=temperatures,
       ambient=st.floats(min_value=-30, max_value=60).map(lambda v: round(v, 1)),
       cuts=st.lists(st.integers(min_value=0, max_value=6000), max_size=8),
       garbage=st.binary(max_size=40).filter(lambda b: b"\n" not in b and b"\x5a" not in b))
def test_push_round_trip_is_independent_of_chunking(key, obj, ambient, cuts, garbage):
    protocol = make_protocol(key)
    # "~": never a number
    stream = b"~" + garbage + b"\n" + protocol.encode(obj, ambient) + protocol.encode(obj, ambient)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    pieces = [stream[a:b] for a, b in zip([0] + points, points + [len(stream)])]
    framer = protocol.framer()
    found = [r for piece in pieces for r in decode(protocol, framer, piece) if isinstance(r, Sample)]
    assert len(found) == 2
    value = found[-1].object_c if found[-1].frame is None else float(found[-1].frame[11, 15])  # the face's hot spot
    assert value == pytest.approx(obj, abs=0.011)


@settings(max_examples=200, deadline=None)
@given(slave=st.integers(1, 247), function=st.sampled_from([3, 4]), register=st.integers(0, 0xFFFF),
       value=st.integers(-32768, 32767), scale=st.sampled_from([0.1, 0.01, 1.0]),
       noise=st.binary(max_size=12))
def test_modbus_round_trip_any_slave_register_value(slave, function, register, value, scale, noise):
    protocol = make_protocol("modbus-rtu", {"slave": slave, "function": function, "register": register,
                                            "scale": scale, "min_c": -1e6, "max_c": 1e6})
    reply, _ = protocol.answer(protocol.poll_request(), value * scale)
    framer = protocol.framer()
    list(decode(protocol, framer, noise))  # line noise before the poll ...
    framer.start_transaction()  # ... which the reader drops when it sends the request
    results = list(decode(protocol, framer, reply))
    samples = [r for r in results if isinstance(r, Sample)]
    assert samples and samples[-1].object_c == pytest.approx(value * scale)


@settings(max_examples=200, deadline=None)
@given(raw=st.integers(0, 0xFFFF))
def test_optris_decodes_every_two_byte_reply(raw):
    protocol = make_protocol("optris")
    framer = protocol.framer()
    framer.start_transaction()
    assert list(decode(protocol, framer, raw.to_bytes(2, "big"))) == []  # not before the reply's silence ...
    (sample,) = decode(protocol, framer, b"", 1.0)  # ... that says no third byte belongs to it
    assert sample.object_c == pytest.approx((raw - 1000) / 10)


def test_modbus_noise_that_fakes_a_header_right_before_the_reply_is_resynchronised():
    protocol = make_protocol("modbus-rtu", {"slave": 1, "register": 0x12})
    reply = bytes.fromhex("01 03 02 01 6F F9 F8")  # 36.7 °C
    framer = protocol.framer()
    framer.start_transaction()
    results = list(decode(protocol, framer, b"\x01\x03" + reply))  # "01 03 01 ..." looks like a 1-byte reply
    assert [r.object_c for r in results if isinstance(r, Sample)] == [pytest.approx(36.7)]
    assert any(isinstance(r, Fault) and r.kind == "crc_errors" for r in results)

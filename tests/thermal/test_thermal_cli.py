"""`checkpoint scanner simulate` in a real process, `checkpoint record` polling it, replay of the capture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from checkpoint.cli import build_parser
from checkpoint.config import ScannerConfig
from checkpoint.messages import ThermalReading
from drivers.thermal.recording import read_recording
from drivers.thermal.replay import iter_recording

REPO = Path(__file__).resolve().parents[2]


def invoke(*argv: str) -> int:
    args = build_parser().parse_args(list(argv))
    return args.handler(args)


def test_protocols_listed(capsys):
    assert invoke("scanner", "protocols") == 0
    assert capsys.readouterr().out.split() == ["ascii", "gy-mcu90640", "mlx90640-text", "modbus-rtu", "optris"]


def test_simulate_script_errors_exit_2(tmp_path, capsys):
    script = tmp_path / "bad.script"
    script.write_text("36.6\nforty\n")
    assert invoke("scanner", "simulate", "--protocol", "ascii", "--script", str(script)) == 2
    assert "line 2" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["optris", "ascii"])
def test_simulate_then_record_then_replay(protocol, tmp_path):
    script = tmp_path / "visitors.script"
    script.write_text("wait 0.8\n36.6 28.0\nwait 3\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "checkpoint", "scanner", "simulate", "--protocol", protocol,
                             "--script", str(script), "--no-idle"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=tmp_path)
    try:
        path = proc.stdout.readline().strip()
        assert path.endswith("/scanner") and os.path.islink(path)
        out = tmp_path / "capture.rec"
        assert invoke("record", "--port", path, "--seconds", "2.0", "--protocol", protocol, str(out)) == 0
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()
    header, events = read_recording(out)
    assert header.port == path and header.protocol == protocol
    directions = {e.direction for e in events}
    assert directions >= ({"<", ">"} if protocol == "optris" else {"<"})
    readings = [r for r in iter_recording(out, ScannerConfig(protocol=protocol), 0.0) if isinstance(r, ThermalReading)]
    assert 36.6 in [r.object_c for r in readings]

"""Benchmark (issue 15): what one gate costs on a small box.

    .venv/bin/python bench/bench_small_box.py [--seconds 180] [--video-fps 15] [--analyse-fps 10] [--face-px 240]

The whole agent runs as it does at a door, in this process: a 640x480 video file at 15 frames per second
(a masked validation photo of ../shared's faces-chandrikadeb7 drifting in a grey frame; a plain frame
where ../shared is absent, and the report says so) read by the real capture thread at the file's own
rate, analysed by the real camera watcher at ``[camera] fps`` (the detector, the reach pass, the face
check, the classifier), the virtual scanner on a pty sending a visitor's readings every few seconds
through the real serial reader, decisions, the recorder on a SQLite file, heartbeats. After a warm-up it
reports the process's CPU share of one core (CPU time over wall time), its resident memory (median and
peak, from /proc/self/status), frames analysed per second and visitors decided. Target (issue 15): under
15 % of one core and under 300 MB. One OpenCV thread, as a gate runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from bench_mask import shared_dir  # noqa: E402

from checkpoint.config import Settings  # noqa: E402
from checkpoint.runtime import AgentRuntime  # noqa: E402
from drivers.thermal.virtual import VirtualScanner  # noqa: E402


def face_photo(side: int) -> tuple[np.ndarray | None, str]:
    folder = shared_dir() / "datasets" / "faces-chandrikadeb7" / "with_mask"
    photos = sorted(folder.glob("*.jpg"))[:1] if folder.is_dir() else []
    image = cv2.imread(str(photos[0])) if photos else None
    if image is None:
        return None, f"no face ({folder} is absent): the detector runs on an empty frame"
    return cv2.resize(image, (side, side)), f"a masked face of {side} px ({photos[0].name}) drifting in the frame"


def make_video(path: Path, fps: int, seconds: int, face_px: int) -> str:
    face, what = face_photo(face_px)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (640, 480))
    for i in range(fps * seconds):
        frame = np.full((480, 640, 3), 110, np.uint8)
        if face is not None:
            x = (640 - face_px) // 2 + int(40 * np.sin(i / fps))  # the visitor sways at the scanner
            y = (480 - face_px) // 2
            frame[y:y + face_px, x:x + face_px] = face
        writer.write(frame)
    writer.release()
    return what


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def visitors(scanner: VirtualScanner, stop: threading.Event, every_s: float = 6.0) -> None:
    """A visitor's forehead at the scanner every ``every_s`` seconds: a few readings, then nobody."""
    while not stop.wait(every_s):
        for _ in range(5):
            scanner.send_temperature(36.6)
            time.sleep(0.2)
        scanner.send_temperature(24.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=180.0, help="measured time after the warm-up")
    parser.add_argument("--warm-up", type=float, default=15.0)
    parser.add_argument("--video-fps", type=int, default=15)
    parser.add_argument("--analyse-fps", type=float, default=10.0, help="[camera] fps (the shipped default: 10)")
    parser.add_argument("--face-px", type=int, default=240, help="the face's side in the frame: under 160 (a third "
                        "of 480) the reach pass runs on every frame, as for a visitor a few metres away")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory(prefix="checkpoint-small-box-") as folder:
        video = Path(folder) / "door.avi"
        scene = make_video(video, args.video_fps, 20, args.face_px)
        scanner = VirtualScanner("ascii", {})
        settings = Settings.model_validate({
            "data_dir": folder, "gate": {"id": "bench"},
            "scanner": {"url": scanner.start(), "protocol": "ascii"},
            "camera": {"source": str(video), "fps": args.analyse_fps},
            "database": {"url": f"sqlite:///{Path(folder) / 'gate.db'}"},
        })
        runtime = AgentRuntime(settings).start()
        stop = threading.Event()
        feeder = threading.Thread(target=visitors, args=(scanner, stop), daemon=True)
        feeder.start()
        try:
            time.sleep(args.warm_up)
            camera = runtime.camera
            analysed0, changes0 = (camera.analysed if camera else 0), runtime.agent.changes
            usage0, wall0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            memory = []
            while time.monotonic() - wall0 < args.seconds:
                memory.append(rss_mb())
                time.sleep(1.0)
            usage1, wall = resource.getrusage(resource.RUSAGE_SELF), time.monotonic() - wall0
            analysed = (camera.analysed if camera else 0) - analysed0
            decided = runtime.agent.changes - changes0
        finally:
            stop.set()
            runtime.stop()
            scanner.stop()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    result = {"seconds": round(wall, 1), "cpu_share_of_one_core": round(cpu / wall, 4),
              "rss_mb_median": round(statistics.median(memory), 1), "rss_mb_peak": round(max(memory), 1),
              "frames_analysed_per_s": round(analysed / wall, 2), "visitors_decided": decided,
              "video_fps": args.video_fps, "analyse_fps": args.analyse_fps, "scene": scene,
              "cpus": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"one gate, {args.video_fps} fps 640x480 video analysed at {args.analyse_fps:g} fps, {scene}, "
          f"{wall:.0f} s measured after {args.warm_up:.0f} s")
    print(f"CPU {100 * result['cpu_share_of_one_core']:.1f} % of one core (target < 15 %), "
          f"memory {result['rss_mb_median']:.0f} MB median, {result['rss_mb_peak']:.0f} MB peak (target < 300 MB)")
    print(f"frames analysed {result['frames_analysed_per_s']:.1f}/s, visitors decided {decided}, "
          f"load average {result['load_average']} on {os.cpu_count()} CPUs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

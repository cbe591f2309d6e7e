"""`checkpoint camera test`: check the configured camera with the gate's own face pipeline."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Optional

NAME = "camera"
HELP = "check the camera: resolution, frame rate, faces found and their sizes"
DESCRIPTION = """Camera set-up.

  checkpoint camera test [--seconds N] [-c CONFIG]
      opens [camera] source (a device index, a stream URL or a video file)
      through the agent's capture, runs the camera-mode face pipeline (the
      reach pass, the face check, [camera] roi) on its frames for N seconds
      (default 10) and prints the resolution, the frame rate captured and
      analysed, the faces found per frame and their sizes (shorter side in
      pixels), and how often the visitor was found. It warns when the
      visitor's face is smaller than [mask] min_face_px (too far), larger
      than a third of the frame (too close), and when the frame rate is below
      [camera] fps. Exit status 0 when frames came (warnings or not), 1 when
      the camera gave no frame, 2 for a configuration error."""

TOO_CLOSE = 1 / 3  # a face over this share of the frame's shorter side: too close to the camera
FPS_TOLERANCE = 0.9  # a measured rate under this share of [camera] fps is reported as too low


def configure(parser) -> None:
    from checkpoint.cli import common_options

    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    test = sub.add_parser("test", help="run the face pipeline on the configured camera for a few seconds",
                          parents=[common_options(nested=True)])
    test.add_argument("--seconds", type=float, default=10.0, help="how long to watch (default 10)")
    test.add_argument("--source", help="camera source to test instead of [camera] source (index, URL or file)")


def run(args) -> int:
    from checkpoint.cli import settings_from_args

    settings = settings_from_args(args)
    camera = settings.camera
    if args.source:
        camera = camera.model_copy(update={"source": args.source})
    if camera.source.strip() == "simulated":
        print("checkpoint camera test: [camera] source is 'simulated' (the agent's simulator): set it to a device "
              "index ('0'), a stream URL or a video file, or pass --source", file=sys.stderr)
        return 2
    if args.seconds <= 0:
        print("checkpoint camera test: --seconds must be positive", file=sys.stderr)
        return 2
    stats = watch(camera, settings.mask, args.seconds)
    print(report(stats, camera, settings.mask))
    return 0 if stats.frames_analysed else 1


@dataclass
class CameraStats:
    source: str
    seconds: float = 0.0
    frames_captured: int = 0
    frames_analysed: int = 0
    frame_size: Optional[tuple[int, int]] = None
    faces_per_frame: list[int] = field(default_factory=list)
    face_sizes: list[float] = field(default_factory=list)  # shorter side of every face found, px
    visitor_sizes: list[float] = field(default_factory=list)  # shorter side of the visitor, px, per frame found
    too_small: list[float] = field(default_factory=list)  # the largest face in the ROI, when under min_face_px
    analyse_ms: list[float] = field(default_factory=list)
    health: str = ""

    @property
    def visitor_frames(self) -> int:
        return len(self.visitor_sizes)

    @property
    def captured_fps(self) -> float:
        return self.frames_captured / self.seconds if self.seconds > 0 else 0.0

    @property
    def analysed_fps(self) -> float:
        return self.frames_analysed / self.seconds if self.seconds > 0 else 0.0


def watch(camera, mask, seconds: float, pipeline=None) -> CameraStats:
    """Capture from ``camera`` for ``seconds`` and run the camera-mode pipeline
    on the newest frame at up to ``camera.fps``, as the agent's watcher does."""
    import time

    from checkpoint.clock import LiveClock
    from checkpoint.health import HealthRegistry
    from drivers.camera import CameraCapture, Frame
    from drivers.mask.pipeline import MaskPipeline, choose_visitor

    pipeline = pipeline or MaskPipeline(mask, roi=camera.roi)
    registry = HealthRegistry()
    capture = CameraCapture(camera, LiveClock(), registry.reporter("camera"))
    stats = CameraStats(source=camera.source)
    period = 1.0 / camera.fps
    capture.start()
    try:
        first = capture.wait_frame(timeout=max(camera.stall_s, 5.0))
        if first is None:
            stats.health = registry.get("camera").message or f"no frame from camera {camera.source!r}"
            return stats
        start = time.monotonic()
        base = capture.frames - 1  # the first frame is counted from here
        deadline = start + seconds
        last_t: Optional[float] = None
        next_due = start
        frame: Optional[Frame] = first
        while True:
            if frame is not None:
                t, image = frame
                last_t = t
                began = time.perf_counter()
                h, w = image.shape[:2]
                stats.frame_size = (w, h)
                faces = pipeline.faces(image)
                visitor = pipeline.visitor(image, faces)
                stats.analyse_ms.append((time.perf_counter() - began) * 1000)
                stats.frames_analysed += 1
                stats.faces_per_frame.append(len(faces))
                stats.face_sizes.extend(min(f.w, f.h) for f in faces)
                if visitor is not None:
                    stats.visitor_sizes.append(min(visitor.w, visitor.h))
                else:
                    nearest = choose_visitor(faces, (w, h), camera.roi, 0)
                    if nearest is not None:
                        stats.too_small.append(min(nearest.w, nearest.h))
                next_due += period
                delay = next_due - time.monotonic()
                if delay > 0:
                    time.sleep(min(delay, max(deadline - time.monotonic(), 0)))
                else:
                    next_due = time.monotonic()
            if time.monotonic() >= deadline:
                break
            frame = capture.wait_frame(newer_than=last_t, timeout=min(period * 4, 1.0,
                                                                       max(deadline - time.monotonic(), 0.01)))
        stats.seconds = time.monotonic() - start
        stats.frames_captured = capture.frames - base
        stats.health = registry.get("camera").message
    finally:
        capture.stop()
    return stats


def _spread(values: list[float]) -> str:
    import statistics

    if not values:
        return "-"
    return f"{min(values):.0f} / {statistics.median(values):.0f} / {max(values):.0f}"


def warnings(stats: CameraStats, camera, mask) -> list[str]:
    out: list[str] = []
    if not stats.frames_analysed:
        return out
    if stats.too_small:
        out.append(f"the nearest face was under mask.min_face_px = {mask.min_face_px} px in "
                   f"{len(stats.too_small)} of {stats.frames_analysed} frames (largest {max(stats.too_small):.0f} px): "
                   "too far, never the visitor. Move the camera closer to where the visitor stands, use a longer "
                   "lens, or set [camera] roi to the visitor's place")
    if stats.frame_size is not None:
        limit = TOO_CLOSE * min(stats.frame_size)
        close = [s for s in stats.visitor_sizes if s > limit]
        if close:
            out.append(f"the visitor's face was over a third of the frame ({limit:.0f} px) in {len(close)} of "
                       f"{stats.frames_analysed} frames (largest {max(close):.0f} px): too close, the face may be cut "
                       "off. Move the camera back or use a wider lens")
    for what, rate in (("captured", stats.captured_fps), ("analysed", stats.analysed_fps)):
        if rate < FPS_TOLERANCE * camera.fps:
            out.append(f"frame rate {what} {rate:.1f}/s is below camera.fps = {camera.fps:g}"
                       + (": the pipeline cannot keep up on this machine (set [camera] roi or a lower fps)"
                          if what == "analysed" and stats.captured_fps >= FPS_TOLERANCE * camera.fps else ""))
    return out


def report(stats: CameraStats, camera, mask) -> str:
    import statistics

    lines = [f"camera {stats.source!r}"]
    if not stats.frames_analysed:
        lines.append(f"  no frame: {stats.health or 'the camera gave nothing'}")
        return "\n".join(lines)
    assert stats.frame_size is not None  # set with each frame analysed
    w, h = stats.frame_size
    lines.append(f"  resolution        {w}x{h}" + ("" if (w, h) == (camera.width, camera.height)
                                                  else f" (asked {camera.width}x{camera.height})"))
    if camera.roi is not None:
        from drivers.mask.pipeline import roi_pixels

        x0, y0, x1, y1 = roi_pixels(camera.roi, w, h, margin=0)
        lines.append(f"  region of interest x {x0}-{x1}, y {y0}-{y1} px ({x1 - x0}x{y1 - y0})")
    lines.append(f"  watched           {stats.seconds:.1f} s")
    lines.append(f"  frame rate        captured {stats.captured_fps:.1f}/s, analysed {stats.analysed_fps:.1f}/s "
                 f"(camera.fps = {camera.fps:g}; median {statistics.median(stats.analyse_ms):.0f} ms per frame)")
    per_frame = stats.faces_per_frame
    lines.append(f"  faces per frame   min / median / max {min(per_frame)} / {statistics.median(per_frame):g} / "
                 f"{max(per_frame)} ({sum(1 for n in per_frame if n)} of {len(per_frame)} frames with a face)")
    lines.append(f"  face size (px)    min / median / max {_spread(stats.face_sizes)} (shorter side, every face)")
    share = stats.visitor_frames / stats.frames_analysed
    lines.append(f"  visitor found     {stats.visitor_frames} of {stats.frames_analysed} frames ({share:.0%}); "
                 f"size min / median / max {_spread(stats.visitor_sizes)} px (needs >= {mask.min_face_px})")
    if stats.health:
        lines.append(f"  camera health     {stats.health}")
    for warning in warnings(stats, camera, mask):
        lines.append(f"warning: {warning}")
    return "\n".join(lines)

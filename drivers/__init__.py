"""Hardware drivers: thermal scanners, camera capture and face/mask vision.

Everything that knows about serial ports or OpenCV lives here; the core in
``checkpoint/`` only receives the plain dataclasses of ``checkpoint.messages``.
"""

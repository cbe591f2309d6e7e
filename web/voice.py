"""The visitor screen's spoken prompts: one short sentence per state or reason, in Bahasa Indonesia and English.

``scripts/make_voice.py`` turns each into ``web/static/voice/<language>/<key>.ogg`` with Debian's eSpeak NG
(voices ``id`` and ``en``) and opusenc, offline; the files ship in the package, so a gate needs no network to
speak. The page plays ``<key>.ogg`` for the state it shows (web.visitor: ``voice``). A changed text here needs
the files made again (a test checks that every prompt has its files and that they are small).
"""

from __future__ import annotations

from pathlib import Path

from checkpoint import reasons as R

VOICE_DIR = Path(__file__).resolve().parent / "static" / "voice"
LANGUAGES = ("id", "en")

PROMPTS: dict[str, tuple[str, str]] = {
    R.WELCOME: ("Silakan masuk.", "Please enter."),
    R.NO_MASK: ("Mohon pakai masker.", "Please wear a face mask."),
    R.MASK_INCORRECT: ("Mohon pakai masker dengan benar, tutupi hidung dan mulut.",
                       "Please wear your mask properly, over your nose and mouth."),
    R.MASK_UNCERTAIN: ("Masker tidak terlihat jelas. Mohon menghadap kamera.",
                       "Your mask is not clearly visible. Please face the camera."),
    R.FEVER: ("Suhu Anda tinggi. Mohon ke petugas untuk pemeriksaan lanjutan.",
              "Your temperature is high. Please see the officer for a second check."),
    R.FEVER_RETEST: ("Suhu Anda tinggi, silakan istirahat lalu ukur ulang.",
                     "Your temperature is high. Please rest, then measure again."),
    R.IMPLAUSIBLE: ("Mohon ukur ulang. Dekatkan dahi ke sensor.",
                    "Please measure again, with your forehead closer to the sensor."),
    R.NO_FACE: ("Mohon menghadap kamera.", "Please face the camera."),
    R.FACE_TURNED: ("Mohon menghadap kamera.", "Please face the camera."),
    R.NO_READING: ("Silakan ukur suhu tubuh di sensor.", "Please measure your temperature at the sensor."),
    R.CAPACITY_FULL: ("Kapasitas penuh, mohon menunggu.", "The building is full, please wait."),
    R.SCANNER_FAULT: ("Sensor suhu bermasalah. Mohon ke petugas.",
                      "The temperature scanner is not working. Please see the officer."),
    R.CAMERA_FAULT: ("Kamera bermasalah. Mohon ke petugas.", "The camera is not working. Please see the officer."),
    "closed": ("Pintu ditutup. Mohon ke petugas.", "The gate is closed. Please see the officer."),
}


def prompt_path(key: str, language: str) -> Path:
    return VOICE_DIR / language / f"{key}.ogg"

#!/usr/bin/env python3
"""Make the visitor screen's spoken prompts (web/static/voice/<language>/<key>.ogg), offline.

Each prompt of web/voice.py is spoken by eSpeak NG (Debian's espeak-ng: voice "id" for Bahasa Indonesia, "en"
for English) into a WAV file, then encoded as mono Ogg Opus at 24 kbit/s by opusenc (Debian's opus-tools), a few
KB per prompt. A fixed stream serial number keeps the output the same from run to run on the same versions.
Run it after changing a prompt:

    bash scripts/system-deps.sh --voice   # installs espeak-ng and opus-tools (as root), if missing
    .venv/bin/python scripts/make_voice.py [--check]

--check only says whether every prompt has its files (exit status 1 if not).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from web.voice import LANGUAGES, PROMPTS, VOICE_DIR, prompt_path  # noqa: E402

VOICES = {"id": "id", "en": "en"}
SPEED_WPM = {"id": 140, "en": 150}  # a little slower than eSpeak's 175: heard across a noisy entrance


def tools() -> tuple[str, str]:
    espeak, opusenc = shutil.which("espeak-ng"), shutil.which("opusenc")
    if not espeak or not opusenc:
        missing = [name for name, path in (("espeak-ng", espeak), ("opus-tools", opusenc)) if not path]
        sys.exit(f"make_voice: needs {' and '.join(missing)}: bash scripts/system-deps.sh --voice "
                 f"(or apt-get install {' '.join(missing)})")
    return espeak, opusenc


def make(key: str, language: str, text: str, espeak: str, opusenc: str, work: Path) -> Path:
    wav, out = work / f"{language}-{key}.wav", prompt_path(key, language)
    out.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([espeak, "-v", VOICES[language], "-s", str(SPEED_WPM[language]), "-w", str(wav), text],
                   check=True)
    subprocess.run([opusenc, "--quiet", "--bitrate", "24", "--downmix-mono", "--serial", "1",
                    "--title", text, "--artist", f"eSpeak NG ({VOICES[language]})", str(wav), str(out)], check=True)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that every prompt has its files")
    args = parser.parse_args()
    missing = [prompt_path(key, language) for key in PROMPTS for language in LANGUAGES
               if not prompt_path(key, language).exists()]
    if args.check:
        for path in missing:
            print(f"missing: {path.relative_to(VOICE_DIR.parents[2])}")
        return 1 if missing else 0
    espeak, opusenc = tools()
    total = 0
    with tempfile.TemporaryDirectory() as work:
        for key, texts in PROMPTS.items():
            for language, text in zip(LANGUAGES, texts):
                path = make(key, language, text, espeak, opusenc, Path(work))
                total += path.stat().st_size
    print(f"{len(PROMPTS) * len(LANGUAGES)} prompts in {VOICE_DIR}, {total / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

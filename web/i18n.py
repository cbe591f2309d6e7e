"""A small dict-based translation table (Bahasa Indonesia, English) and the choice of language.

The language is the user's own (User.language), else the session's choice
(the language switch), else the browser's Accept-Language, else the gate's
default (settings.gate.language). On a kiosk screen (the live screen with
nobody signed in) the gate's language comes before the browser's: the
browser is the gate's, set up in whatever language it came with, not a
person's (the card always carries both languages).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Optional

from flask import g, request, session

from checkpoint import reasons

LANGUAGES = ("id", "en")
SCREEN_ENDPOINTS = ("screen.index", "screen.live")  # kiosk screens: the gate's language before the browser's

TEXT: dict[str, tuple[str, str]] = {
    "app.title": ("Checkpoint", "Checkpoint"),
    "nav.screen": ("Layar", "Screen"),
    "nav.log": ("Log pengunjung", "Visitor log"),
    "nav.reports": ("Laporan", "Reports"),
    "nav.users": ("Pengguna", "Users"),
    "nav.settings": ("Pengaturan", "Settings"),
    "nav.login": ("Masuk", "Sign in"),
    "nav.logout": ("Keluar", "Sign out"),
    "nav.language": ("English", "Bahasa Indonesia"),
    "login.title": ("Masuk", "Sign in"),
    "login.username": ("Nama pengguna", "Username"),
    "login.password": ("Kata sandi", "Password"),
    "login.submit": ("Masuk", "Sign in"),
    "login.failed": ("Nama pengguna atau kata sandi salah.", "Wrong username or password."),
    "login.limited": ("Terlalu banyak percobaan. Coba lagi nanti.", "Too many attempts. Try again later."),
    "login.first_run": ("Belum ada pengguna. Buat admin pertama di server dengan:",
                        "No users yet. Create the first admin on the server with:"),
    "login.required": ("Silakan masuk untuk membuka halaman ini.", "Please sign in to open this page."),
    "login.wait": ("Terlalu banyak percobaan yang gagal. Coba lagi dalam {seconds} detik.",
                   "Too many failed attempts. Try again in {seconds} seconds."),
    "screen.waiting": ("Menunggu pengunjung…", "Waiting for a visitor…"),
    "screen.temperature": ("Suhu", "Temperature"),
    "screen.mask": ("Masker", "Mask"),
    "screen.time": ("Waktu", "Time"),
    "screen.gate": ("Pintu", "Gate"),
    "screen.all_gates": ("Semua pintu", "All gates"),
    "screen.flagged": ("DITANDAI", "FLAGGED"),
    "screen.recent": ("Entri terakhir", "Latest entries"),
    "screen.today": ("Hari ini", "Today"),
    "screen.visitors": ("Pengunjung", "Visitors"),
    "screen.allowed": ("Diizinkan", "Allowed"),
    "screen.denied": ("Ditolak", "Denied"),
    "screen.remeasure": ("Ukur ulang", "Re-measure"),
    "screen.occupancy": ("Di dalam", "Inside"),
    "screen.building": ("seluruh gedung", "whole building"),
    "screen.capacity": ("kapasitas", "capacity"),
    "screen.no_limit": ("tanpa batas", "no limit"),
    "screen.denied_by": ("Ditolak karena", "Denied for"),
    "screen.health": ("Kondisi perangkat", "Device health"),
    "screen.silent": ("TIDAK ADA KABAR", "SILENT"),
    "screen.backlog": ("entri menunggu dicatat", "entries waiting to be logged"),
    "screen.seconds_ago": ("dtk lalu", "s ago"),
    "screen.no_gates": ("Belum ada pintu yang melapor.", "No gate has reported yet."),
    "screen.override": ("Ubah keputusan", "Override"),
    "screen.override_reason": ("Alasan", "Reason"),
    "screen.override_to": ("Menjadi", "Change to"),
    "screen.overridden": ("Diubah petugas", "Overridden"),
    "screen.by": ("oleh", "by"),
    "screen.exit": ("Catat keluar", "Record exit"),
    "screen.exit_done": ("Keluar dicatat.", "Exit recorded."),
    "screen.exit_failed": ("Keluar BELUM dicatat: basis data sedang sibuk atau tidak terjangkau. Coba lagi sebentar.",
                           "Exit NOT recorded: the database is busy or out of reach. Please try again in a moment."),
    "screen.override_done": ("Keputusan diubah.", "Decision overridden."),
    "screen.mute": ("Bunyi: nyala", "Sound: on"),
    "screen.unmute": ("Bunyi: mati", "Sound: off"),
    "screen.sound_blocked": ("Bunyi diblokir: ketuk", "Sound blocked — tap to enable"),
    "screen.live": ("Langsung", "Live"),
    "screen.offline": ("Terputus, menyambung ulang…", "Disconnected, reconnecting…"),
    "screen.closed": ("PINTU DITUTUP", "GATE CLOSED"),
    "screen.closed_hint": ("Hubungi petugas", "See the officer"),
    "screen.lost": ("KONEKSI TERPUTUS", "CONNECTION LOST"),
    "screen.lost_hint": ("Layar ini tidak lagi menerima data. Keputusan di pintu tidak tampil di sini.",
                         "This screen no longer receives data. Decisions at the gate do not show here."),
    "screen.stale": ("Data lama: terakhir diperbarui {age} lalu", "Stale: last updated {age} ago"),
    "screen.silent_for": ("selama {age}", "for {age}"),
    "screen.remeasure_requests": ("Permintaan ukur ulang", "Re-measure requests"),
    "screen.remeasure_apart": ("Bukan pengunjung tersendiri: pengunjung dihitung saat keputusan akhirnya.",
                               "Not visitors of their own: a visitor counts once, at the final decision."),
    "screen.visitors_are": ("Pengunjung = diizinkan + ditolak (keputusan akhir, termasuk perubahan petugas).",
                            "Visitors = allowed + denied (final decisions, guards' overrides included)."),
    "screen.last_ok": ("terakhir baik {age} lalu", "last ok {age} ago"),
    "stop.silent": ("agen tidak ada kabar selama {age}", "agent silent for {age}"),
    "stop.scanner": ("sensor suhu mati", "temperature scanner down"),
    "stop.camera": ("kamera mati", "camera down"),
    "stop.database": ("basis data tidak dapat ditulis", "the database cannot be written"),
    "stop.app_database": ("basis data tidak terjangkau", "the database cannot be reached"),
    "banner.simulated": ("tiruan perangkat lunak, bukan pemeriksaan sungguhan",
                         "software stand-ins, not a real screening"),
    "component.scanner": ("Sensor suhu", "Scanner"),
    "component.calibration": ("Kalibrasi", "Calibration"),
    "component.camera": ("Kamera", "Camera"),
    "component.database": ("Basis data", "Database"),
    "component.journal": ("Jurnal", "Journal"),
    "component.central": ("Basis data pusat", "Central database"),
    "component.door": ("Pintu (relai)", "Door relay"),
    "duration.s": ("{n} dtk", "{n} s"),
    "duration.min": ("{n} menit", "{n} min"),
    "duration.h": ("{n} jam", "{n} h"),
    "duration.d": ("{n} hari", "{n} days"),
    "mask.mask": ("Bermasker", "Mask on"),
    "mask.no_mask": ("Tanpa masker", "No mask"),
    "mask.mask_incorrect": ("Tidak benar (hidung/mulut terbuka)", "Worn incorrectly (nose or mouth bare)"),
    "mask.uncertain": ("Tidak jelas", "Unclear"),
    "mask.mask_below_nose": ("Di bawah hidung", "Below nose"),  # older entries
    "mask.none": ("Tidak terlihat", "Not seen"),
    "health.ok": ("baik", "ok"),
    "health.degraded": ("terganggu", "degraded"),
    "health.down": ("mati", "down"),
    "health.unknown": ("tidak diketahui", "unknown"),
    "health.database": ("Basis data", "Database"),
    "col.time": ("Waktu", "Time"),
    "col.date": ("Tanggal", "Date"),
    "col.gate": ("Pintu", "Gate"),
    "col.outcome": ("Keputusan", "Decision"),
    "col.reasons": ("Alasan", "Reasons"),
    "col.temperature": ("Suhu (°C)", "Temp. (°C)"),
    "col.mask": ("Masker", "Mask"),
    "col.override": ("Perubahan petugas", "Override"),
    "col.hour": ("Jam", "Hour"),
    "col.count": ("Jumlah", "Count"),
    "col.exits": ("Keluar", "Exits"),
    "col.flagged": ("Ditandai", "Flagged"),
    "col.overridden": ("Diubah", "Overridden"),
    "col.reason": ("Alasan", "Reason"),
    "log.title": ("Log pengunjung", "Visitor log"),
    "log.from": ("Dari", "From"),
    "log.to": ("Sampai", "To"),
    "log.any": ("Semua", "Any"),
    "log.temp_min": ("Suhu min", "Temp. min"),
    "log.temp_max": ("Suhu maks", "Temp. max"),
    "log.sort": ("Urutan", "Sort"),
    "log.sort.newest": ("Terbaru", "Newest first"),
    "log.sort.oldest": ("Terlama", "Oldest first"),
    "log.sort.hottest": ("Suhu tertinggi", "Highest temperature"),
    "log.sort.coolest": ("Suhu terendah", "Lowest temperature"),
    "log.filter": ("Saring", "Filter"),
    "log.export": ("Unduh CSV", "Download CSV"),
    "log.matching": ("entri cocok", "matching entries"),
    "log.next": ("Berikutnya", "Next"),
    "log.first": ("Halaman pertama", "First page"),
    "log.empty": ("Tidak ada entri yang cocok.", "No matching entries."),
    "log.bad_filter": ("Saringan tidak valid", "Invalid filter"),
    "log.original": ("keputusan pintu", "gate's decision"),
    "log.final_hint": ("Keputusan akhir: perubahan petugas bila ada, keputusan pintu tetap tercatat di sampingnya.",
                       "The final decision: a guard's override when there is one; the gate's own stays beside it."),
    "reason.override": ("Ditolak petugas", "Denied by a guard"),
    "reports.title": ("Laporan", "Reports"),
    "reports.daily": ("Pengunjung per hari", "Visitors per day"),
    "reports.hourly": ("Sebaran per jam", "Visitors by hour"),
    "reports.reasons": ("Penolakan menurut alasan", "Denials by reason"),
    "reports.day": ("Hari", "Day"),
    "reports.show": ("Tampilkan", "Show"),
    "reports.table": ("Tabel", "Table"),
    "reports.total": ("Total", "Total"),
    "reports.peak": ("Jam tersibuk", "Peak hour"),
    "reports.by_gate": ("Per pintu", "By gate"),
    "reports.bucket": ("Kelompok", "Group by"),
    "reports.bucket_auto": ("Otomatis", "Automatic"),
    "reports.bucket_day": ("Hari", "Day"),
    "reports.bucket_week": ("Minggu", "Week"),
    "reports.bucket_month": ("Bulan", "Month"),
    "reports.per_day": ("Pengunjung per hari", "Visitors per day"),
    "reports.per_week": ("Pengunjung per minggu (Senin–Minggu)", "Visitors per week (Monday–Sunday)"),
    "reports.per_month": ("Pengunjung per bulan", "Visitors per month"),
    "reports.export_week": ("Unduh CSV per minggu", "Download CSV by week"),
    "reports.export_month": ("Unduh CSV per bulan", "Download CSV by month"),
    "range.today": ("Hari ini", "Today"),
    "range.yesterday": ("Kemarin", "Yesterday"),
    "range.week": ("7 hari", "7 days"),
    "range.month": ("30 hari", "30 days"),
    "reports.export_days": ("Unduh CSV per hari", "Download CSV by day"),
    "reports.export_gates": ("Unduh CSV per pintu", "Download CSV by gate"),
    "reports.remeasure_beside": ("Permintaan ukur ulang (batang tipis, bukan pengunjung)",
                                 "Re-measure requests (thin bar, not visitors)"),
    "reports.definitions": ("Pengunjung = diizinkan + ditolak menurut keputusan akhir (perubahan petugas bila ada). "
                            "Permintaan ukur ulang dihitung terpisah: pengunjung dihitung sekali, saat keputusan "
                            "berikutnya. Grafik dan tabel memakai angka yang sama.",
                            "Visitors = allowed + denied by final decision (a guard's override when there is one). "
                            "Re-measure requests are counted apart: the visitor counts once, at the decision that "
                            "follows. Charts and tables show the same figures."),
    "date.format": ("hh/bb/tttt", "yyyy-mm-dd"),
    "admin.users": ("Pengguna", "Users"),
    "admin.add": ("Tambah pengguna", "Add user"),
    "admin.role": ("Peran", "Role"),
    "admin.language": ("Bahasa", "Language"),
    "admin.active": ("Aktif", "Active"),
    "admin.created": ("Dibuat", "Created"),
    "admin.enable": ("Aktifkan", "Enable"),
    "admin.disable": ("Nonaktifkan", "Disable"),
    "admin.reset": ("Ganti kata sandi", "Set password"),
    "admin.settings": ("Pengaturan yang berlaku", "Effective settings"),
    "admin.saved": ("Tersimpan.", "Saved."),
    "admin.change_role": ("Ubah peran", "Change role"),
    "admin.role_hint": ("Sesi pengguna itu berakhir; ia masuk lagi dengan peran baru.",
                        "That user's sessions end; they sign in again under the new role."),
    "admin.new_password": ("Kata sandi baru", "New password"),
    "admin.inactive": ("Nonaktif", "Disabled"),
    "admin.actions": ("Tindakan", "Actions"),
    "admin.not_yourself_disable": ("Anda tidak dapat menonaktifkan akun Anda sendiri.",
                                   "You cannot disable your own account."),
    "admin.not_yourself_role": ("Anda tidak dapat mengubah peran Anda sendiri.", "You cannot change your own role."),
    "admin.unknown_action": ("Tindakan tidak dikenal.", "Unknown action."),
    "admin.no_such_user": ("Pengguna tidak ada.", "No such user."),
    "admin.settings_hint": ("Hanya baca: berkas konfigurasi dan variabel CHECKPOINT_* menentukan nilai ini; ubah di "
                            "sana, jalankan `checkpoint config check`, lalu mulai ulang agen. Rahasia disamarkan. "
                            "Keterangan setiap kunci dalam bahasa Inggris, seperti di docs/checkpoint.example.toml.",
                            "Read only: the configuration file and CHECKPOINT_* variables set these; change them "
                            "there, run `checkpoint config check`, then restart the agent. Secrets are masked."),
    "admin.settings_sections": ("Bagian", "Sections"),
    "admin.settings_top": ("Umum", "General"),
    "admin.settings_key": ("Kunci", "Key"),
    "admin.settings_value": ("Nilai", "Value"),
    "admin.settings_meaning": ("Keterangan", "What it does"),
    "admin.settings_toml": ("Sebagai TOML (untuk berkas konfigurasi)", "As TOML (for a configuration file)"),
    "admin.browser": ("ikuti peramban", "follow the browser"),
    "password.too_short": ("Kata sandi harus terdiri dari sedikitnya {min} karakter.",
                           "The password must have at least {min} characters."),
    "password.too_long": ("Kata sandi paling banyak {max} karakter.",
                          "The password may have at most {max} characters."),
    "password.blank": ("Kata sandi tidak boleh hanya berisi spasi.", "The password cannot be only spaces."),
    "password.repeated": ("Kata sandi tidak boleh berupa satu karakter atau pola pendek yang diulang "
                          "(seperti aaaaaaaa).",
                          "The password cannot be one character or a short group repeated (like aaaaaaaa)."),
    "password.sequence": ("Kata sandi tidak boleh berupa deret seperti 12345678 atau abcdefgh.",
                          "The password cannot be a run such as 12345678 or abcdefgh."),
    "password.username": ("Kata sandi tidak boleh sama dengan nama pengguna.", "The password cannot be the user name."),
    "password.common": ("Kata sandi ini termasuk yang paling umum dan paling dulu ditebak. Pilih yang lain.",
                        "This password is one of the commonest and is guessed first. Choose another."),
    "role.guard": ("Petugas", "Guard"),
    "role.manager": ("Manajer", "Manager"),
    "role.admin": ("Admin", "Admin"),
    "error.forbidden": ("Anda tidak berhak membuka halaman ini.", "You are not allowed to open this page."),
    "error.400": ("Permintaan tidak valid", "Bad request"),
    "error.400.text": ("Server tidak dapat memahami permintaan ini.", "The server could not understand this request."),
    "error.401": ("Perlu masuk", "Sign-in required"),
    "error.401.text": ("Silakan masuk untuk membuka halaman ini.", "Please sign in to open this page."),
    "error.403": ("Terlarang", "Forbidden"),
    "error.404": ("Tidak ditemukan", "Not found"),
    "error.404.text": ("Halaman yang dicari tidak ada. Periksa alamatnya.",
                       "The page you asked for does not exist. Check the address."),
    "error.405": ("Metode tidak diizinkan", "Method not allowed"),
    "error.405.text": ("Halaman ini tidak menerima permintaan seperti itu.", "This page does not accept that request."),
    "error.413": ("Permintaan terlalu besar", "Request too large"),
    "error.413.text": ("Permintaan terlalu besar: server ini menerima paling banyak {kb} KB dalam satu permintaan, "
                       "dan hanya beberapa kolom isian pendek.",
                       "The request is too large: this server accepts at most {kb} KB in one request, and no more "
                       "than a few short form fields."),
    "error.429": ("Terlalu banyak permintaan", "Too many requests"),
    "error.500": ("Kesalahan server", "Server error"),
    "error.500.text": ("Terjadi kesalahan di server; sudah dicatat.",
                       "Something went wrong on the server; it has been logged."),
    "error.503": ("Layanan tidak tersedia", "Service unavailable"),
    "error.503.text": ("Layanan sedang tidak tersedia. Coba lagi sebentar lagi.",
                       "The service is not available right now. Try again shortly."),
    "message.simulated camera": ("kamera simulasi", "simulated camera"),
}


def pick_language(user_language: Optional[str], chosen: Optional[str], accept, default: str) -> str:
    for candidate in (user_language, chosen):
        if candidate in LANGUAGES:
            return candidate
    best = accept.best_match(LANGUAGES) if accept else None
    return best or (default if default in LANGUAGES else "id")


def current_language() -> str:
    if "language" not in g:
        from web.state import state

        user = g.get("user")
        kiosk_screen = user is None and request.endpoint in SCREEN_ENDPOINTS
        accept = None if kiosk_screen else request.accept_languages
        g.language = pick_language(user.language if user else None, session.get("language"),
                                   accept, state().settings.gate.language)
    return g.language


def translate(key: str, language: Optional[str] = None) -> str:
    pair = TEXT.get(key)
    if pair is None:
        return key
    return pair[0] if (language or current_language()) == "id" else pair[1]


def reason_label(code: str) -> str:
    if code == "override":  # checkpoint.counts.GUARD_OVERRIDE: denials a guard made
        return translate("reason.override")
    return reasons.label(code, current_language())


def outcome_label(outcome: str, language: Optional[str] = None) -> str:
    text = reasons.OUTCOME_LABELS.get(outcome)
    if text is None:
        return outcome
    return text.id if (language or current_language()) == "id" else text.en


def mask_label(mask_class: Optional[str]) -> str:
    return translate(f"mask.{mask_class or 'none'}")


def entry_message(entry, code: str, language: str) -> str:
    """The visitor's message for ``code`` on this entry, with the settings it was decided under (the entry's
    rules JSON, else this app's): the rest and the time to come back for a re-test, the capacity's scope."""
    from web.state import local_time, state

    rules = state().settings.rules
    try:
        recorded = json.loads(entry.rules or "{}")
    except (TypeError, ValueError):
        recorded = {}
    fever = recorded.get("fever") if isinstance(recorded, dict) else None
    capacity = recorded.get("capacity") if isinstance(recorded, dict) else None
    rest_s = fever.get("rest_s") if isinstance(fever, dict) else None
    if not isinstance(rest_s, (int, float)) or isinstance(rest_s, bool) or rest_s < 0:
        rest_s = rules.fever.rest_s
    scope = capacity.get("scope") if isinstance(capacity, dict) else None
    if scope not in ("gate", "building"):
        scope = rules.capacity.scope
    back_at = None
    if reasons.canonical(code) == reasons.FEVER_RETEST and rest_s > 0 and entry.decided_at is not None:
        back = entry.decided_at + timedelta(seconds=rest_s)
        if back.second or back.microsecond:  # the next whole minute: never too early
            back = back.replace(second=0, microsecond=0) + timedelta(minutes=1)
        back_at = local_time(back, entry.gate_id, "%H:%M")
    return reasons.message(code, language, rest_s=rest_s, back_at=back_at, capacity_scope=scope)


def duration(seconds: Optional[float], language: Optional[str] = None) -> str:
    """An age as people say it: "12 s", "2 min", "3 h", "8 days" (rounded down)."""
    seconds = max(float(seconds or 0), 0.0)
    for limit, unit, key in ((60, 1, "duration.s"), (3600, 60, "duration.min"), (172800, 3600, "duration.h")):
        if seconds < limit:
            return translate(key, language).format(n=int(seconds // unit))
    return translate("duration.d", language).format(n=int(seconds // 86400))


def component_message(text: str) -> str:
    """A health message the agent words the same every time, in the page's language; others as they are."""
    key = f"message.{text}"
    return translate(key) if key in TEXT else text


def component_label(name: str) -> str:
    """A health component's name in the page's language (unknown components as they are named)."""
    key = f"component.{name}"
    return translate(key) if key in TEXT else name


def date_box(value: str, language: Optional[str] = None) -> str:
    """A date box's value as the page's language writes dates (Indonesian 03/12/2026, English 2026-12-03);
    text that is no date (what was typed into a refused box) as it is."""
    try:
        day = date.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    return day.strftime("%d/%m/%Y") if (language or current_language()) == "id" else day.isoformat()


def init_app(app) -> None:
    app.jinja_env.globals.update(
        _=translate, reason_label=reason_label, outcome_label=outcome_label, mask_label=mask_label,
        current_language=current_language, reason_message=reasons.message, REASON_LABELS=reasons.LABELS,
        component_label=component_label, component_message=component_message, entry_message=entry_message,
    )
    app.jinja_env.filters["duration"] = duration
    app.jinja_env.filters["date_box"] = date_box

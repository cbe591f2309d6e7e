"""Fault run: the entry log deleted, read-only, or on a full disk (then SIGKILL) under a real agent.

    .venv/bin/python bench/bench_db_faults.py [--seconds 170] [--fault 60] [--only deleted,read-only,disk-full] [--json]

The agent is the real product: `checkpoint demo` (the `checkpoint run` process,
agent and web app together, plus the virtual scanner and simulated visitors),
logging each decision's uid at INFO. The three scenarios run side by side, each
with its own data directory, port and process:

- deleted: while the agent writes, an operator takes a backup (holding the
  write lock, so it is complete) and runs `rm checkpoint.db*`; later the backup
  is put back (copied beside it, then renamed into place).
- read-only: the log's files lose their write permission (the agent runs
  without CAP_DAC_OVERRIDE when this runs as root, so modes apply to it), and
  a lock held past the busy timeout makes the agent reconnect during the spell;
  then the files are writable again. No restart.
- disk-full: the data directory is a small tmpfs, filled up; the agent is
  killed with SIGKILL while the disk is full, the filler removed, the agent
  started again.

Printed per scenario: entries decided (from the agent's log), decided during
the fault, entries in the database after recovery, lost (decided, not in the
database), extra rows (in the database, not logged as decided: killed between
the two), what /healthz said during the fault, and whether writes resumed by
themselves. Exit status 1 if any entry was lost or a scenario did not recover.
Needs root for the tmpfs (disk-full) and to drop capabilities (read-only as
root); a scenario that cannot run here says so and is skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DECISION = re.compile(r"decision ([0-9a-f]{8}) ")
GATE = "gate-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Demo:
    """One `checkpoint demo` process on ``data_dir``; its stderr (the log) goes to a file."""

    def __init__(self, data_dir: Path, name: str, wrapper: tuple[str, ...] = ()) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.log_path = data_dir.parent / f"{name}.log"
        env = dict(os.environ, CHECKPOINT_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1")
        env.pop("CHECKPOINT_DATABASE_URL", None)
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [*wrapper, sys.executable, "-m", "checkpoint", "demo", "--interval", "0.2", "--port", str(self.port),
             "--seed", str(self.port), "--log-level", "info"],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=self._log, stdin=subprocess.DEVNULL)

    def decisions(self) -> list[str]:
        return DECISION.findall(self.log_path.read_text(errors="replace"))

    def healthz(self) -> dict | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:  # 503: still a health document
            try:
                return json.loads(error.read())
            except ValueError:
                return None
        except (OSError, ValueError):
            return None

    def wait_decisions(self, n: int, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.decisions()) < n:
            if self.process.poll() is not None:
                raise RuntimeError(f"the agent ended (status {self.process.returncode}); see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {n} decisions after {timeout:.0f} s; see {self.log_path}")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._log.close()

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()


class HealthWatch:
    """/healthz sampled every half second during a fault: what the screens were told."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.seen: list[str] = []
        self.max_backlog = 0
        self.samples = 0

    def sample(self) -> None:
        document = self.demo.healthz()
        if document is None:
            return
        self.samples += 1
        gates = [g for g in document.get("gates", []) if g.get("gate_id") == GATE]
        database = document.get("database", {})
        said = f"database {database.get('state')}"
        if gates:
            gate = gates[0]
            self.max_backlog = max(self.max_backlog, gate.get("backlog") or 0)
            for name in ("database", "journal"):
                component = gate.get("components", {}).get(name)
                if component and component.get("state") != "ok":
                    said += f" | {name} {component['state']}: {component.get('message', '')}"
            if gate.get("silent"):
                said += " | gate silent"
        shown = re.sub(r"\d+ KiB left", "N KiB left", said)
        if shown not in self.seen:
            self.seen.append(shown)

    def watch(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.sample()
            time.sleep(0.5)


def database_uids(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        uids = [row[0] for row in db.execute("SELECT uid FROM entry")]
    db.close()
    return uids


def journal_lines(data_dir: Path) -> int:
    path = data_dir / f"journal-{GATE}.jsonl"
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError:
        return 0
    count = 0
    for line in lines:
        if line == b'{"kind":"committed"}':
            count = 0
        elif line.strip():
            count += 1
    return count


def wait_drained(demo: Demo, timeout: float) -> float | None:
    """Seconds until the journal is empty and /healthz says the database is ok again (None: never)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        document = demo.healthz() or {}
        gates = [g for g in document.get("gates", []) if g.get("gate_id") == GATE]
        database_ok = gates and gates[0].get("components", {}).get("database", {}).get("state") == "ok"
        if journal_lines(demo.data_dir) == 0 and document.get("database", {}).get("state") == "ok" and database_ok:
            return time.monotonic() - start
        time.sleep(0.25)
    return None


def files_of(db: Path) -> list[Path]:
    return [p for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists()]


def result(name: str, decided: list[str], during: list[str], db: Path, watch: HealthWatch,
           resumed_s: float | None, note: str = "") -> dict:
    in_db = database_uids(db) if db.exists() else []
    prefixes = {uid[:8] for uid in in_db}
    lost = [uid for uid in decided if uid not in prefixes]
    return {
        "scenario": name, "decided": len(decided), "decided_during_fault": len(during), "in_database": len(in_db),
        "lost": len(lost), "lost_during_fault": len([uid for uid in during if uid not in prefixes]),
        "extra": len(prefixes - set(decided)), "doubled": len(in_db) - len(prefixes),
        "health_during_fault": watch.seen, "max_backlog_shown": watch.max_backlog,
        "resumed_after_s": None if resumed_s is None else round(resumed_s, 1), "note": note,
    }


# -- scenarios ---------------------------------------------------------------------------------

def scenario_deleted(work: Path, fault_s: float) -> dict:
    data = work / "data"
    data.mkdir()
    db = data / "checkpoint.db"
    demo = Demo(data, "deleted")
    try:
        demo.wait_decisions(4)
        before = len(demo.decisions())
        lock = sqlite3.connect(db, timeout=15)
        lock.execute("BEGIN IMMEDIATE")  # nothing commits between the backup and the rm
        source, target = sqlite3.connect(db), sqlite3.connect(work / "backup.db")
        source.backup(target)  # a read snapshot: with the write lock held, the latest state
        source.close()
        target.close()
        for path in files_of(db):  # rm checkpoint.db*
            path.unlink()
        lock.rollback()
        lock.close()
        before = len(demo.decisions())
        watch = HealthWatch(demo)
        watch.watch(fault_s)
        during = demo.decisions()[before:]
        shutil.copy(work / "backup.db", data / "restoring.db")
        os.replace(data / "restoring.db", db)  # the operator puts the backup back
        resumed = wait_drained(demo, 30)
        time.sleep(3)  # a few entries after the recovery
    finally:
        demo.stop()
    return result("deleted", demo.decisions(), during, db, watch, resumed,
                  "rm checkpoint.db* after a complete backup; the backup put back")


def without_file_privileges() -> tuple[str, ...] | None:
    """A command prefix that runs a child without the capabilities that ignore file modes (root only)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    probe = subprocess.run([setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--",
                            sys.executable, "-c", "open('/proc/1/environ','rb')"], capture_output=True)
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--") if probe.returncode else None


def scenario_read_only(work: Path, fault_s: float) -> dict:
    wrapper = without_file_privileges()
    if wrapper is None:
        return {"scenario": "read-only", "skipped": "cannot drop CAP_DAC_OVERRIDE here (setpriv missing?)"}
    data = work / "data"
    data.mkdir()
    db = data / "checkpoint.db"
    demo = Demo(data, "read-only", wrapper)
    try:
        demo.wait_decisions(4)
        before = len(demo.decisions())
        modes = {path: path.stat().st_mode & 0o777 for path in files_of(db)}
        for path, mode in modes.items():
            os.chmod(path, mode & 0o444)
        watch = HealthWatch(demo)
        lock = sqlite3.connect(db, timeout=15)
        lock.execute("BEGIN IMMEDIATE")  # held past the agent's 5 s busy timeout: it reconnects, read-only
        watch.watch(7)
        lock.rollback()
        lock.close()
        watch.watch(max(fault_s - 7, 3))
        during = demo.decisions()[before:]
        for path, mode in modes.items():
            os.chmod(path, mode)
        resumed = wait_drained(demo, 30)  # no restart
        time.sleep(3)
    finally:
        demo.stop()
    return result("read-only", demo.decisions(), during, db, watch, resumed,
                  "write permission off (and a 7 s lock, so the agent reconnects during the spell), then on again")


def scenario_disk_full(work: Path, fault_s: float) -> dict:
    data = work / "disk"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(data)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        return {"scenario": "disk-full", "skipped": f"cannot mount a tmpfs: {mounted.stderr.strip()[:80]}"}
    db = data / "checkpoint.db"
    try:
        demo = Demo(data, "disk-full-1")
        try:
            demo.wait_decisions(4)
            before = len(demo.decisions())
            filler = data / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            for size in (1 << 16, 512):
                try:
                    while True:
                        os.write(fd, b"\0" * size)
                except OSError:
                    pass
            os.close(fd)
            watch = HealthWatch(demo)
            watch.watch(fault_s)
            during = demo.decisions()[before:]
            in_journal = journal_lines(data)
        finally:
            demo.kill()  # SIGKILL while the disk is still full
        first = demo.decisions()
        filler.unlink()
        again = Demo(data, "disk-full-2")
        try:
            resumed = wait_drained(again, 40)
            time.sleep(2)
        finally:
            again.stop()
        outcome = result("disk-full", first + again.decisions(), during, db, watch, resumed,
                         f"filled, SIGKILL while full ({in_journal} rows in the journal then), restarted")
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
    return outcome


SCENARIOS = {"deleted": scenario_deleted, "read-only": scenario_read_only, "disk-full": scenario_disk_full}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=170.0, help="time limit for the whole run")
    parser.add_argument("--fault", type=float, default=60.0, help="seconds each fault lasts")
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenarios")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    results: dict[str, dict] = {}
    root = Path(tempfile.mkdtemp(prefix="bench-db-faults-"))
    started = time.monotonic()

    def run(name: str) -> None:
        work = root / name
        work.mkdir()
        try:
            results[name] = SCENARIOS[name](work, args.fault)
        except Exception as exc:  # a scenario that breaks is a failed run, with the reason
            results[name] = {"scenario": name, "error": f"{type(exc).__name__}: {exc}"}

    threads = [threading.Thread(target=run, args=(name,), daemon=True) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(max(args.seconds - (time.monotonic() - started), 1))
    for name in names:
        results.setdefault(name, {"scenario": name, "error": f"did not finish within {args.seconds:.0f} s"})
    elapsed = time.monotonic() - started

    ordered = [results[name] for name in names]
    failed = any("error" in r or r.get("lost") or (r.get("resumed_after_s") is None and "skipped" not in r)
                 for r in ordered)
    if args.json:
        print(json.dumps({"elapsed_s": round(elapsed, 1), "results": ordered, "ok": not failed}, indent=2))
    else:
        kept = f", logs kept in {root}" if failed else ""
        print(f"database faults under `checkpoint demo` ({elapsed:.0f} s, faults of {args.fault:.0f} s{kept})")
        print(f"{'scenario':<10} {'decided':>7} {'in fault':>8} {'in db':>6} {'lost':>5} {'extra':>5} "
              f"{'doubled':>7} {'resumed':>8}")
        for r in ordered:
            if "skipped" in r or "error" in r:
                print(f"{r['scenario']:<10} {'skipped: ' + r['skipped'] if 'skipped' in r else 'ERROR: ' + r['error']}")
                continue
            resumed = "never" if r["resumed_after_s"] is None else f"{r['resumed_after_s']} s"
            print(f"{r['scenario']:<10} {r['decided']:>7} {r['decided_during_fault']:>8} {r['in_database']:>6} "
                  f"{r['lost']:>5} {r['extra']:>5} {r['doubled']:>7} {resumed:>8}")
        for r in ordered:
            if "health_during_fault" in r:
                print(f"\n{r['scenario']}: {r['note']}; largest backlog shown {r['max_backlog_shown']}")
                for said in r["health_during_fault"]:
                    print(f"  /healthz: {said[:230]}")
    if not failed:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Server-side cost of one claim+complete, in CPU instructions: repeatable where timings
are not.

On a small shared machine the throughput of queue_bench.py moves by 20-40% from one run
to the next, which hides any change smaller than that. This counts what the server
itself executes instead: a throwaway cluster, the mcp-sessions schema, and for each
system a server-side loop of claim+complete (a DO block, a commit per step, no client),
run in single-user mode under valgrind's callgrind. The loop runs twice, with two
lengths, and the difference divided by the difference in tasks is the cost of one task,
without startup, seeding or the loop's own setup. The same binary and schema give the
same count on any machine, busy or not.

    python bench/queue_cost.py                       # PostgreSQL binaries from pg_config
    python bench/queue_cost.py --bindir /usr/lib/postgresql/15/bin --systems floor,store
    python bench/queue_cost.py --held 16             # as under 16 workers: 16 tasks held throughout

Needs valgrind and a PostgreSQL server installation (initdb, postgres). As root it runs
the server as the `postgres` user. What it leaves out, by design: the protocol, the
commit's WAL flush, and contention between workers (queue_bench.py measures those).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# The floor's and tasks-bare's statements, and the seeding, are queue_bench.py's own:
# both tools measure the same thing.
from queue_bench import (  # noqa: E402
    BARE_CLAIM,
    BARE_DONE,
    FLOOR_CLAIM,
    FLOOR_DONE,
    FLOOR_SCHEMA,
    FLOOR_SEED,
    SEED_SESSION,
    SEED_TASKS,
)

from mcp_sessions import migrations  # noqa: E402
from mcp_sessions.db import connect  # noqa: E402


def one_line(sql: str) -> str:
    """Single-user mode ends a statement at a newline."""
    return " ".join(sql.split())


# {n}: how many tasks to seed or to drain.
SEED = (
    f"{one_line(FLOOR_SCHEMA)} {FLOOR_SEED}; TRUNCATE tasks CASCADE; {SEED_SESSION}; {SEED_TASKS.format(table='tasks')};\n"
    "VACUUM ANALYZE floor_jobs\nVACUUM ANALYZE tasks\nSET synchronous_commit = off\n"
).replace("$1", "{n}")


def loop(declare: str, body: str, before: str = "") -> str:
    """A DO block running body {n} times; each step commits on its own, as a worker's would."""
    return f"DO $$ DECLARE {declare} BEGIN {before}FOR i IN 1..{{n}} LOOP {body} END LOOP; END $$"


BARE_STEPS = (
    one_line(BARE_CLAIM).replace("$1", "'a'") + " INTO j, k; COMMIT; "
    + one_line(BARE_DONE).replace("$1", "j").replace("$2", "k") + "; COMMIT;"
)
LOOPS = {
    "floor": loop("j bigint;", one_line(FLOOR_CLAIM) + " INTO j; COMMIT; "
                               + one_line(FLOOR_DONE).replace("$1", "j") + "; COMMIT;"),
    "tasks-bare": loop("j text; k uuid;", BARE_STEPS),
    "store": loop("t tasks;", "SELECT * INTO t FROM claim_task('a', NULL, NULL, 300); COMMIT; "
                              "PERFORM id, status FROM complete_task(t.id, t.claim_token, '{}', NULL); COMMIT;"),
    # The same loop without the event feed's trigger on tasks: what the claim's and the
    # completion's events cost. Dropped, not disabled: a disabled row trigger still makes
    # every UPDATE queue and check it.
    "store-noevents": loop("t tasks;", "SELECT * INTO t FROM claim_task('a', NULL, NULL, 300); COMMIT; "
                                       "PERFORM id, status FROM complete_task(t.id, t.claim_token, '{}', NULL); COMMIT;",
                           before="DROP TRIGGER IF EXISTS tasks_events ON tasks; COMMIT; "),
    "store+next": loop(
        "t record;",
        "SELECT x.id, x.claim_token INTO t FROM complete_task(t.id, t.claim_token, '{}', NULL) c "
        "LEFT JOIN LATERAL claim_task(c.claimed_by, NULL, NULL, 300) x ON true; COMMIT;",
        before="SELECT id, claim_token INTO t FROM claim_task('a'); COMMIT; ",
    ),
}


# --held N: N tasks at the head of the queue are held by another agent for the whole
# loop, as under N concurrent workers. A held task stays in tasks_claimable (its claim
# was an in-place update, 0005), so every claim reads past it; the floor's claim takes
# its row out of the floor's partial index.
HOLD = {
    "floor": "UPDATE floor_jobs SET status = 'doing' WHERE id <= {held}",
    "tasks": "SELECT claim_task('other', NULL, NULL, 3600) FROM generate_series(1, {held})",
}


def as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def bindir(given: str | None) -> Path:
    if given:
        return Path(given)
    try:
        return Path(subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name))
        if not found:
            raise SystemExit("no PostgreSQL server binaries found: pass --bindir") from None
        return found[-1]


async def apply_schema(dsn: str) -> None:
    conn = await connect(dsn)
    await conn.execute("CREATE DATABASE bench")
    await conn.close()
    conn = await connect(dsn.replace("/postgres?", "/bench?"))
    await migrations.migrate(conn)
    await conn.close()


def migrate(bin_dir: Path, data: Path, sockets: Path) -> None:
    """Start the throwaway cluster, create the database, apply the migrations, stop."""
    port = "54329"
    subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "-l", str(data / "log"),
                                "-o", f"-p {port} -k {sockets} -c listen_addresses=''", "start"]),
                   check=True, capture_output=True)
    try:
        asyncio.run(apply_schema(f"postgresql://postgres@/postgres?host={sockets}&port={port}"))
    finally:
        subprocess.run(as_postgres([str(bin_dir / "pg_ctl"), "-D", str(data), "-w", "stop"]),
                       check=True, capture_output=True)


def instructions(bin_dir: Path, data: Path, work: Path, system: str, n: int, seed: int, held: int = 0) -> int:
    script = work / f"{system}.{n}.sql"
    hold = HOLD["floor" if system == "floor" else "tasks"].replace("{held}", str(held)) + "\n" if held else ""
    script.write_text(SEED.replace("{n}", str(seed)) + hold + LOOPS[system].replace("{n}", str(n)) + "\n")
    out = work / f"callgrind.{system}.{n}"
    with script.open() as stdin:
        run = subprocess.run(
            as_postgres(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                         str(bin_dir / "postgres"), "--single", "-D", str(data), "bench"]),
            stdin=stdin, capture_output=True, text=True, cwd=work, check=False,
        )
    errors = [line for line in run.stdout.splitlines() if "ERROR" in line]
    if run.returncode != 0 or errors:
        raise SystemExit(f"{system}: the server loop failed: {(errors or [run.stderr[-2000:]])[0]}")
    match = re.search(r"^(?:summary|totals): (\d+)", out.read_text(), re.MULTILINE)
    assert match, f"no totals in {out}"
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bindir", help="PostgreSQL server binaries (default: pg_config --bindir)")
    parser.add_argument("--systems", default=",".join(LOOPS), help=f"some of {','.join(LOOPS)}")
    parser.add_argument("--tasks", default="300,1300", help="the two loop lengths")
    parser.add_argument("--held", type=int, default=0,
                        help="tasks held by another agent at the head of the queue during the loop "
                             "(what N concurrent workers hold at any moment)")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    systems = [s for s in args.systems.split(",") if s]
    if unknown := [s for s in systems if s not in LOOPS]:
        raise SystemExit(f"unknown system {unknown[0]!r}; choose from {', '.join(LOOPS)}")
    short, long = (int(x) for x in args.tasks.split(","))
    bin_dir = bindir(args.bindir)

    work = Path(tempfile.mkdtemp(prefix="mcps-cost-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(work, "postgres")
        data = work / "data"
        subprocess.run(as_postgres([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"]),
                       check=True, capture_output=True)
        migrate(bin_dir, data, work)
        version = subprocess.run([str(bin_dir / "postgres"), "--version"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        held = f", {args.held} tasks held by another agent throughout" if args.held else ""
        print(f"{version}; instructions per claim+complete, server side ({long} - {short} tasks{held})\n")
        print("| system | instructions per task | vs floor |")
        print("|---|---:|---:|")
        floor = None
        for system in systems:
            started = time.perf_counter()
            seed = long + 100 + args.held
            per_task = (instructions(bin_dir, data, work, system, long, seed, args.held)
                        - instructions(bin_dir, data, work, system, short, seed, args.held)) / (long - short)
            floor = per_task if system == "floor" else floor
            ratio = f"{per_task / floor:.2f}" if floor else "-"
            print(f"| {system} | {per_task:,.0f} | {ratio} |", flush=True)
            print(f"  ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

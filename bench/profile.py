"""Where a request's CPU goes: py-spy samples the server while wrk drives one endpoint.

    uv run python bench/profile.py [--path /api/v1/users/me] [--duration 10] [--top 25]
    uv run python bench/profile.py --path '/api/v1/orgs/{org}/audit-log?limit=50'
    uv run python bench/profile.py --invoices list     # or: --invoices create

`--invoices list` seeds invoices as bench/invoices.py does and drives its A (GET of 50
summaries); `--invoices create` drives its C (POST of a draft of 10 lines).

Full stack (bench/stack.py). wrk drives GET --path (`{org}` stands for the user's first
organization) with a signed-in user's bearer token;
meanwhile `py-spy record` samples the server 250 times a second (it reads the process from
outside: no code change, no overhead inside). Prints the req/s reached, then the functions
holding the most samples: our own code by inclusive time (what to make cheaper), and every
function by self time (where the CPU is actually spent). For a flame graph of the same
load, run `py-spy record --pid <server pid> --format flamegraph -o profile.svg` yourself.
Needs wrk and py-spy (a dev dependency; sampling another process may need root or
ptrace permission). Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import httpx

from bench.invoices import LIMIT, draft_body, post_lua, prepare_invoices
from bench.stack import requests_per_second, run_wrk, seeded_server, sign_in

SAMPLES_PER_SECOND = 250
_ENCLOSING = ("(app/cli.py)", "(app/api/middleware/")
_LINE_NUMBER = re.compile(r":\d+\)$")


def record(pid: int, *, seconds: int, output: Path) -> None:
    subprocess.run(
        [
            "py-spy",
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(seconds),
            "--rate",
            str(SAMPLES_PER_SECOND),
            "--format",
            "raw",
            "--output",
            str(output),
            "--nonblocking",
        ],
        check=True,
        capture_output=True,
        timeout=seconds + 60,
    )


def summarize(collapsed: Path, *, top: int) -> None:
    """Collapsed stacks ("frame;frame;frame count") to inclusive and self sample counts."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue  # the tail of a frame name that held a line break
        count = int(count_text)
        frames = [_LINE_NUMBER.sub(")", frame) for frame in stack.split(";") if frame]
        if not frames:
            continue
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    if not total:
        print("py-spy recorded no samples")
        return
    print(f"\n{total} samples ({total / SAMPLES_PER_SECOND:.1f} s of CPU across the server's threads)")
    print(f"\nour code, by inclusive share (top {top}; the middleware and CLI frames that enclose")
    print("every request are left out, their own cost is in the self list):")
    ours = [
        (frame, count)
        for frame, count in inclusive.most_common()
        if "(app/" in frame and not any(wrapper in frame for wrapper in _ENCLOSING)
    ]
    for frame, count in ours[:top]:
        print(f"  {count / total:6.1%}  {frame}")
    print(f"\nevery function, by self share (top {top}):")
    for frame, count in own.most_common(top):
        print(f"  {count / total:6.1%}  {frame}")


def first_organization(base_url: str, headers: dict[str, str]) -> str:
    """The id `{org}` stands for in --path: the signed-in user's first organization."""
    response = httpx.get(f"{base_url}/api/v1/orgs", headers=headers, timeout=10)
    response.raise_for_status()
    org_id: str = response.json()["items"][0]["id"]
    return org_id


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--path", default="/api/v1/users/me")
    parser.add_argument("--duration", type=int, default=10, help="seconds of sampling")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--invoices",
        choices=("list", "create"),
        help="seed invoices (bench/invoices.py) and drive its list (A) or creation (C) instead of --path",
    )
    parser.add_argument("--keep", type=Path, help="also write the collapsed stacks to this file")
    args = parser.parse_args()
    for tool in ("wrk", "py-spy"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing (wrk: apt-get install wrk; py-spy: uv sync)", file=sys.stderr)
            return 2

    with tempfile.TemporaryDirectory() as workdir, seeded_server(extra_env={}) as stack:
        headers = {"Authorization": f"Bearer {sign_in(stack.base_url)['access_token']}"}
        lua, method = "", "GET"
        if args.invoices:
            tenant = prepare_invoices(stack.base_url, stack.owner_database_url, headers, count=2000)
            args.path = "/api/v1/orgs/{org}/invoices" + (f"?limit={LIMIT}" if args.invoices == "list" else "")
            if args.invoices == "create":
                lua, method = post_lua(draft_body(tenant.customer_id), headers), "POST"
        url = stack.base_url + args.path.replace("{org}", first_organization(stack.base_url, headers))
        run_wrk(url, concurrency=args.concurrency, duration=2, headers=headers, lua=lua)  # warm up
        print(f"wrk: {args.concurrency} connections on {method} {args.path}; py-spy: {args.duration} s ...")
        load = subprocess.Popen(
            [sys.executable, "-c", _WRK_IN_BACKGROUND, url, str(args.concurrency), str(args.duration + 2)]
            + [f"{name}: {value}" for name, value in headers.items()],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "BENCH_WRK_LUA": lua},
        )
        collapsed = Path(workdir) / "profile.txt"
        record(stack.pid, seconds=args.duration, output=collapsed)
        wrk_output = load.communicate(timeout=args.duration + 60)[0]
        print(f"{method} {args.path}: {requests_per_second(wrk_output):.0f} req/s while sampled")
        if args.keep:
            args.keep.write_text(collapsed.read_text())
        summarize(collapsed, top=args.top)
    return 0


# wrk for the sampling window, in a child process so that sampling can run meanwhile.
_WRK_IN_BACKGROUND = """
import os
import sys

from bench.stack import run_wrk
url, concurrency, duration, *headers = sys.argv[1:]
print(run_wrk(url, concurrency=int(concurrency), duration=int(duration), lua=os.environ["BENCH_WRK_LUA"],
              headers=dict(header.split(": ", 1) for header in headers)))
"""


if __name__ == "__main__":
    sys.exit(main())

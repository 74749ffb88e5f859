"""The README's own commands run as written, and print what it shows.

Every fenced ``sh`` block of README.md carries a marker in the HTML comment
on the line before it, so that none is left out silently:

- ``<!-- readme-test: run -->``: run here, in a bash subprocess, from a
  scratch folder that sees the repository's ``examples/`` (``.venv/bin/python``
  becomes this interpreter, the sandbox's port a free one). Blocks run in
  the README's order, so a later block may use what an earlier one wrote
  (the replay recipe reads the backfill's dead letters).
- ``<!-- readme-test: skip: REASON -->``: cannot run here (``./dev.sh``
  builds its own virtualenv; Dataflow, Pub/Sub and Customer.io need a cloud
  project). The reason is in the README's source.
- ``<!-- readme-test: xfail: REASON -->``: runs, and is expected to fail for
  REASON; when it passes, the test fails and asks for the marker to become
  ``run``.

A ``text`` block marked ``<!-- readme-test: output of the block above -->``
holds lines of that block's printed summary; each "label value" line must be
printed with that value (timings aside). ``<!-- readme-test: output of
examples.demo -->`` is the summary of ``python -m examples.demo``, the command
``./dev.sh demo`` runs.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

MARKER = re.compile(r"^<!-- readme-test: (run|skip|xfail|output of [^>]*?)(?:: (.*?))? -->$")
FENCE = re.compile(r"^```(\w*)\s*$")

# Summary lines whose value changes from run to run.
VARIABLE = ("elapsed (s)", "events/s", "waited for the rate limit (s, summed over threads)")

# Each block runs in a strict bash, and its background jobs (the sandbox)
# are stopped when it ends, whatever happened.
PRELUDE = """set -euo pipefail
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
wait_for_port() {
  for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done
  echo "nothing listens on port $1" >&2; return 1
}
"""


@dataclass
class Block:
    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    marker: str | None = None
    reason: str | None = None
    output: list[str] = field(default_factory=list)  # lines of its "output of the block above"

    @property
    def title(self) -> str:
        first = next((ln for ln in self.text.splitlines() if ln.strip() and not ln.startswith("mkdir")), "")
        return f"README line {self.line}: {first.strip()[:60]}"


def readme_blocks() -> tuple[list[Block], list[Block]]:
    """(shell and other blocks in order, the demo's output blocks)."""
    lines = README.read_text().splitlines()
    blocks, demo_outputs = [], []
    marker = reason = None
    i = 0
    while i < len(lines):
        found = MARKER.match(lines[i])
        if found:
            marker, reason = found.group(1), found.group(2)
            i += 1
            continue
        fence = FENCE.match(lines[i])
        if fence:
            start, lang, body = i + 1, fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            block = Block(start, lang, "\n".join(body) + "\n", marker, reason)
            if marker == "output of the block above":
                previous = next((b for b in reversed(blocks) if b.lang == "sh"), None)
                assert previous is not None, f"README line {start}: output block with no command above it"
                previous.output = body
            elif marker == "output of examples.demo":
                demo_outputs.append(block)
            else:
                blocks.append(block)
        elif lines[i].strip():
            marker = reason = None  # a marker applies to the block right after it
        i += 1
    return blocks, demo_outputs


def shell_blocks() -> list[Block]:
    return [b for b in readme_blocks()[0] if b.lang in ("sh", "bash", "shell", "console")]


def summary_values(text: str) -> dict[str, str]:
    """{label: value} of the printed summary lines ("label   value")."""
    values = {}
    for line in text.splitlines():
        parts = re.match(r"^\s*(.*?\S)\s{2,}(\S+)\s*$", line)
        if parts:
            values[parts.group(1)] = parts.group(2)
    return values


def check_output(shown: list[str], printed: str, where: str) -> None:
    got = summary_values(printed)
    wrong = []
    for label, value in summary_values("\n".join(shown)).items():
        if label in VARIABLE:
            continue
        if got.get(label) != value:
            wrong.append(f"{label!r}: the README shows {value}, the run printed {got.get(label, 'no such line')}")
    assert not wrong, f"{where}: the README's output is not what the command prints:\n" + "\n".join(wrong)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def runnable_script(text: str) -> str:
    """The block as this test runs it: our interpreter, a free port, waits for the sandbox."""
    python = sys.executable
    text = text.replace(".venv/bin/python", python).replace("cio-pipeline ", f"{python} -m pipeline ")
    for port in set(re.findall(r"--port (\d+)", text)):
        text = re.sub(rf"\b{port}\b", str(free_port()), text)
    out = []
    for line in text.splitlines():
        out.append(line)
        started = re.search(r"-m cio_sandbox\b.*--port (\d+).*&\s*$", line)
        if started:
            out.append(f"wait_for_port {started.group(1)}")
    return PRELUDE + "\n".join(out) + "\n"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for name in ("CIO_SITE_ID", "CIO_API_KEY"):  # the README's commands say what they need
        env.pop(name, None)
    return env


def test_every_shell_block_is_marked():
    """No command of the README is left out of this test without a reason."""
    blocks = shell_blocks()
    assert blocks, "README.md has no shell blocks"
    unmarked = [b.title for b in blocks if b.marker not in ("run", "skip", "xfail")]
    assert not unmarked, f"shell blocks without a readme-test marker: {unmarked}"
    assert all(b.reason for b in blocks if b.marker in ("skip", "xfail")), "a skip/xfail marker needs a reason"
    assert any(b.marker == "run" for b in blocks)
    assert len(readme_blocks()[1]) == 1, "the README shows the demo's summary once"


@pytest.fixture(scope="module")
def readme_runs(tmp_path_factory):
    """Runs the README's runnable blocks in order, in one scratch folder."""
    work = tmp_path_factory.mktemp("readme")
    (work / "examples").symlink_to(ROOT / "examples")
    results = {}
    for block in shell_blocks():
        if block.marker not in ("run", "xfail"):
            continue
        done = subprocess.run(
            ["bash", "-c", runnable_script(block.text)], cwd=work, env=child_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
        results[block.line] = done
    return results


@pytest.mark.subprocess
@pytest.mark.parametrize("block", [b for b in shell_blocks() if b.marker in ("run", "xfail")],
                         ids=lambda b: f"line{b.line}")
def test_readme_block_runs_and_prints_what_the_readme_shows(block, readme_runs):
    done = readme_runs[block.line]
    if block.marker == "xfail":
        if done.returncode == 0:
            pytest.fail(f"{block.title} passes now: change its README marker to 'readme-test: run'")
        pytest.xfail(block.reason)
    assert done.returncode == 0, f"{block.title} exited {done.returncode}:\n{done.stdout[-3000:]}"
    assert "Traceback" not in done.stdout, f"{block.title}:\n{done.stdout[-3000:]}"
    if block.output:
        check_output(block.output, done.stdout, block.title)


@pytest.mark.subprocess
def test_the_demo_prints_the_summary_the_readme_shows():
    done = subprocess.run([sys.executable, "-m", "examples.demo"], cwd=ROOT, env=child_env(),
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    (shown,) = readme_blocks()[1]
    check_output(shown.text.splitlines(), done.stdout, "the Quickstart's demo summary")

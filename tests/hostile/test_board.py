"""Hostile inputs and faults around the board: names, uploads folders, output paths, failures
while scoring or writing, killed runs, terminals and pipes (issue 8).

Each case goes through the CLI (click's runner in-process, or a subprocess where a real
terminal, pipe or kill is needed) and checks the exact message and exit code.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from lssbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = "\x1b]0;pwned\x07\x1b[2J"  # an OSC window title and a clear-screen


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args, env=None):
        return runner.invoke(main, [os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args], env=env,
                             catch_exceptions=False)

    return invoke


@pytest.fixture()
def uploads(tmp_path, sample_submissions):
    """A folder of uploads: the three sample submissions as folders."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name, path in sample_submissions.items():
        shutil.copytree(path, folder / name)
    return folder


def _board_args(folder, test_bundle, out_dir, *extra):
    return ("leaderboard", folder, "--gt", test_bundle, "--out", out_dir / "lb.json", "--markdown", out_dir / "lb.md",
            "--latex", out_dir / "lb.tex", "--html", out_dir / "lb.html", "--bootstrap", "0", "--jobs", "1", *extra)


def _outputs(out_dir):
    return {suffix: (out_dir / f"lb.{suffix}").read_bytes() for suffix in ("json", "md", "tex", "html")}


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "LSSBENCH_DEBUG": ""}


# --- 2. untrusted text in every output ---------------------------------------------------------
def test_names_that_are_not_clean_text_are_escaped_in_every_output(run, uploads, test_bundle, tmp_path):
    os.rename(uploads / "perfect", os.path.join(os.fsencode(uploads), b"team\xff"))
    os.rename(uploads / "weak", uploads / f"weak{ESCAPES}")
    meta = json.loads((uploads / "jittered" / "meta.json").read_text())
    (uploads / "jittered" / "meta.json").write_text(json.dumps({**meta, "team": "x\u009b31m \u202e evil"}))
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output and "\u009b" not in result.output
    assert "team\\xff" in result.output and "weak\\x1b]0;pwned\\x07\\x1b[2J" in result.output
    for suffix, data in _outputs(tmp_path).items():
        text = data.decode("utf-8")  # strict: no lone surrogates anywhere
        assert "\x1b" not in text and "\x07" not in text and "\u009b" not in text and "\u202e" not in text, suffix
        assert "team" in text and "xff" in text, suffix
    entries = {e["name"]: e for e in json.loads(_outputs(tmp_path)["json"])["entries"]}
    assert entries["team\\xff"]["status"] == entries["weak\\x1b]0;pwned\\x07\\x1b[2J"]["status"] == "ok"
    assert entries["jittered"]["status"] == "invalid"  # meta.json refuses control characters
    assert entries["jittered"]["problems"] == [
        "meta.json: team: character 2 is U+009B (a control character); refused: team name: one line of 1-100 "
        "characters, no control characters (C0, DEL, C1), line separators or lone surrogates"]


def test_a_lone_surrogate_in_meta_json_never_breaks_a_writer(run, uploads, test_bundle, tmp_path):
    (uploads / "weak" / "meta.json").write_text('{"team": "x\\ud800y", "method": "m"}')
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 0, result.output  # whether meta.json is refused or shown escaped
    for suffix, data in _outputs(tmp_path).items():
        data.decode("utf-8")  # strict UTF-8: no lone surrogate was written
    weak = next(e for e in json.loads(_outputs(tmp_path)["json"])["entries"] if e["name"] == "weak")
    assert weak["status"] == "invalid" and weak["problems"][0].startswith("meta.json: team: ")
    json.dumps(json.loads(_outputs(tmp_path)["json"]), ensure_ascii=False).encode("utf-8")


def test_every_writer_cleans_text_that_got_past_validation(sample_submissions, ground_truth):
    """Defence in depth (the API, since the CLI refuses such meta.json): each dialect's one escape."""
    from lssbench import report
    from lssbench.board import leaderboard

    board = leaderboard(list(sample_submissions.values()), ground_truth, n_bootstrap=0, workers=1)
    board["entries"][0]["name"] = "x\x1b[2J\udcff"
    board["entries"][0]["meta"].update(team="\u202eevil\x9b", description="line\x07bell")
    expected = {report.board_console: "x\\x1b[2J\\xff", report.board_markdown: r"x\\x1b\[2J\\xff",
                report.board_latex: r"x\textbackslash{}x1b[2J\textbackslash{}xff", report.board_html: "x\\x1b[2J\\xff"}
    for render, name in expected.items():
        text = render(board)
        text.encode("utf-8")  # no lone surrogate
        assert not any(ch in text for ch in "\x1b\x07\x9b\u202e"), render.__name__
        assert name in text, render.__name__


def test_markdown_shows_link_and_image_syntax_as_typed(run, uploads, test_bundle, tmp_path):
    cmarkgfm = pytest.importorskip("cmarkgfm")  # GitHub's own Markdown renderer, as the reference
    hostile = "![x](https://e.example/x.png) [c](https://e.example) <img src=x> www.e.example a@b.example"
    meta = json.loads((uploads / "weak" / "meta.json").read_text())
    (uploads / "weak" / "meta.json").write_text(json.dumps({**meta, "team": hostile}))
    os.rename(uploads / "jittered", uploads / "![j](https:__evil.example_j.png)")
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 0, result.output
    html = cmarkgfm.github_flavored_markdown_to_html(_outputs(tmp_path)["md"].decode())
    assert "<img" not in html and "<a " not in html
    assert "![x](https://e.example/x.png) [c](https://e.example) &lt;img src=x&gt; www.e.example a@\u2060b" in html
    assert "![j](https:__evil.example_j.png)" in html


def test_escape_sequences_in_folder_names_never_reach_a_terminal(uploads, test_bundle, tmp_path):
    os.rename(uploads / "weak", uploads / f"weak{ESCAPES}")
    master, slave = pty.openpty()
    args = [sys.executable, "-m", "lssbench", *map(str, _board_args(uploads, test_bundle, tmp_path))]
    process = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=_env(), cwd=tmp_path)
    os.close(slave)
    received = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed
                break
            if not chunk:
                break
            received += chunk
        elif process.poll() is not None:
            break
    os.close(master)
    assert process.wait(timeout=60) == 0, received.decode(errors="replace")
    assert b"\x1b]" not in received and b"\x1b[2J" not in received and b"\x07" not in received
    assert b"weak\\x1b]0;pwned\\x07\\x1b[2J" in received
    assert b"[3/3]" in received  # the live progress display


def test_click_usage_errors_quote_hostile_arguments_escaped(run, tmp_path):
    result = run("check-data", tmp_path / f"data{ESCAPES}")
    assert result.exit_code == 2
    assert result.output.endswith(f"Error: Invalid value for 'DATA': Directory "
                                  f"'{tmp_path}/data\\x1b]0;pwned\\x07\\x1b[2J' does not exist.\n")
    assert "\x1b" not in result.output


# --- 3 and 5. a board is never lost -------------------------------------------------------------
def test_a_renderer_that_fails_does_not_stop_the_other_outputs(run, uploads, test_bundle, tmp_path, monkeypatch):
    import lssbench.report.board as board_module

    def broken(board):
        raise RuntimeError("boom")

    monkeypatch.setattr(board_module, "board_markdown", broken)
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 3
    assert (f"internal error: the Markdown table was not written to {tmp_path / 'lb.md'}: RuntimeError: boom\n"
            "This is a bug in lssbench; rerun with LSSBENCH_DEBUG=1 and report the traceback.") in result.output
    assert not (tmp_path / "lb.md").exists()
    assert {p.name for p in tmp_path.iterdir()} >= {"lb.json", "lb.tex", "lb.html"}
    assert f"HTML page written to {tmp_path / 'lb.html'}" in result.output


def test_a_bug_while_scoring_one_entry_leaves_a_board_and_exits_3(run, uploads, test_bundle, tmp_path, monkeypatch):
    from lssbench.scoring import Evaluator

    evaluate = Evaluator.evaluate

    def flaky(self, submission, **kwargs):
        if submission.meta.get("method") == "weak":
            raise KeyError("surprise")
        return evaluate(self, submission, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", flaky)
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 3
    assert ('internal error while scoring 1 entry, not judged (status "error" on the board): weak\n'
            "This is a bug in lssbench") in result.output
    entries = {e["name"]: e for e in json.loads((tmp_path / "lb.json").read_text())["entries"]}
    assert entries["weak"]["status"] == "error" and entries["weak"]["fault"] == "internal"
    assert entries["weak"]["problems"] == [
        "internal error (a bug in lssbench), the submission was not judged: KeyError: 'surprise'"]
    assert entries["perfect"]["status"] == "ok" and entries["perfect"]["ranks"]["detection"] == 1
    assert "weak: not judged (internal error (a bug in lssbench)" in (tmp_path / "lb.md").read_text()


def test_a_scoring_machine_fault_is_an_error_entry_not_an_invalid_one(run, uploads, test_bundle, tmp_path,
                                                                     monkeypatch):
    import lssbench.submission as submission_module
    from lssbench.problems import ScoringMachineError

    load = submission_module.load_submission

    def out_of_space(path, ground_truth, *args, **kwargs):
        if Path(path).name == "jittered":
            raise ScoringMachineError("No space left on device [ENOSPC] while extracting the submission")
        return load(path, ground_truth, *args, **kwargs)

    monkeypatch.setattr(submission_module, "load_submission", out_of_space)
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 3
    assert ('error: the scoring machine failed, the input was not judged for 1 entry (status "error" on the '
            "board): jittered") in result.output
    assert "This is a bug" not in result.output
    board = json.loads((tmp_path / "lb.json").read_text())
    jittered = next(e for e in board["entries"] if e["name"] == "jittered")
    assert (jittered["status"], jittered["fault"], jittered["results"]) == ("error", "scoring-machine", None)
    assert jittered["problems"] == ["the scoring machine failed, the submission was not judged: "
                                    "No space left on device [ENOSPC] while extracting the submission"]
    assert [e["status"] for e in board["entries"]] == ["ok", "ok", "error", "ok"]


def test_a_killed_worker_makes_only_its_entry_an_error(run, uploads, test_bundle, tmp_path, monkeypatch):
    from lssbench.scoring import Evaluator

    evaluate = Evaluator.evaluate

    def killed(self, submission, **kwargs):
        if submission.meta.get("method") == "weak":
            os.kill(os.getpid(), signal.SIGKILL)  # as the kernel's out-of-memory killer would
        return evaluate(self, submission, **kwargs)

    monkeypatch.setattr(Evaluator, "evaluate", killed)
    args = list(_board_args(uploads, test_bundle, tmp_path))
    args[args.index("--jobs") + 1] = "2"
    result = run(*args)
    assert result.exit_code == 3
    assert 'not judged for 1 entry (status "error" on the board): weak' in result.output
    weak = next(e for e in json.loads((tmp_path / "lb.json").read_text())["entries"] if e["name"] == "weak")
    assert weak["problems"] == ["the scoring machine failed, the submission was not judged: the worker process "
                                "ended without a result (killed by SIGKILL; out of memory?)"]


def test_a_full_disk_while_writing_outputs_is_a_machine_fault(run, uploads, test_bundle, tmp_path, monkeypatch):
    import lssbench.jsonio as jsonio

    real_fsync = os.fsync
    target = {}

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(tmp_path / ".lb.html.")):
            target["seen"] = True
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(jsonio.os, "fsync", fsync)
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert target and result.exit_code == 3
    html = tmp_path / "lb.html"
    assert (f"error: the HTML page was not written to {html}: No space left on device [ENOSPC] while writing "
            f"{html} (a fault of the scoring machine; the other outputs were written)") in result.output
    assert "This is a bug" not in result.output
    written = sorted(p.name for p in tmp_path.iterdir() if p.name != "uploads" and not p.name.endswith(".lock"))
    assert written == ["lb.json", "lb.md", "lb.tex"]


# --- 6. every upload appears ----------------------------------------------------------------------
def test_every_upload_appears_and_strays_are_skipped_with_a_reason(run, uploads, test_bundle, tmp_path):
    (uploads / "meta.json").write_text('{"team": "stray"}')
    (uploads / "grades.csv").write_text("patient_id,level,side,severity\n")
    (uploads / "README.txt").write_text("hello")
    for name in ("late.tar.gz", "other.7z", "third.rar"):
        (uploads / name).write_bytes(b"\x1f\x8b not really")
    (uploads / ".hidden").mkdir()
    (uploads / ".DS_Store").write_bytes(b"")
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 0, result.output
    for line in ("warning: skipped .DS_Store: hidden or system name",
                 "warning: skipped .hidden: hidden or system name",
                 "warning: skipped README.txt: not an upload; an upload is a folder or a .zip of one",
                 "warning: skipped grades.csv: a task file beside the uploads; an upload is a folder or a .zip of one",
                 "warning: skipped meta.json: a task file beside the uploads; an upload is a folder or a .zip of one"):
        assert line in result.output
    board = json.loads((tmp_path / "lb.json").read_text())
    by_name = {e["name"]: e for e in board["entries"]}
    assert set(by_name) == {"perfect", "jittered", "weak", "late", "other", "third",
                            "reference: no detections, all normal, background masks"}
    assert by_name["late"]["status"] == "invalid"
    assert by_name["late"]["problems"] == [
        "late.tar.gz: unsupported archive format (.tar.gz); upload a folder or a .zip of one"]
    assert by_name["other"]["problems"] == ["other.7z: unsupported archive format (.7z); upload a folder or a .zip of one"]
    assert [s["name"] for s in board["skipped"]] == [".DS_Store", ".hidden", "README.txt", "grades.csv", "meta.json"]
    assert all(by_name[n]["status"] == "ok" for n in ("perfect", "jittered", "weak"))


# --- 7. output paths ---------------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["folder", "missing", "read-only", "symlink", "dev-stdout", "device", "same"])
def test_output_paths_are_checked_before_any_work(run, uploads, test_bundle, tmp_path, case):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    readonly = Path("/sys") if os.geteuid() == 0 else tmp_path / "ro"  # root writes through chmod
    if os.geteuid() != 0:
        readonly.mkdir()
        readonly.chmod(0o555)
    out, expected = {
        "folder": (tmp_path, f"error: --out: {tmp_path} is a folder; give a file name inside it"),
        "missing": (tmp_path / "nope" / "lb.json", f"error: --out: the folder {tmp_path / 'nope'} does not exist; "
                                                   "create it first"),
        "read-only": (readonly / "lb.json", f"error: --out: cannot write in the folder {readonly} (Permission denied)"),
        "symlink": (link, f"error: --out: {link} is a symbolic link; lssbench writes regular files only and never "
                          "replaces a link: give the path of a file"),
        "dev-stdout": (Path("/dev/stdout"), "error: --out: /dev/stdout is a symbolic link; lssbench writes regular "
                                            "files only"),
        "device": (Path("/dev/null"), "error: --out: /dev/null is not a regular file (a device, pipe or socket); "
                                      "lssbench writes its outputs atomically to regular files only"),
        "same": (tmp_path / "lb.md", f"error: --out and --markdown name the same file {tmp_path / 'lb.md'}"),
    }[case]
    result = run("leaderboard", uploads, "--gt", test_bundle, "--out", out, "--markdown", tmp_path / "lb.md")
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "ground truth:" not in result.output and "[1/" not in result.output  # before any work
    assert link.is_symlink() and not (tmp_path / "elsewhere.json").exists()
    assert Path("/dev/stdout").is_symlink()


# --- 12. killed runs ------------------------------------------------------------------------------
def _marked_processes(marker: str) -> set[int]:
    """Processes whose environment holds ``marker`` (the parent under test and its workers)."""
    found = set()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes().split(b"\0"):
                found.add(int(environ.parent.name))
        except OSError:
            pass
    return found


def _running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")  # a zombie is dead: it only waits to be reaped


def test_workers_end_with_a_killed_parent_and_leftovers_go_at_the_next_run(sample_submissions, test_bundle,
                                                                             tmp_path):
    uploads = tmp_path / "uploads"
    for copy in range(8):
        for name, path in sample_submissions.items():
            shutil.copytree(path, uploads / f"{name}{copy}")
    temp_area = tmp_path / "tmp"
    temp_area.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    dead_pid = 2 ** 22 + 1  # above the default pid_max: never a live process
    stale = out / f".lb.json.{dead_pid}.abcdefgh.tmp"
    stale.write_text("half a board")
    live = out / f".lb.json.{os.getpid()}.abcdefgh.tmp"
    live.write_text("a board being written by a live process")
    marker = f"LSSBENCH_KILL_TEST={os.getpid()}-{time.time_ns()}"
    env = {**_env(), "TMPDIR": str(temp_area), marker.split("=")[0]: marker.split("=")[1]}
    args = [sys.executable, "-m", "lssbench", "leaderboard", str(uploads), "--gt", str(test_bundle),
            "--out", str(out / "lb.json"), "--bootstrap", "3000", "--jobs", "3"]
    parent = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while len(workers) < 3 and time.monotonic() < deadline and parent.poll() is None:
            workers = {pid for pid in _marked_processes(marker) if pid != parent.pid and _running(pid)}
            time.sleep(0.05)
        assert len(workers) >= 3, "the workers never started"
        assert not stale.exists() and live.exists()  # the output check removed the dead run's temporary
        run_areas = list(temp_area.glob(f"lssbench-run-{parent.pid}-*"))
        assert len(run_areas) == 1
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        time.sleep(2.0)
        assert [pid for pid in _marked_processes(marker) if _running(pid)] == []
    finally:
        for pid in _marked_processes(marker):
            if _running(pid):
                os.kill(pid, signal.SIGKILL)
        if parent.poll() is None:
            parent.kill()
            parent.wait()
    assert run_areas[0].exists()  # a kill -9 cannot clean up...
    again = subprocess.run([sys.executable, "-m", "lssbench", "validate", str(sample_submissions["weak"]), "--gt",
                            str(test_bundle)], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert not run_areas[0].exists()  # ...the next run does
    assert list(temp_area.iterdir()) == []


# --- 13. newcomers ----------------------------------------------------------------------------------
def test_template_refuses_an_existing_submission_without_force(run, sample_submissions, test_bundle, tmp_path):
    mine = tmp_path / "mine"
    shutil.copytree(sample_submissions["weak"], mine)
    before = (mine / "detections.csv").read_bytes()
    refused = run("template", "--gt", test_bundle, "--out", mine)
    assert refused.exit_code == 2
    assert refused.output == (f"error: refusing to overwrite {mine}: it exists and may hold your submission; "
                              "pass --force to replace its submission files, or choose another --out\n")
    assert (mine / "detections.csv").read_bytes() == before
    forced = run("template", "--gt", test_bundle, "--out", mine, "--force")
    assert forced.exit_code == 0, forced.output
    assert (mine / "detections.csv").read_text().count("\n") == 1  # the header only


# --- 14. progress ---------------------------------------------------------------------------------
def test_off_a_terminal_each_step_and_each_submission_is_one_log_line(run, uploads, test_bundle, tmp_path,
                                                                      synthetic_dataset_dir):
    board = run(*_board_args(uploads, test_bundle, tmp_path))
    assert board.exit_code == 0, board.output
    assert re.search(r"^loading the ground truth: done in \d+\.\d s$", board.output, re.M)
    lines = re.findall(r"^\[(\d)/3\] (\w+): (\w+) \(\d+\.\d s\)$", board.output, re.M)
    assert lines == [("1", "jittered", "ok"), ("2", "perfect", "ok"), ("3", "weak", "ok")]
    synth = run("synth", tmp_path / "data", "--patients", "2")
    assert re.search(r"^synthesizing 2 patients \(seed 0\): done in \d+\.\d s$", synth.output, re.M)
    checked = run("check-data", synthetic_dataset_dir)
    assert re.search(rf"^reading {re.escape(str(synthetic_dataset_dir))}, decoding every mask and the first "
                     r"DICOM slice of each series: done in \d+\.\d s$", checked.output, re.M)
    prepared = run("prepare", synthetic_dataset_dir, "--split", "test", "--out", tmp_path / "gt")
    for step in (f"reading {synthetic_dataset_dir}", "writing the test bundle", "verifying the bundle"):
        assert re.search(rf"^{re.escape(step)}: done in \d+\.\d s$", prepared.output, re.M), step


def test_the_first_build_of_the_default_ground_truth_says_so(run, tmp_path, monkeypatch):
    import lssbench.sources as sources

    monkeypatch.setenv("LSSBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LSSBENCH_GT", raising=False)
    monkeypatch.setattr("lssbench.synth.DEFAULT_PATIENTS", 8)
    monkeypatch.setattr("lssbench.synth.core.DEFAULT_PATIENTS", 8)
    bundle = sources.default_bundle_path()
    killed_build = bundle.parent / f".synth-{2 ** 22 + 1}-abcdefgh"  # left by a first build killed with -9
    (killed_build / "data").mkdir(parents=True)
    os.utime(killed_build, (time.time() - 60,) * 2)
    result = run("template", "--out", tmp_path / "start")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in bundle.parent.iterdir()) == [bundle.name]
    assert (f"first use: building the default ground truth (synthetic, 8 patients) in {bundle}; "
            "later runs reuse it") in result.output
    for step in ("synthesizing 8 patients", "reading the synthetic dataset", "preparing the test bundle"):
        assert re.search(rf"^{step}: done in \d+\.\d s$", result.output, re.M), step


# --- 16. small truths -------------------------------------------------------------------------------
def test_no_bootstrap_no_confidence_interval_in_any_caption(run, uploads, test_bundle, tmp_path):
    result = run(*_board_args(uploads, test_bundle, tmp_path))
    assert result.exit_code == 0
    for suffix, data in _outputs(tmp_path).items():
        assert "95%" not in data.decode() and "bootstrap CI" not in data.decode(), suffix
    assert "mean over patients (no bootstrap: --bootstrap 0)" in (tmp_path / "lb.md").read_text()
    assert "95%" not in result.output


def test_help_texts_say_what_happens(run):
    evaluate_help = " ".join(run("evaluate", "--help").output.split())
    assert "print a summary; with --out, also write the results JSON" in evaluate_help
    assert "without --out no file is written" in evaluate_help
    for command in ("synth", "demo"):
        assert "(default: 100)" in " ".join(run(command, "--help").output.split()), command


def test_splits_freeze_says_what_it_wrote(run, synthetic_dataset_dir, tmp_path):
    out = tmp_path / "split.json"
    result = run("splits", "freeze", synthetic_dataset_dir, "--out", out)
    assert result.exit_code == 0
    assert (f"wrote the patient lists of 20 patients (train 14, val 2, test 4; 5 folds), frozen from split "
            f"definition 'lssbench-v1', to {out}\nuse it with --split-file {out}\n") in result.output


def test_split_with_a_folder_that_is_neither_data_nor_bundle(run, sample_submissions, test_bundle, tmp_path):
    empty = tmp_path / "EMPTY"
    empty.mkdir()
    result = run("evaluate", sample_submissions["weak"], "--gt", empty, "--split", "test")
    assert result.exit_code == 2
    assert result.output == (f"error: --split is only used with a raw dataset folder; --gt {empty} is neither a "
                             "dataset folder (no Foramina_Detection/ inside) nor a ground-truth bundle (no "
                             "manifest.json inside)\n")
    bundle = run("evaluate", sample_submissions["weak"], "--gt", test_bundle, "--split", "test")
    assert bundle.exit_code == 2
    assert f"--gt {test_bundle} is a ground-truth bundle (it has its split already)" in bundle.output


def test_demo_into_a_closed_pipe_exits_0_writes_every_output_and_rebuilds_for_other_sizes(run, tmp_path):
    from lssbench.synth import MARKER

    out = tmp_path / "demo"
    command = (f"set -o pipefail; {sys.executable} -m lssbench demo --out {out} --patients 5 --bootstrap 0 "
               "| head -n 1")
    done = subprocess.run(["bash", "-c", command], env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"lssbench {__import__('lssbench').__version__} demo in {out} ...\n"
    assert "Traceback" not in done.stderr and "error" not in done.stderr
    for name in ("leaderboard.json", "leaderboard.md", "leaderboard.html"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "data" / MARKER).read_text())["n_patients"] == 5
    again = run("demo", "--out", out, "--patients", "6", "--bootstrap", "0")
    assert again.exit_code == 0, again.output
    assert f"the dataset in {out / 'data'} has 5 patients, 6 were asked for: rebuilding it and its bundle" \
        in again.output
    assert json.loads((out / "data" / MARKER).read_text())["n_patients"] == 6
    same = run("demo", "--out", out, "--patients", "6", "--bootstrap", "0")
    assert f"reusing the synthetic dataset in {out / 'data'} (6 patients) and its bundle" in same.output
    assert "synthesizing" not in same.output


# --- 17. the docs say exactly where lssbench differs ----------------------------------------------
def test_documented_threshold_cases_of_the_authors_protocol_and_the_log_loss_clip():
    import math

    import numpy as np
    import pandas as pd
    import sklearn
    from sklearn.metrics import log_loss

    from lssbench.metrics.detection import evaluate_detection
    from lssbench.metrics.grading import rsna_weighted_log_loss

    image = "PATIENT0000001/IM000001"
    gt = pd.DataFrame([[image, "L4-L5", "left", 0.0, 0.0, 20.0, 10.0]],
                      columns=["image_id", "level", "side", "xmin", "ymin", "xmax", "ymax"])
    dt = pd.DataFrame([[image, "L4-L5", "left", 0.10, 0.0, 0.0, 9.0, 10.0]],  # IoU 90 / 200 = 0.45 exactly
                      columns=["image_id", "level", "side", "score", "xmin", "ymin", "xmax", "ymax"])
    counts = evaluate_detection(gt, dt, [image])["authors_protocol"]["per_level"]["L4-L5"]
    assert (counts["tp"], counts["fp"], counts["fn"]) == (1, 0, 0)  # the notebook: (0, 1, 1), see docs
    assert 90 / (200 + 1e-9) < 0.45 <= 90 / 200
    # a true class given probability 0: clipped at 1e-15 (scikit-learn <= 1.1), not at float64 epsilon
    assert rsna_weighted_log_loss([3], [[0.5, 0.5, 0.0, 0.0]]) == pytest.approx(-math.log(1e-15))
    if tuple(int(p) for p in sklearn.__version__.split(".")[:2]) >= (1, 2):
        modern = log_loss([2], [[1.0, 0.0, 0.0]], labels=[0, 1, 2])
        assert modern == pytest.approx(-math.log(np.finfo(np.float64).eps), rel=1e-9)
    docs = (ROOT / "docs" / "metrics.md").read_text()
    assert "`IoU = intersection / (union + 1e-9)`" in docs and "`conf > conf_thres`" in docs
    assert "**scikit-learn <= 1.1**" in docs

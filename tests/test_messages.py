"""Messages that say what is wrong (issue 28): a weights file that cannot be opened, a results file that cannot be
written, Ctrl-C during `fourpaths index`; real files, real subprocesses, a real SIGINT."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fourpaths.answering.engine import check_weights
from fourpaths.errors import FourpathsError


def copy_model(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


@pytest.mark.parametrize("damage, message", [
    ("dangling link", "model.safetensors: it is a link to a file that is not there"),
    ("folder", "model.safetensors: it is a folder, not a file"),
    ("unreadable", "model.safetensors: permission denied: let this user read it"),
])
def test_weights_that_cannot_be_opened_say_why(damage, message, micro_models, tmp_path):
    folder = copy_model(micro_models["reader"], tmp_path / "reader")
    weights = folder / "model.safetensors"
    if damage == "dangling link":
        weights.unlink()
        weights.symlink_to(tmp_path / "gone.safetensors")
    elif damage == "folder":
        weights.unlink()
        weights.mkdir()
    else:
        if os.geteuid() == 0:
            pytest.skip("root reads a file whatever its permissions")
        weights.chmod(0)
    with pytest.raises(FourpathsError) as raised:
        check_weights(str(folder), "the reader")
    assert str(raised.value) == f"cannot read the reader in {folder}: {message}"


def test_a_results_file_that_cannot_be_written_is_refused_before_measuring(micro_env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fourpaths.cli", "eval", "--split", "eval_seen", "--limit", "2",
                           "--output", str(blocker / "eval.json")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"fourpaths: error: cannot write {blocker / 'eval.json'}: {blocker} is a file, not a folder; give --output a "
        "file in a folder you can write, or set FOURPATHS_RESULTS_DIR"]
    assert time.perf_counter() - started < 60  # refused before any model loads or question is asked


def tree(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_ctrl_c_during_fourpaths_index_is_one_line_and_keeps_the_index(micro_env, micro_settings, tmp_path):
    index = tmp_path / "index"
    shutil.copytree(micro_settings.index_dir, index)
    before = tree(index)
    env = {**os.environ, "FOURPATHS_INDEX_DIR": str(index)}
    process = subprocess.Popen([sys.executable, "-m", "fourpaths.cli", "index", "--rebuild"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(4)  # imports and the embedder load: the interrupt lands while it works
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    if process.returncode == 0:
        pytest.skip("the rebuild finished before the interrupt")
    # 130, or killed by the SIGINT Python passes on at exit: a shell reports both as 130
    assert process.returncode in (130, -signal.SIGINT), stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.startswith("fourpaths")]
    assert lines == ["fourpaths: interrupted (index stopped; files it writes are replaced whole or not at all)"]
    assert tree(index) == before

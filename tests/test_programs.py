"""Public Keras RNN programs run on minirnn with only their Keras import line changed.

Each script in tests/programs/ is a port of a published Keras program (its docstring names the
original), written against `import keras` (or `from tensorflow import keras`). Each runs twice in
a subprocess, in a fresh directory: as written, on Keras 3, and with that one line replaced by
`import minirnn as keras`. Wherever Keras runs the program to the end, minirnn must too.
"""
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PROGRAMS_DIR = ROOT / "tests" / "programs"
PROGRAMS = sorted(p.stem for p in PROGRAMS_DIR.glob("*.py"))
KERAS_IMPORT = re.compile(r"^(import keras|from tensorflow import keras)[ \t]*$", re.MULTILINE)
# Anything else that would pull in Keras or TensorFlow behind the one import line's back.
OTHER_FRAMEWORK_IMPORT = re.compile(r"^\s*(import|from)\s+(keras|tensorflow|tf_keras)\b",
                                    re.MULTILINE)
TIMEOUT_S = 600

pytestmark = [pytest.mark.slow, pytest.mark.tf]

# Programs minirnn cannot run yet, each with what minirnn lacks (strict: fixing it fails here).
XFAIL = {}

_results = {}   # program -> {"keras": bool, "minirnn": bool}


def on_minirnn(source):
    """The program with its one Keras import line replaced; nothing else changes."""
    rewritten, count = KERAS_IMPORT.subn("import minirnn as keras", source, count=1)
    assert count == 1, "the program has no `import keras` / `from tensorflow import keras` line"
    return rewritten


def run(source, name, workdir):
    """(exit code, last lines of stderr) of `source` run as a script in `workdir`."""
    workdir.mkdir()
    script = workdir / f"{name}.py"
    script.write_text(source, encoding="utf-8")
    env = dict(os.environ, TF_ENABLE_ONEDNN_OPTS="0", TF_CPP_MIN_LOG_LEVEL="3", MPLBACKEND="Agg",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    completed = subprocess.run([sys.executable, str(script)], cwd=workdir, env=env,
                               capture_output=True, text=True, timeout=TIMEOUT_S)
    return completed.returncode, "\n".join(completed.stderr.strip().splitlines()[-25:])


@pytest.fixture(scope="module", autouse=True)
def results_table(request):
    """After the module's tests: the table of which program ran on which framework."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not _results:
        return
    width = max(len(name) for name in _results)
    lines = ["", f"{'program':<{width}}  keras ok  minirnn ok"]
    for name in sorted(_results):
        row = _results[name]
        lines.append(f"{name:<{width}}  {'yes' if row['keras'] else 'NO':<8}  "
                     f"{'yes' if row['minirnn'] else 'NO'}")
    keras_ok = sum(row["keras"] for row in _results.values())
    minirnn_ok = sum(row["minirnn"] for row in _results.values())
    lines.append(f"{len(_results)} programs: {keras_ok} run on Keras, {minirnn_ok} on minirnn")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():   # shown even when output is captured
        for line in lines:
            reporter.write_line(line)


def test_every_program_names_its_original_and_imports_keras_once():
    assert len(PROGRAMS) >= 11
    for name in PROGRAMS:
        source = (PROGRAMS_DIR / f"{name}.py").read_text(encoding="utf-8")
        assert source.startswith('"""'), f"{name}: no docstring naming the original"
        assert len(KERAS_IMPORT.findall(source)) == 1, f"{name}: not exactly one Keras import line"
        others = [m.group(0) for m in OTHER_FRAMEWORK_IMPORT.finditer(KERAS_IMPORT.sub("", source))]
        assert not others, f"{name}: imports Keras/TensorFlow besides its one line: {others}"


def _param(name):
    if name in XFAIL:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=XFAIL[name]))
    return name


@pytest.mark.parametrize("name", [_param(name) for name in PROGRAMS])
def test_program_runs_on_minirnn_wherever_keras_does(name, tmp_path):
    source = (PROGRAMS_DIR / f"{name}.py").read_text(encoding="utf-8")
    keras_code, keras_err = run(source, name, tmp_path / "keras")
    minirnn_code, minirnn_err = run(on_minirnn(source), name, tmp_path / "minirnn")
    _results[name] = {"keras": keras_code == 0, "minirnn": minirnn_code == 0}
    if keras_code != 0:
        pytest.skip(f"{name} does not run on Keras either (exit {keras_code}):\n{keras_err}")
    assert minirnn_code == 0, f"{name} runs on Keras but fails on minirnn:\n{minirnn_err}"

"""The README's two set-up commands are what CI runs, and the files they rely on exist."""
import configparser
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
VENV_STEP = "python3 -m venv .venv && . .venv/bin/activate && "


def readme_commands():
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1)
    return [line for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_starts_with_two_commands_each_in_a_virtual_environment():
    commands = readme_commands()
    assert len(commands) == 2, commands
    for command in commands:
        assert command.startswith(VENV_STEP), command


def test_ci_runs_the_readmes_test_command_in_a_fresh_venv():
    test_command = readme_commands()[1][len(VENV_STEP):]
    assert test_command == 'pip install -e ".[test,plot]" && python -m pytest'
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert ci[-1] == test_command
    assert any(line.startswith("workdir=$(mktemp -d)") for line in ci)
    assert 'python3 -m venv "$workdir/venv"' in ci
    assert '. "$workdir/venv/bin/activate"' in ci


def test_extras_and_license_are_declared():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    extras = config["options.extras_require"]
    assert {"test", "plot"} <= set(extras)
    for package in ("pytest", "hypothesis", "tensorflow-cpu"):
        assert package in extras["test"]
    assert "matplotlib" in extras["plot"]
    assert config["metadata"]["license_files"].strip() == "LICENSE"
    assert "MIT License" in (ROOT / "LICENSE").read_text()

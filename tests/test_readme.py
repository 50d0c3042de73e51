"""The README's Python examples run as written, and its two quick-start commands are the
ones CI runs."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_readme_python_examples_run(capsys):
    namespace: dict = {}
    for block in re.findall(r"```python\n(.*?)```", README, flags=re.S):
        exec(compile(block, "README.md", "exec"), namespace)
    out = capsys.readouterr().out
    assert "forward of Log produced nan" in out


def test_quick_start_test_command_is_what_ci_runs():
    commands = re.findall(r"```bash\n(.*?)\n```", README, flags=re.S)
    assert len(commands) >= 2 and "examples/wgan_gp.py" in commands[0]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1]

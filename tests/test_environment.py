"""pyproject.toml and environment.yml must list the same packages."""

import re

import tomllib
import yaml

from tests.conftest import REPO_ROOT


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r) for r in pip if not r.startswith("-e")}
    assert any(d.startswith("python=3.11") for d in conda)
    assert listed == wanted, (
        f"only in pyproject: {wanted - listed}; only in environment.yml: {listed - wanted}"
    )


def test_torch_pins_agree_with_makefile() -> None:
    env = (REPO_ROOT / "environment.yml").read_text()
    makefile = (REPO_ROOT / "Makefile").read_text()
    for pin in re.findall(r"(torch(?:vision)?==[\d.]+)", env):
        assert pin in makefile


def test_make_help_lists_the_targets() -> None:
    import subprocess

    out = subprocess.run(
        ["make", "help"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    for target in ("install", "train", "test", "lint", "format", "clean", "help"):
        assert f" {target} " in out or f"{target}  " in out, f"make help does not list {target}"


def test_ci_script_installs_data_and_runs_make_test() -> None:
    script = (REPO_ROOT / ".ci" / "run").read_text()
    assert "dataset-fashion-mnist" in script and "make test" in script

"""The API reference documents every public companion module, and importing one is silent.

The reference pages are generated at build time (book/_ext/api_pages.py) from the list
``companion_api_modules`` in _config.yml. A new module is documented by adding one line there;
this test fails until it is. The build imports every listed module (autodoc): an import must
print nothing and must not need a display.
"""

import json
import os
import pathlib
import pkgutil
import subprocess
import sys

import yaml

import companion

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _listed() -> list[str]:
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    return config["sphinx"]["config"]["companion_api_modules"]


def _public_modules() -> list[str]:
    names = ["companion"]
    for info in pkgutil.walk_packages(companion.__path__, prefix="companion."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return sorted(names)


def test_every_public_module_has_an_api_page():
    listed = _listed()
    assert len(listed) == len(set(listed)), f"a module is listed twice: {listed}"
    missing = sorted(set(_public_modules()) - set(listed))
    assert not missing, (
        f"not in the API reference: {missing}; add each to companion_api_modules in _config.yml"
    )
    unknown = sorted(set(listed) - set(_public_modules()))
    assert not unknown, f"companion_api_modules lists modules that do not exist: {unknown}"


IMPORT_ALL = """
import contextlib, importlib, io, json, sys
report = {}
for name in sys.argv[1:]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        importlib.import_module(name)
    report[name] = out.getvalue() + err.getvalue()
print(json.dumps(report))
"""


def test_importing_documented_modules_prints_nothing_and_needs_no_display():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    run = subprocess.run(
        [sys.executable, "-W", "default", "-c", IMPORT_ALL, *_listed()],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert not run.stderr.strip(), f"output while importing companion modules:\n{run.stderr}"
    noisy = {name: text for name, text in json.loads(run.stdout).items() if text.strip()}
    assert not noisy, f"modules that print when imported: {noisy}"

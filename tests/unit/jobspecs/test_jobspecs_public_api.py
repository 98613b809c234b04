"""The package is the public contract: stable names, and no dependency on the rest of Suanli."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import jobspecs
from jobspecs import API_VERSION, KINDS, Kind, Resource

PACKAGE = Path(jobspecs.__file__).parent


def test_api_version_and_kind_registry() -> None:
    assert API_VERSION == "suanli.dev/v1alpha1"
    assert (
        set(KINDS) == set(get_args(Kind)) == {"TrainingJob", "InferenceService", "AcceleratorPool", "Queue"}
    )
    assert set(get_args(Resource)) == set(KINDS.values())
    for kind, model in KINDS.items():
        assert model.model_fields["kind"].default == kind


def test_everything_in_all_is_importable() -> None:
    for name in jobspecs.__all__:
        assert hasattr(jobspecs, name), name


def test_jobspecs_imports_only_stdlib_pydantic_and_yaml() -> None:
    code = (
        "import sys, jobspecs, jobspecs.schema, jobspecs.loader\n"
        "roots = {'controlplane', 'operators', 'sqlalchemy', 'fastapi', 'httpx', 'ray'}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in roots)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_no_module_mentions_controlplane_or_operators_in_imports() -> None:
    for path in PACKAGE.rglob("*.py"):
        for line in path.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import ", "from ")):
                assert "controlplane" not in stripped and "operators" not in stripped, f"{path}: {line}"


def test_modules_stay_small_and_say_what_they_own() -> None:
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        assert len(text.splitlines()) < 500, path
        assert text.lstrip().startswith('"""'), f"{path} has no module docstring"


def test_every_model_forbids_unknown_fields() -> None:
    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()

    def visit(model: type[BaseModel]) -> None:
        if model in seen:
            return
        seen.add(model)
        assert model.model_config.get("extra") == "forbid", model
        for field in model.model_fields.values():
            for candidate in _types_in(field.annotation):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    visit(candidate)

    for model in KINDS.values():
        visit(model)
    assert len(seen) > 20


def _types_in(annotation: object) -> list[object]:
    found = [annotation]
    for arg in get_args(annotation):
        found.extend(_types_in(arg))
    return found

"""Score rubrics: YAML files shipped in `rubrics/` beside this module, plus any in the deployment's own
folder (`PILOTSHARE_RUBRICS_DIR`), found by the `id` written inside each file.

A file is a whole rubric, or a variant that `extends` another by id and changes part of it (see
`backend.domain.score.extend`). The rubric's fingerprint (`sha256`) is taken over its merged content,
so a report says exactly which rules scored it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

from backend.domain.errors import Invalid
from backend.domain.score import Rubric, extend, parse_rubric

PACKAGED = Path(__file__).with_name("rubrics")
DEFAULT_RUBRIC = "national-2021"


def _files(extra_dir: str | None) -> dict[str, tuple[Path, dict[str, Any]]]:
    found: dict[str, tuple[Path, dict[str, Any]]] = {}
    folders = [PACKAGED] + ([Path(extra_dir)] if extra_dir else [])
    for folder in folders:
        for path in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
            try:
                data = yaml.safe_load(path.read_text(encoding="utf-8"))
            except (OSError, yaml.YAMLError) as exc:
                raise Invalid("rubric", f"{path}: not a readable YAML file ({exc})") from None
            if not isinstance(data, dict) or "id" not in data:
                raise Invalid("rubric", f"{path}: a rubric file starts with its `id`")
            found[str(data["id"])] = (path, data)  # the deployment's file wins over a shipped one
    return found


def _merged(rubric_id: str, files: dict[str, tuple[Path, dict[str, Any]]], seen: tuple[str, ...]) -> Any:
    if rubric_id not in files:
        known = ", ".join(sorted(files))
        raise Invalid("rubric", f"unknown rubric {rubric_id!r}; known: {known}")
    if rubric_id in seen:
        raise Invalid("rubric", f"{rubric_id!r} extends itself through {' -> '.join(seen)}")
    data = files[rubric_id][1]
    base = data.get("extends")
    return extend(_merged(str(base), files, (*seen, rubric_id)), data) if base else data


def load_rubric(rubric_id: str | None = None, extra_dir: str | None = None) -> Rubric:
    """The rubric `rubric_id` (default: the national one); Invalid naming `rubric` when it is unknown
    or malformed."""
    files = _files(extra_dir)
    wanted = rubric_id or DEFAULT_RUBRIC
    merged = _merged(wanted, files, ())
    merged = {k: v for k, v in merged.items() if k not in ("extends", "remove")}
    canonical = json.dumps(merged, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()
    try:
        return parse_rubric(merged, fingerprint)
    except (ValueError, KeyError, TypeError) as exc:
        raise Invalid("rubric", f"{wanted} ({files[wanted][0].name}): {exc}") from None


def rubric_ids(extra_dir: str | None = None) -> list[str]:
    return sorted(_files(extra_dir))

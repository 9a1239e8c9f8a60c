"""dbt's ``manifest.json``, from which the transform DAG is rendered (Cosmos ``LoadMode.DBT_MANIFEST``).

The DAG file never runs dbt: it reads ``$DBT_TARGET_PATH/manifest.json``, built here by ``dbt parse``.
Next to it, ``manifest.fingerprint`` holds a hash of the dbt project's source files as they were when
the manifest was built, so a model added or changed since then is noticed at parse time and reported
as a :class:`ManifestError` that names the command to run, instead of a DAG silently missing a model.
``telco-dw manifest`` builds it; ``telco-dw setup``/``run``/``demo``/``up`` rebuild it when stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from telco_dw.config import Config
from telco_dw.errors import UserError

REBUILD_COMMAND = "telco-dw manifest"
"""What a user runs to build or rebuild the manifest (also part of `make demo` and the test set-up)."""

# What dbt reads to build the manifest; target/, logs/ and dbt_packages/ are outputs, not sources.
_SOURCE_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "selectors.yml")
_SOURCE_DIRS = ("models", "macros", "tests", "snapshots", "seeds", "analyses")


class ManifestError(UserError):
    """The dbt manifest is missing, unreadable or older than the dbt project."""


@dataclass(frozen=True)
class Model:
    """A dbt model as the manifest declares it."""

    unique_id: str
    name: str
    layer: str
    """The first folder under ``models/``: ``staging``, ``intermediate`` or ``marts``."""
    schema: str
    materialized: str = ""


def incremental_marts(path: Path) -> list[str]:
    """The marts dbt builds incrementally (they extend what the candidate schema holds)."""
    return sorted(m.name for m in models(path) if m.layer == "marts" and m.materialized == "incremental")


def manifest_path(cfg: Config) -> Path:
    return cfg.dbt_target / "manifest.json"


def _fingerprint_path(cfg: Config) -> Path:
    return cfg.dbt_target / "manifest.fingerprint"


def _source_files(project: Path) -> Iterator[Path]:
    for name in _SOURCE_FILES:
        if (project / name).is_file():
            yield project / name
    for folder in _SOURCE_DIRS:
        root = project / folder
        if root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def fingerprint(project: Path) -> str:
    """A hash of every file dbt reads to build the manifest (paths and contents)."""
    digest = hashlib.sha256()
    for path in sorted(_source_files(project)):
        digest.update(path.relative_to(project).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def problem(cfg: Config) -> str | None:
    """Why the manifest cannot be used as it is (missing or stale), or None when it is current."""
    path = manifest_path(cfg)
    if not path.is_file():
        return f"the dbt manifest {path} does not exist"
    recorded = _fingerprint_path(cfg)
    if not recorded.is_file() or recorded.read_text().strip() != fingerprint(cfg.dbt_project):
        return f"the dbt manifest {path} is older than the dbt project in {cfg.dbt_project} (models changed since)"
    return None


def checked(cfg: Config) -> Path:
    """The path of a current manifest; :class:`ManifestError` naming the command to run otherwise."""
    reason = problem(cfg)
    if reason:
        raise ManifestError(f"{reason}: run `{REBUILD_COMMAND}` (or `make demo`) to build it")
    return manifest_path(cfg)


def build(cfg: Config, libpq_url: str) -> Path:
    """Run ``dbt parse`` and install its manifest atomically, with the fingerprint of what it parsed.

    dbt parses into ``<target>/../parse`` (keeping its partial-parse state there), so a DAG file being
    parsed at the same time never reads a half-written manifest.
    """
    from telco_dw.transform import dbt

    stamp = fingerprint(cfg.dbt_project)  # before parsing: an edit made meanwhile shows as stale
    work = cfg.dbt_target.parent / "parse"
    work.mkdir(parents=True, exist_ok=True)
    dbt.run(["parse", "--target-path", str(work)], libpq_url)
    cfg.dbt_target.mkdir(parents=True, exist_ok=True)
    target = manifest_path(cfg)
    partial = target.with_suffix(".json.partial")
    shutil.copyfile(work / "manifest.json", partial)
    os.replace(partial, target)
    _fingerprint_path(cfg).write_text(stamp + "\n")
    return target


def ensure(cfg: Config, libpq_url: str) -> bool:
    """Build the manifest if it is missing or stale; True when it was (re)built."""
    if problem(cfg) is None:
        return False
    build(cfg, libpq_url)
    return True


def models(path: Path) -> list[Model]:
    """Every model of the root project in the manifest at ``path``, in manifest order."""
    try:
        nodes = json.loads(path.read_text())["nodes"]
    except (OSError, ValueError, KeyError) as exc:
        raise ManifestError(f"cannot read the dbt manifest {path} ({exc}): run `{REBUILD_COMMAND}`") from None
    out = []
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "model" or node.get("package_name") != "telco_dw":
            continue
        fqn = node.get("fqn", [])
        out.append(
            Model(
                unique_id,
                node["name"],
                fqn[1] if len(fqn) > 2 else "",
                node.get("schema", ""),
                (node.get("config") or {}).get("materialized", ""),
            )
        )
    return out

"""docker-compose.yml, Dockerfile, .env.example and the Kubernetes pod template, checked statically.

No Docker engine runs here, so the deployment is held to its contract instead: the compose file is
valid against the Compose Specification (the schema ``check-jsonschema`` ships), every service
docs/deploy.md names exists and has a healthcheck, images are pinned, ``.env.example`` documents
every variable the file interpolates, and the environment the containers get is the one the native
run derives (:func:`telco_dw.airflow_env.environment`), with the same names. ``docker compose
config`` runs too where the Compose plugin is installed.
"""

from __future__ import annotations

import importlib.resources
import importlib.util
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

from telco_dw import airflow_env, config

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
DEPLOY_DOC = REPO / "docs" / "deploy.md"
POD_TEMPLATE = REPO / "deploy" / "kubernetes" / "pod_template.yaml"
REPO_IN_IMAGE = "/opt/telco-dw"
"""Where the Dockerfile puts the checkout (WORKDIR); compose mounts dags/, plugins/, ... under it."""

SETTINGS_NOT_IN_COMPOSE = {
    "WAREHOUSE_PORT": "the embedded warehouse's port; compose runs a PostgreSQL service (WAREHOUSE_URL)",
    "BILLING_SOURCE_URL": "unset on purpose: the simulator's billing_src on the warehouse server; the ingest "
    "tasks read the billing_source connection, which compose sets",
}
"""telco_dw.config settings a compose deployment leaves unset, and why."""

DIFFERS_FROM_NATIVE = {
    "AIRFLOW_HOME": "the image's /opt/airflow",
    "AIRFLOW__CORE__DAGS_FOLDER": "the checkout is at /opt/telco-dw in the image",
    "AIRFLOW__CORE__PLUGINS_FOLDER": "idem",
    "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor instead of LocalExecutor",
    "AIRFLOW__CORE__PARALLELISM": "sized for several workers",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": "the api-server's service name instead of 127.0.0.1",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": "on the shared volume",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "the postgres service",
    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "the compose file's parallelism (16), as natively the native one's",
    "AIRFLOW__API__HOST": "0.0.0.0: published to the host",
    "AIRFLOW__API__BASE_URL": "the published port",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": "the logs volume",
    "AIRFLOW__COSMOS__CACHE_DIR": "per container",
    "AIRFLOW_CONN_TELCO_WAREHOUSE": "service hosts and secrets from .env",
    "AIRFLOW_CONN_BILLING_SOURCE": "idem",
    "AIRFLOW_CONN_CRM_API": "idem",
    "TELCO_DW_HOME": "the shared volume",
    "LANDING_URL": "idem",
    "AIRFLOW__CORE__FERNET_KEY": "from .env",
    "AIRFLOW__API__SECRET_KEY": "from .env",
    "AIRFLOW__API_AUTH__JWT_SECRET": "from .env",
    "PII_TOKEN_KEY": "from .env",
}
"""Variables of the native environment whose compose value differs by design; every other one is equal."""

IMAGE_ENTRYPOINT_VARS = {"DUMB_INIT_SETSID", "CONNECTION_CHECK_MAX_COUNT"}
"""Read by the official Airflow image's entrypoint: warm shutdown of Celery workers; skip the metadata
database check (the simulators have none)."""

POSTGRES_IMAGE_VARS = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "POSTGRES_INITDB_ARGS"}

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's interpolation: ``${V}``, ``${V:-default}``, ``${V-default}``, ``${V:?error}``, ``$$``."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, arg = match.group(2), match.group(3)
        value = env.get(name)
        if (op in (":-", ":?") and not value) or (op in ("-", "?") and value is None):
            if op.endswith("?"):
                raise ValueError(f"required variable {name} is missing: {arg}")
            return arg
        return value or ""

    return "$".join(_VAR.sub(one, part) for part in text.split("$$"))


def _strings(node: Any) -> list[str]:
    """Every string value of a parsed YAML document (what compose interpolates; not keys, not comments)."""
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


def _resolve(node: Any, env: dict[str, str]) -> Any:
    """``node`` with every string value interpolated, as ``docker compose`` does after parsing the YAML."""
    if isinstance(node, dict):
        return {key: _resolve(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(value, env) for value in node]
    return _interpolate(node, env) if isinstance(node, str) else node


def _variables(document: Any) -> set[str]:
    """Names of the variables compose interpolates (``$$`` escapes a shell's ``$``)."""
    return {
        m.group(1) or m.group(4)
        for text in _strings(document)
        for part in text.split("$$")
        for m in _VAR.finditer(part)
    }


def _env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def _deployment_env() -> dict[str, str]:
    """.env.example with its empty secrets filled in, as a data engineer's .env would be."""
    return {k: v or f"secret-{k.lower()}" for k, v in _env_example().items()}


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    """The compose file as written (``${...}`` not substituted); YAML anchors and merge keys resolved."""
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The compose file as ``docker compose`` would see it with a filled-in .env."""
    return _resolve(yaml.safe_load(COMPOSE.read_text()), _deployment_env())


@pytest.fixture(scope="module")
def common_env(compose: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}


def _project_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    image = compose["x-airflow-common"]["image"]
    return {name: s for name, s in compose["services"].items() if s.get("image") == image}


def test_validates_against_the_compose_specification(raw: dict[str, Any], compose: dict[str, Any]) -> None:
    schema = json.loads(
        (importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json").read_text()
    )
    validator = jsonschema.Draft202012Validator(schema)
    for document in (raw, compose):
        errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
        assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_the_airflow_3_celery_shape(compose: dict[str, Any], common_env: dict[str, str]) -> None:
    services = compose["services"]
    expected = {
        "postgres", "redis", "warehouse", "sources", "airflow-init", "airflow-apiserver", "airflow-scheduler",
        "airflow-dag-processor", "airflow-triggerer", "airflow-worker",
    }  # fmt: skip
    assert expected <= set(services)
    commands = {name: services[name].get("command") for name in expected if name.startswith("airflow-")}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    assert common_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert urlsplit(common_env["AIRFLOW__CELERY__BROKER_URL"]).hostname == "redis"
    assert urlsplit(common_env["AIRFLOW__CELERY__RESULT_BACKEND"]).hostname == "postgres"
    assert urlsplit(common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).hostname == "postgres"
    api = urlsplit(common_env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (api.hostname, str(api.port), api.path) == (
        "airflow-apiserver",
        common_env["AIRFLOW__API__PORT"],
        "/execution/",
    )
    # scalable: `docker compose up --scale airflow-worker=3` needs no fixed name and no host port
    assert "container_name" not in services["airflow-worker"] and "ports" not in services["airflow-worker"]


def test_every_service_has_a_healthcheck_or_is_a_one_shot(compose: dict[str, Any]) -> None:
    services = compose["services"]
    waits = {
        (name, dependency): spec.get("condition")
        for name, service in services.items()
        for dependency, spec in (service.get("depends_on") or {}).items()
    }
    for name, service in services.items():
        if "healthcheck" in service:
            assert service["healthcheck"].get("test") and not service["healthcheck"].get("disable"), name
            continue
        # a one-shot (airflow-init): it exits; services wait for it to have succeeded, not to be healthy
        dependents = {who: condition for (who, dependency), condition in waits.items() if dependency == name}
        assert dependents, f"{name} has no healthcheck and nothing waits for it to complete"
        assert set(dependents.values()) == {"service_completed_successfully"}, (name, dependents)
        assert service.get("restart", "no") == "no", name
    for (who, dependency), condition in waits.items():
        if condition == "service_healthy":
            assert "healthcheck" in services[dependency], f"{who} waits for {dependency} to be healthy: it has none"


def test_images_are_pinned(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = service["image"]
        repository, _, tag = image.rpartition(":")
        assert repository and tag and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest", f"{name}: {image} is not pinned"
        if repository in ("postgres", "redis"):
            assert re.match(r"\d+\.\d+(\.\d+)?-", tag), f"{name}: {image} floats: pin the minor release"


def test_postgres_18_volumes_hold_the_versioned_data_directory(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        if service["image"].startswith("postgres:18"):
            targets = [v.split(":")[1] for v in service.get("volumes", [])]
            assert targets == ["/var/lib/postgresql"], f"{name}: PostgreSQL 18+ images keep data under it"


def test_dockerfile_builds_the_locked_airflow_and_copies_the_project() -> None:
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG AIRFLOW_IMAGE=(\S+)$", text, re.M)
    assert base and re.search(r"^FROM \$\{AIRFLOW_IMAGE\}$", text, re.M)
    match = re.fullmatch(r"apache/airflow:(\d+\.\d+\.\d+)-python(\d+\.\d+)", base.group(1))
    assert match, f"{base.group(1)}: pin apache/airflow:<version>-python<x.y>"
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    locked = {p["name"]: p["version"] for p in lock["package"]}
    assert match.group(1) == locked["apache-airflow"], "the base image's Airflow is not the one uv.lock pins"
    assert match.group(2) == "3.11"
    assert "uv sync --frozen --no-dev" in text
    for folder in ("include", "dags", "plugins", "dbt_project", "expectations", "deploy/kubernetes"):
        assert re.search(rf"^COPY .*\b{folder}/ {folder}/$", text, re.M), f"the image lacks {folder}/"
    assert re.search(rf"^WORKDIR {REPO_IN_IMAGE}$", text, re.M)


def test_the_celery_executor_is_in_the_image() -> None:
    """The image installs uv.lock only: CeleryExecutor needs the Celery provider locked."""
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    if "apache-airflow-providers-celery" not in {p["name"] for p in lock["package"]}:
        pytest.skip("apache-airflow-providers-celery is not in uv.lock yet (it comes with the Celery work)")


def test_the_project_folders_are_mounted_where_airflow_looks(
    compose: dict[str, Any], common_env: dict[str, str]
) -> None:
    mounts = dict(v.split(":")[:2] for v in compose["x-airflow-common"]["volumes"])
    for folder in ("dags", "plugins", "dbt_project", "expectations"):
        assert mounts[f"./{folder}"] == f"{REPO_IN_IMAGE}/{folder}"
    assert common_env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{REPO_IN_IMAGE}/dags"
    assert common_env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{REPO_IN_IMAGE}/plugins"
    home = common_env["TELCO_DW_HOME"]
    assert mounts["telco-dw-home"] == home
    for name, service in _project_services(compose).items():
        assert any(v == f"telco-dw-home:{home}" for v in service["volumes"]), f"{name} lacks the shared home"
    for key in ("TELCO_DW_OUTBOX", "TELCO_DW_DOCS", "TELCO_DW_SECRETS_FILE", "DBT_TARGET_PATH", "LANDING_URL"):
        assert common_env[key].startswith(home + "/"), f"{key} is not on the shared volume"


def _native_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, common_env: dict[str, str]) -> dict[str, str]:
    """What :func:`airflow_env.environment` gives for a deployment configured like the compose file."""
    for setting in config.SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    for key in ("WAREHOUSE_URL", "AIRFLOW_DATABASE_URL", "CRM_API_URL", "CRM_API_TOKEN", "PII_TOKEN_KEY"):
        monkeypatch.setenv(key, common_env[key])
    monkeypatch.setenv("TELCO_DW_HOME", str(tmp_path))
    monkeypatch.setenv("TELCO_DW_SECRETS_FILE", str(tmp_path / "secrets.env"))
    monkeypatch.delenv("AIRFLOW__CORE__EXECUTOR", raising=False)
    monkeypatch.delenv("AIRFLOW__CORE__PARALLELISM", raising=False)
    config.load.cache_clear()
    try:
        return airflow_env.environment(config.load())
    finally:
        config.load.cache_clear()


def test_the_environment_is_the_native_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, common_env: dict[str, str]
) -> None:
    native = _native_environment(monkeypatch, tmp_path, common_env)
    missing = sorted(set(native) - set(common_env))
    assert not missing, f"set in every native Airflow process but not in x-airflow-common: {missing}"
    differs = {
        k: (native[k], common_env[k]) for k in native if k not in DIFFERS_FROM_NATIVE and native[k] != common_env[k]
    }
    assert not differs, f"same variable, another value than the native run's: {differs}"
    assert common_env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
    unset = sorted({s.env for s in config.SETTINGS} - set(common_env) - set(SETTINGS_NOT_IN_COMPOSE))
    assert not unset, f"telco_dw.config settings a deployment must set, missing from x-airflow-common: {unset}"
    assert set(SETTINGS_NOT_IN_COMPOSE).isdisjoint(common_env)


def test_the_connections_point_at_the_services(compose: dict[str, Any], common_env: dict[str, str]) -> None:
    warehouse = urlsplit(common_env["WAREHOUSE_URL"])
    conns = {k: json.loads(v) for k, v in common_env.items() if k.startswith("AIRFLOW_CONN_")}
    expected = {
        f"AIRFLOW_CONN_{c.upper()}"
        for c in (airflow_env.WAREHOUSE_CONN_ID, airflow_env.BILLING_CONN_ID, airflow_env.CRM_CONN_ID)
    }
    assert set(conns) == expected
    wh, billing = conns["AIRFLOW_CONN_TELCO_WAREHOUSE"], conns["AIRFLOW_CONN_BILLING_SOURCE"]
    assert wh == json.loads(airflow_env.connection_json(common_env["WAREHOUSE_URL"]))
    assert billing == {**wh, "schema": "billing_src"}  # the simulator's database on the warehouse server
    assert warehouse.hostname in compose["services"]
    crm, crm_url = conns["AIRFLOW_CONN_CRM_API"], urlsplit(common_env["CRM_API_URL"])
    assert (crm["conn_type"], crm["host"], crm["port"], crm["password"]) == (
        "http",
        crm_url.hostname,
        crm_url.port,
        common_env["CRM_API_TOKEN"],
    )
    sources = compose["services"][crm_url.hostname]
    assert f"--port {crm_url.port}" in sources["command"][-1] and crm_url.port in sources["expose"]
    assert str(crm_url.port) in " ".join(sources["healthcheck"]["test"])
    assert common_env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == common_env["AIRFLOW_DATABASE_URL"]
    db = compose["services"]["warehouse"]["environment"]
    assert (warehouse.username, warehouse.password, warehouse.path.lstrip("/")) == (
        db["POSTGRES_USER"],
        db["POSTGRES_PASSWORD"],
        db["POSTGRES_DB"],
    )


def _airflow_options() -> dict[str, set[str]]:
    from airflow.configuration import conf

    options = {section: set(spec.get("options", {})) for section, spec in conf.configuration_description.items()}
    if importlib.util.find_spec("airflow.providers.celery") is None:  # its options load with the provider
        options.setdefault("celery", set()).update({"broker_url", "result_backend"})
    return options


def _cosmos_options() -> set[str]:
    spec = importlib.util.find_spec("cosmos.settings")
    assert spec and spec.origin
    return set(re.findall(r'conf\.get\w*\(\s*"cosmos",\s*"(\w+)"', Path(spec.origin).read_text()))


def test_no_variable_is_unknown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, compose: dict[str, Any], common_env: dict[str, str]
) -> None:
    """Every variable given to a container is a telco-dw setting, an Airflow or Cosmos option, a
    connection the code reads, or one the image's entrypoint reads: a typo cannot hide here."""
    known = {s.env for s in config.SETTINGS} | set(_native_environment(monkeypatch, tmp_path, common_env))
    airflow_options, cosmos_options = _airflow_options(), _cosmos_options()
    for name, service in _project_services(compose).items():
        for key in service.get("environment", {}):
            if key in known or key in IMAGE_ENTRYPOINT_VARS:
                continue
            match = re.fullmatch(r"AIRFLOW__([A-Z_]+?)__([A-Z_]+)", key)
            assert match, f"{name}: {key} is unknown to telco_dw.config, Airflow and Cosmos"
            section, option = match.group(1).lower(), match.group(2).lower()
            if section == "cosmos":
                assert option in cosmos_options, f"{name}: {key} is not a Cosmos setting"
            else:
                assert option in airflow_options.get(section, set()), f"{name}: {key} is not an Airflow option"
    for name in ("postgres", "warehouse"):
        assert set(compose["services"][name]["environment"]) <= POSTGRES_IMAGE_VARS


def test_env_example_documents_every_variable(raw: dict[str, Any]) -> None:
    used, documented = _variables(raw), set(_env_example())
    assert not used - documented, (
        f"interpolated by docker-compose.yml, not in .env.example: {sorted(used - documented)}"
    )
    assert not documented - used, f"in .env.example, unused by docker-compose.yml: {sorted(documented - used)}"
    body = ENV_EXAMPLE.read_text()
    for name in documented:  # each with a comment just above it
        lines = body.splitlines()
        index = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
        assert lines[index - 1].startswith("#"), f".env.example: explain {name} in a comment above it"


def test_secrets_are_required_and_not_in_the_repository(raw: dict[str, Any]) -> None:
    example = _env_example()
    secrets = ["AIRFLOW_DB_PASSWORD", "WAREHOUSE_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY",
               "AIRFLOW__API_AUTH__JWT_SECRET", "PII_TOKEN_KEY", "CRM_API_TOKEN"]  # fmt: skip
    for name in secrets:
        assert example[name] == "", f".env.example must not hold a value for the secret {name}"
        with pytest.raises(ValueError, match=name):  # `${NAME:?...}`: compose refuses to start without it
            _resolve(raw, {**_deployment_env(), name: ""})
    assert ".env" in (REPO / ".gitignore").read_text().splitlines()


def _named_in_docs(text: str) -> set[str]:
    names = set(re.findall(r"^\| `([a-z][a-z0-9-]*)` \|", text, re.M))  # the services table
    names |= set(
        re.findall(
            r"docker compose (?:exec|logs|run|restart|stop|start)(?: --?[\w-]+(?: \d+)?)* ([a-z][a-z0-9-]*)", text
        )
    )
    names |= set(re.findall(r"--scale ([a-z][a-z0-9-]*)=", text))
    return names


def test_every_service_the_docs_name_exists(compose: dict[str, Any]) -> None:
    text = DEPLOY_DOC.read_text() + (REPO / "README.md").read_text()
    named = _named_in_docs(text)
    assert {"airflow-worker", "airflow-init", "airflow-scheduler", "sources", "warehouse"} <= named
    assert not named - set(compose["services"]), (
        f"named in the docs, not in docker-compose.yml: {named - set(compose['services'])}"
    )
    table = set(re.findall(r"^\| `([a-z][a-z0-9-]*)` \|", DEPLOY_DOC.read_text(), re.M))
    assert table == set(compose["services"]), "docs/deploy.md's table of services is not the compose file's"


def test_kubernetes_pod_template() -> None:
    pod = yaml.safe_load(POD_TEMPLATE.read_text())
    assert (pod["apiVersion"], pod["kind"]) == ("v1", "Pod")
    (base,) = [c for c in pod["spec"]["containers"] if c["name"] == "base"]  # Airflow runs the task in `base`
    image = base["image"]
    assert ":" in image and not image.endswith(":latest")
    env = {e["name"]: e.get("value") for e in base.get("env", [])}
    assert env["AIRFLOW__CORE__EXECUTOR"] == "KubernetesExecutor"
    mounts = {m["mountPath"] for m in base["volumeMounts"]}
    common = yaml.safe_load(COMPOSE.read_text())["x-airflow-common"]["environment"]
    assert common["TELCO_DW_HOME"] in mounts and common["AIRFLOW__LOGGING__BASE_LOG_FOLDER"] in mounts
    claims = {v["name"] for v in pod["spec"]["volumes"]}
    assert {m["name"] for m in base["volumeMounts"]} <= claims
    assert f"{REPO_IN_IMAGE}/{POD_TEMPLATE.relative_to(REPO)}" in DEPLOY_DOC.read_text()


def test_docker_compose_config() -> None:
    """The Compose plugin's own check, where it is installed (it needs no running engine)."""
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("the docker compose plugin is not installed here: only the schema check above ran")
    env = {**_deployment_env(), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "--env-file", "/dev/null", "config", "--quiet"],
        capture_output=True, text=True, env=env, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_the_warehouse_service_sorts_text_like_the_embedded_warehouse(compose: dict[str, Any]) -> None:
    from telco_dw.warehouse import embedded

    args = compose["services"]["warehouse"]["environment"]["POSTGRES_INITDB_ARGS"].split()
    assert set(args) == set(embedded.INITDB_LOCALE) - {"--encoding=UTF8"}  # the image initialises UTF8 itself

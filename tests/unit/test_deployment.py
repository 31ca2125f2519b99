"""The Docker deployment (docker/), checked without Docker.

No Docker engine is needed: the compose file is loaded with PyYAML (anchors and
merge keys resolved as compose does), its ``${VAR}`` substitution is replayed
the way ``docker compose config`` does it, and the Dockerfile is read as text.
What is checked is what a wrong edit would break in production: one shared
Airflow environment (executor, broker, databases, Fernet key, JWT secret, time
zone), the connections reaching the triggerer as well as the workers, no
secret in the repository, the image built from the project's Dockerfile with
the committed constraints, and the runbooks naming what the code really uses.
"""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from tests.helpers import REPO

DOCKER = REPO / "docker"
COMPOSE = DOCKER / "docker-compose.yaml"
DOCKERFILE = DOCKER / "Dockerfile"
ENV_EXAMPLE = DOCKER / ".env.example"
CONNECTIONS_EXAMPLE = DOCKER / "connections.env.example"
CONSTRAINTS = "constraints/constraints-3.3.2-py3.11.txt"

# Long-running Airflow services and the command each one runs.
AIRFLOW_SERVICES = {
    "airflow-apiserver": ["airflow", "api-server"],
    "airflow-scheduler": ["airflow", "scheduler"],
    "airflow-dag-processor": ["airflow", "dag-processor"],
    "airflow-triggerer": ["airflow", "triggerer"],
    "airflow-worker": ["airflow", "celery", "worker"],
}
# Every container built from x-airflow-common.
ALL_AIRFLOW = {*AIRFLOW_SERVICES, "airflow-init", "airflow-cli"}
# contracts.md section 3; exchange_db is built by the compose file itself.
CONNECTIONS_IN_FILE = {"inbox_sftp", "pboc_sftp", "city_platform_sftp", "county_platform", "transport_api",
                       "pii_key", "airflow_api"}
OPTIONAL_CONNECTIONS = {"alert_webhook", "alert_smtp"}

_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


class MissingVariable(KeyError):
    pass


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's variable substitution: ``${X}``, ``${X:-default}``, ``${X:?error}``, ``$$`` → ``$``."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name, op, arg = m.group(1), m.group(2), m.group(3)
        current = env.get(name)
        unset_or_empty = current is None or (current == "" and op is not None and op.startswith(":"))
        if op and op.endswith("?") and unset_or_empty:
            raise MissingVariable(f"{name}: {arg}")
        if op and op.endswith("-") and unset_or_empty:
            return arg
        return current or ""

    return _VAR.sub(one, value)


def read_env_file(path: Any) -> dict[str, str]:
    """KEY=value lines (single-quoted values literal, as compose reads them)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def example_env() -> dict[str, str]:
    """docker/.env.example with every empty secret filled in, as an admin would."""
    env = read_env_file(ENV_EXAMPLE)
    return {k: (v or f"generated-{k.lower()}") for k, v in env.items()}


@pytest.fixture(scope="module")
def config(raw: dict[str, Any], example_env: dict[str, str]) -> dict[str, Any]:
    """The compose file as ``docker compose config`` would print it, with the example values."""
    return interpolate(raw, example_env)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    assert isinstance(env, dict), "environment must be a mapping (the anchors merge mappings only)"
    return {k: str(v) for k, v in env.items()}


# -- the shape ------------------------------------------------------------------------------------

def test_the_official_services_are_all_there(config: dict[str, Any]) -> None:
    services = config["services"]
    assert {"postgres", "redis", "db-init", *ALL_AIRFLOW} <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        assert services[name]["command"] == command, name
        assert services[name].get("restart") == "always", name
    for one_shot in ("airflow-init", "db-init"):
        assert services[one_shot].get("restart") == "no"
    assert services["airflow-cli"]["profiles"] == ["debug"]


def test_every_airflow_container_shares_one_environment(config: dict[str, Any]) -> None:
    common_env = _env(config["x-airflow-common"])
    assert len(common_env) >= 15
    for name in ALL_AIRFLOW:
        service = config["services"][name]
        env = _env(service)
        differing = {k for k, v in common_env.items() if env.get(k) != v}
        assert not differing, f"{name} differs from x-airflow-common in {sorted(differing)}"
        for key in ("image", "build", "env_file", "volumes", "user"):
            assert service[key] == config["services"]["airflow-scheduler"][key], f"{name}: {key}"


def test_the_common_environment_is_a_celery_cluster_on_postgres_and_redis(config: dict[str, Any]) -> None:
    env = _env(config["services"]["airflow-worker"])
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
    assert broker.scheme == "redis" and broker.hostname == "redis" and broker.password
    backend = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
    # With the driver named: a bare db+postgresql makes SQLAlchemy load psycopg 3, which the image lacks.
    assert backend.scheme == "db+postgresql+psycopg2" and backend.hostname == "postgres"
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert metadata.scheme == "postgresql+psycopg2" and metadata.hostname == "postgres"
    assert backend.path == metadata.path == "/airflow"
    execution = urlsplit(env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])
    assert (execution.hostname, execution.port, execution.path) == ("airflow-apiserver", 8080, "/execution/")
    assert "8080" in config["services"]["airflow-apiserver"]["ports"][0].split(":")[-1]
    assert env["AIRFLOW__CORE__DEFAULT_TIMEZONE"] == "Asia/Shanghai"
    assert env["TZ"] == "Asia/Shanghai"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"].lower() == "false"


def test_jwt_secret_fernet_key_and_api_secret_come_from_the_env_file(raw: dict[str, Any]) -> None:
    env = _env(raw["x-airflow-common"])
    for key, var in {"AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
                     "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
                     "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY"}.items():
        assert re.fullmatch(r"\$\{" + var + r":\?[^}]+\}", env[key]), f"{key} must be a required ${{{var}}}"


def test_compose_refuses_to_start_without_the_secrets(raw: dict[str, Any], example_env: dict[str, str]) -> None:
    for var in ("AIRFLOW_JWT_SECRET", "AIRFLOW_FERNET_KEY", "POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD",
                "HUB_DB_PASSWORD", "REDIS_PASSWORD", "HUB_ADMIN_PASSWORD"):
        with pytest.raises(MissingVariable, match=var):
            interpolate(raw, {k: v for k, v in example_env.items() if k != var})
        with pytest.raises(MissingVariable, match=var):
            interpolate(raw, {**example_env, var: ""})


def test_every_variable_the_compose_file_reads_is_in_the_env_example() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    used = {m.group(1) for m in _VAR.finditer(text) if m.group(1)}
    documented = set(read_env_file(ENV_EXAMPLE))
    # Variables of the shell scripts inside the containers are written $${...} and are not compose's.
    assert used - documented == set()
    assert documented - used == set(), "unused variables in .env.example"


def test_services_start_in_order_and_report_health(config: dict[str, Any]) -> None:
    services = config["services"]
    health = {
        "airflow-apiserver": "/api/v2/monitor/health",
        "airflow-scheduler": ":8974/health",
        "airflow-dag-processor": "DagProcessorJob",
        "airflow-triggerer": "TriggererJob",
        "airflow-worker": "inspect ping",
        "postgres": "pg_isready",
        "redis": "redis-cli",
    }
    for name, needle in health.items():
        assert needle in " ".join(services[name]["healthcheck"]["test"]), name
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy", name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == "service_healthy"
    assert services["airflow-init"]["depends_on"]["db-init"]["condition"] == "service_completed_successfully"
    assert services["db-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["airflow-worker"]["environment"]["DUMB_INIT_SETSID"] == "0"
    init = services["airflow-init"]["command"][-1]
    assert "airflow db migrate" in init
    # The store's migration and the pools, in that order, before any task runs; the pools file is in the image.
    assert init.index("airflow db migrate") < init.index("python -m credit_exchange.store migrate") < init.index(
        "airflow pools import /opt/hub/config/pools.json")
    assert "COPY --chown=root:0 config/ config/" in (REPO / "docker" / "Dockerfile").read_text()


# -- connections and the hub's store -------------------------------------------------------------

def test_triggerer_and_workers_get_the_same_connections_file(config: dict[str, Any]) -> None:
    services = config["services"]
    files = {name: services[name]["env_file"] for name in ALL_AIRFLOW}
    assert files["airflow-triggerer"] == files["airflow-worker"] == ["connections.env"]
    assert len({tuple(f) for f in files.values()}) == 1, files
    for name in ("postgres", "redis", "db-init"):
        assert "env_file" not in services[name], f"{name} must not see the connections"


def test_the_connections_example_covers_every_contract_connection() -> None:
    conns = {k.removeprefix("AIRFLOW_CONN_").lower(): json.loads(v)
             for k, v in read_env_file(CONNECTIONS_EXAMPLE).items() if k.startswith("AIRFLOW_CONN_")}
    assert set(conns) == CONNECTIONS_IN_FILE
    commented = re.findall(r"^#AIRFLOW_CONN_([A-Z_]+)='(.*)'$", CONNECTIONS_EXAMPLE.read_text(encoding="utf-8"),
                           re.MULTILINE)
    assert {name.lower() for name, _ in commented} == OPTIONAL_CONNECTIONS
    for _, value in commented:
        json.loads(value)
    for conn_id, conn in conns.items():
        if conn["conn_type"] == "sftp":
            # Host keys are always pinned (contracts.md 3); key files live in the mounted secrets folder.
            assert conn["extra"]["host_key"].startswith("ssh-ed25519 "), conn_id
            assert conn["extra"]["key_file"].startswith("/opt/hub/secrets/"), conn_id
        if conn_id == "airflow_api":
            # Airflow's own API server, on the compose network (the audit log of admin actions).
            assert conn["host"] == "http://airflow-apiserver:8080" and conn["login"], conn
            continue
        if conn["conn_type"] == "http":
            assert conn["host"].startswith("https://"), conn_id
            assert {"app_key", "app_secret"} <= set(conn["extra"]), conn_id
    assert conns["pii_key"]["conn_type"] == "generic"


def test_exchange_db_is_the_hub_database_not_airflows(config: dict[str, Any]) -> None:
    env = _env(config["services"]["airflow-triggerer"])
    store = urlsplit(env["AIRFLOW_CONN_EXCHANGE_DB"])
    metadata = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    assert (store.scheme, store.hostname, store.port, store.path) == ("postgresql", "postgres", 5432, "/hub")
    assert store.username == "hub" != metadata.username
    assert store.path != metadata.path
    script = config["services"]["db-init"]["command"][-1]
    for db in ("airflow", "hub"):
        assert f"CREATE DATABASE {db} OWNER {db}" in script
        assert f"ALTER ROLE {db} WITH LOGIN PASSWORD" in script


def test_the_exchange_page_permission_is_the_one_the_page_checks(config: dict[str, Any]) -> None:
    from credit_exchange.web.auth import RESOURCE_NAME

    assert f'"{RESOURCE_NAME}"' in config["services"]["airflow-init"]["command"][-1]


# -- secrets stay out of the repository ------------------------------------------------------------

_RANDOM = re.compile(r"[A-Za-z0-9_\-+/=]{20,}")


def test_no_secret_is_written_in_the_compose_file(raw: dict[str, Any]) -> None:
    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{path}.{k}")
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, f"{path}[{i}]")
        elif isinstance(node, str):
            # Everything after substitution references; what is left must hold no credentials.
            left = _VAR.sub("", node)
            assert not re.search(r"://[^/\s:@]*:[^@\s]+@", left), f"credentials written in {path}"
            if re.search(r"PASSWORD|SECRET|FERNET|_KEY\b|_CONN", path.upper()):
                tokens = [t for t in _RANDOM.findall(left) if not t.startswith(("postgresql", "airflow"))]
                assert not tokens, f"a secret-looking value in {path}: {tokens}"

    walk(raw, "")
    text = COMPOSE.read_text(encoding="utf-8")
    assert "airflow:airflow@" not in text and "POSTGRES_PASSWORD: airflow" not in text


def test_the_examples_hold_placeholders_only() -> None:
    for key, value in read_env_file(ENV_EXAMPLE).items():
        if re.search(r"(PASSWORD|_SECRET|_KEY)$", key):
            assert value == "", f"{key} must be empty in .env.example"
    for key, value in read_env_file(CONNECTIONS_EXAMPLE).items():
        conn = json.loads(value)
        secrets = [conn.get("password"), *(conn.get("extra", {}).get(k) for k in ("app_secret", "app_key"))]
        for secret in filter(None, secrets):
            assert secret.startswith("<") and secret.endswith(">"), f"{key}: not a placeholder"
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    # The generation commands are right there for the admin.
    assert "base64.urlsafe_b64encode(secrets.token_bytes(32))" in text
    assert "secrets.token_hex(32)" in text


def test_the_real_env_files_are_never_committed() -> None:
    ignored = (DOCKER / ".gitignore").read_text(encoding="utf-8").split()
    assert {".env", "connections.env", "secrets/"} <= set(ignored)
    if (REPO / ".git").exists():
        tracked = subprocess.run(["git", "ls-files", "docker"], cwd=REPO, check=True, capture_output=True,
                                 text=True).stdout.split()
        assert not {"docker/.env", "docker/connections.env"} & set(tracked)
        assert not [p for p in tracked if p.startswith("docker/secrets/")]


# -- the image --------------------------------------------------------------------------------------

def _dockerfile() -> list[str]:
    """Instructions with continuation lines joined, comments dropped."""
    lines, current = [], ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("#") and not current:
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            if current.strip():
                lines.append(current.strip())
            current = ""
    return lines


def test_images_are_built_from_the_project_dockerfile(config: dict[str, Any]) -> None:
    build = config["x-airflow-common"]["build"]
    assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE.resolve()
    assert (COMPOSE.parent / build["context"]).resolve() == REPO


def test_the_dockerfile_installs_the_project_with_the_committed_constraints() -> None:
    instructions = _dockerfile()
    pins = dict(line.split("==", 1) for line in (REPO / CONSTRAINTS).read_text(encoding="utf-8").splitlines()
                if "==" in line and not line.startswith("#"))
    base = next(i for i in instructions if i.startswith("ARG AIRFLOW_IMAGE="))
    assert base == f"ARG AIRFLOW_IMAGE=apache/airflow:{pins['apache-airflow']}-python3.11"
    assert any(i.startswith("FROM ${AIRFLOW_IMAGE}") for i in instructions)
    installs = [i for i in instructions if i.startswith("RUN pip install")]
    assert len(installs) == 1 and f"--constraint {CONSTRAINTS}" in installs[0]
    assert re.search(r"(--editable|-e) \.(\s|$)", installs[0])
    copied = {i.split()[-2].rstrip("/") for i in instructions if i.startswith("COPY")}
    assert {"dags", "plugins", "config", "schemas", "credit_exchange", "connectors", "hub_messages", "constraints",
            "pyproject.toml", "setup.py"} <= copied
    # Every package the project installs, but the stand-ins, is in the image and passes the dockerignore.
    import tomllib

    packages = {p.rstrip("*") for p in tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "tool"]["setuptools"]["packages"]["find"]["include"]} - {"sandbox"}
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    assert packages <= copied and all(f"!{p}/" in ignore for p in packages), packages
    # setup.py builds the C market XML reader: the image needs a compiler and libxml2's headers for it.
    assert any(i.startswith("RUN apt-get") and "gcc" in i and "libxml2-dev" in i for i in instructions)
    users = [i.split()[1] for i in instructions if i.startswith("USER ")]
    assert users[-1] not in {"root", "0"}, "the image must end as a non-root user"


def test_the_image_layout_matches_the_compose_settings(config: dict[str, Any]) -> None:
    workdirs = [i.split()[1] for i in _dockerfile() if i.startswith("WORKDIR ")]
    env = _env(config["services"]["airflow-dag-processor"])
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{workdirs[-1]}/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{workdirs[-1]}/plugins"
    assert env["HUB_CONFIG_DIR"] == f"{workdirs[-1]}/config"
    assert config["x-airflow-common"]["user"].split(":")[0] not in {"0", "root"}
    assert any(v.endswith(":/opt/hub/secrets:ro") for v in config["x-airflow-common"]["volumes"])


# -- the runbooks name what the code uses ------------------------------------------------------------

def _alert_kinds() -> set[str]:
    """Every alert kind the core raises: literals and module constants passed to raise_alert (or a wrapper)."""
    sources = [p.read_text(encoding="utf-8") for p in (REPO / "credit_exchange").rglob("*.py")]
    constants: dict[str, str] = {}
    for text in sources:
        constants.update(re.findall(r'^([A-Z_]+) = "([a-z_]+)"$', text, re.MULTILINE))
    kinds = set()
    for text in sources:
        # A module's own constant wins (pboc.py and transport.py both have an ALERT_REFUSED).
        local = constants | dict(re.findall(r'^([A-Z_]+) = "([a-z_]+)"$', text, re.MULTILINE))
        for literal, name in re.findall(r'(?:raise_alert|self\._alert)\(\s*\w+,\s*(?:"([a-z_]+)"|([A-Z_]+))', text):
            kinds.add(literal or local[name])
    return kinds


def test_the_runbook_explains_every_alert_and_dag() -> None:
    runbook = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    kinds = _alert_kinds()
    assert {"inbox_stuck", "pboc_pair_corrupt", "pboc_pair_refused", "transport_pull_refused"} <= kinds
    assert {k for k in kinds if f"`{k}`" not in runbook} == set()
    dag_ids = set()
    for path in (REPO / "dags").glob("*.py"):
        dag_ids |= set(re.findall(r'dag_id="([a-z_]+)"', path.read_text(encoding="utf-8")))
    from credit_exchange import config

    dag_ids |= {f"watch_{d}_inbox" for d in config.watched_inboxes()}  # generated from the config
    dag_ids |= {f"ingest_{d}" for d in config.departments()}
    assert len(dag_ids) >= 11
    assert {d for d in dag_ids if f"`{d}`" not in runbook} == set()


def test_the_deployment_guide_names_every_connection() -> None:
    guide = (DOCKER / "README.md").read_text(encoding="utf-8")
    for conn_id in CONNECTIONS_IN_FILE | OPTIONAL_CONNECTIONS | {"exchange_db"}:
        assert f"`{conn_id}`" in guide, conn_id
    assert "base64.urlsafe_b64encode(secrets.token_bytes(32))" in guide
    assert "do not show in the UI's connection list" in guide


# -- the compose file as Docker Compose itself reads it ------------------------------------------

CONFIG_CHECK_ENV = REPO / "docker" / "config-check.env"


def _compose_config(tmp_path: Any, env_file: Any) -> subprocess.CompletedProcess[str]:
    """``docker-compose config`` (Debian's 1.29: no engine needed) on a copy of docker/ with the
    connections file made from its example (the real one is never committed)."""
    import shutil

    folder = tmp_path / "docker"
    shutil.copytree(REPO / "docker", folder)
    shutil.copy(CONNECTIONS_EXAMPLE, folder / "connections.env")
    return subprocess.run(["docker-compose", "-f", str(folder / "docker-compose.yaml"), "--env-file", str(env_file),
                           "config"], capture_output=True, text=True, check=False, timeout=120, cwd=folder)


def test_docker_compose_validates_the_file_with_the_check_values(tmp_path: Any) -> None:
    done = _compose_config(tmp_path, CONFIG_CHECK_ENV)
    assert done.returncode == 0, done.stderr[-3000:]
    resolved = yaml.safe_load(done.stdout)
    assert {"postgres", "redis", "airflow-scheduler", "airflow-worker", "airflow-triggerer"} <= set(resolved["services"])
    scheduler = resolved["services"]["airflow-scheduler"]["environment"]
    assert scheduler["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # The check values are placeholders, said to be so; nothing secret is committed.
    for key, value in read_env_file(CONFIG_CHECK_ENV).items():
        if re.search(r"(PASSWORD|_SECRET|_KEY)$", key):
            assert value == "not-a-secret-config-check-only", key
    assert set(read_env_file(CONFIG_CHECK_ENV)) == set(read_env_file(ENV_EXAMPLE))


def test_docker_compose_refuses_the_example_until_its_secrets_are_filled_in(tmp_path: Any) -> None:
    done = _compose_config(tmp_path, ENV_EXAMPLE)
    assert done.returncode != 0
    assert "in docker/.env" in done.stderr  # the message says where the value belongs

"""Start, stop and describe the cluster profile: `python cluster/cluster.py up|down|status|env`.

Postgres (Dagster's run, event-log and schedule storage), RabbitMQ (the Celery broker), the
dagster-daemon, Celery workers and the webserver run as plain processes whose data, logs and pid
files live in one project-local folder, `$POPPY_CLUSTER_DIR` (default `.cluster`): no system
service is started and no system-wide configuration is changed. Everything listens on 127.0.0.1.

Secrets come from the environment (`POPPY_PG_PASSWORD`, `POPPY_AMQP_PASSWORD`); when unset, random
ones are generated once and kept in `<cluster dir>/secrets.env` (mode 600). `env` prints the
variables a shell needs to use the cluster (`eval "$(python cluster/cluster.py env)"`).
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cluster_processes import STARTUP_SECONDS, ClusterError, pid_of, spawn, stop, wait_for_http, wait_for_port

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BIN = Path(sys.executable).parent
RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"  # Debian's, without the wrapper that switches user
INSTALL_HINT = "sudo apt-get install postgresql rabbitmq-server"

DEFAULTS = {
    "POPPY_CLUSTER_DIR": str(REPO / ".cluster"),
    "POPPY_PG_HOST": "127.0.0.1",
    "POPPY_PG_PORT": "55432",
    "POPPY_PG_USER": "poppy",
    "POPPY_PG_DB": "dagster",
    "POPPY_AMQP_PORT": "55672",
    "POPPY_AMQP_USER": "poppy",
    "POPPY_AMQP_DIST_PORT": "55673",
    "POPPY_EPMD_PORT": "54369",
    "POPPY_CLUSTER_UI_PORT": "3001",
    "POPPY_CELERY_WORKERS": "2",
    "POPPY_BACKFILL_DAYS_PER_RUN": "7",
    "POPPY_DEQUEUE_SECONDS": "5",  # how often the daemon starts queued runs (Dagster's default)
    "POPPY_DAEMON_PASS_SECONDS": "",  # the backfill daemon's pass when set (cluster/daemon.py); else 30 s
    "POPPY_DATA_DIR": str(REPO / "data" / "outputs"),
}
SECRETS = ("POPPY_PG_PASSWORD", "POPPY_AMQP_PASSWORD")


def settings() -> dict[str, str]:
    """The cluster's environment: defaults, overridden by the caller's environment, plus derived values."""
    env = {key: os.environ.get(key) or value for key, value in DEFAULTS.items()}
    folder = Path(env["POPPY_CLUSTER_DIR"]).resolve()
    env["POPPY_CLUSTER_DIR"] = str(folder)
    env["POPPY_DATA_DIR"] = str(Path(env["POPPY_DATA_DIR"]).resolve())
    env.update(_secrets(folder))
    env["DAGSTER_HOME"] = str(folder / "dagster_home")
    env["POPPY_CELERY_BROKER_URL"] = (
        f"amqp://{env['POPPY_AMQP_USER']}:{env['POPPY_AMQP_PASSWORD']}@127.0.0.1:{env['POPPY_AMQP_PORT']}//"
    )
    return env


def _secrets(folder: Path) -> dict[str, str]:
    stored_file = folder / "secrets.env"
    stored = {}
    if stored_file.exists():
        stored = dict(line.split("=", 1) for line in stored_file.read_text().split() if "=" in line)
    values = {name: os.environ.get(name) or stored.get(name) or secrets.token_hex(16) for name in SECRETS}
    if any(values[name] != stored.get(name) and not os.environ.get(name) for name in SECRETS):
        folder.mkdir(parents=True, exist_ok=True)
        stored_file.touch(mode=0o600)
        stored_file.write_text("".join(f"{name}={values[name]}\n" for name in SECRETS if not os.environ.get(name)))
    return values


def require_system_packages() -> None:
    needed = {"postgresql": _pg_bin("initdb"), "rabbitmq-server": RABBITMQ_SERVER}
    missing = [name for name, path in needed.items() if not path or not os.path.exists(path)]
    if missing:
        raise ClusterError(f"{' and '.join(missing)} not installed; install with: {INSTALL_HINT}")


def _pg_bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else shutil.which(name)


# --- Postgres ----------------------------------------------------------------------------------


def _pg_user() -> list[str]:
    """Postgres refuses to run as root: as root, run it as the unprivileged `postgres` user."""
    if os.geteuid() != 0:
        return []
    user = os.environ.get("POPPY_PG_OS_USER", "postgres")
    return ["runuser", "-u", user, "--"]


def _pg_paths(env: dict[str, str]) -> tuple[Path, Path]:
    base = Path(env["POPPY_CLUSTER_DIR"]) / "postgres"
    return base / "data", base / "server.log"


def postgres_up(env: dict[str, str]) -> None:
    data, log = _pg_paths(env)
    as_user = _pg_user()
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        password_file = data.parent / "initdb.pw"
        password_file.write_text(env["POPPY_PG_PASSWORD"] + "\n")
        if as_user:
            owner = pwd.getpwnam(as_user[2])
            for path in (data.parent, data, password_file):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        password_file.chmod(0o600)
        try:
            _run([*as_user, _pg_bin("initdb"), "-D", str(data), "-U", env["POPPY_PG_USER"], "--pwfile",
                  str(password_file), "--auth=scram-sha-256", "-E", "UTF8", "--no-instructions"])  # fmt: skip
        finally:
            password_file.unlink(missing_ok=True)
    if not pg_running(env):
        options = f"-p {env['POPPY_PG_PORT']} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
        _run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t",
              str(int(STARTUP_SECONDS)), "start"])  # fmt: skip
    _create_database(env)


def pg_running(env: dict[str, str]) -> bool:
    data, _ = _pg_paths(env)
    as_user = _pg_user()
    return subprocess.run([*as_user, _pg_bin("pg_ctl"), "-D", str(data), "status"], capture_output=True).returncode == 0


def postgres_down(env: dict[str, str]) -> None:
    data, _ = _pg_paths(env)
    if (data / "PG_VERSION").exists() and pg_running(env):
        _run([*_pg_user(), _pg_bin("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])


def _create_database(env: dict[str, str]) -> None:
    import psycopg2

    connection = psycopg2.connect(
        host=env["POPPY_PG_HOST"],
        port=env["POPPY_PG_PORT"],
        user=env["POPPY_PG_USER"],
        password=env["POPPY_PG_PASSWORD"],
        dbname="postgres",
    )
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (env["POPPY_PG_DB"],))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{env["POPPY_PG_DB"]}"')
    connection.close()


def _run(argv: list[str | None]) -> None:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True)
    if result.returncode != 0:
        raise ClusterError(f"{' '.join(map(str, argv))} failed:\n{result.stdout}{result.stderr}")


# --- RabbitMQ ----------------------------------------------------------------------------------


def _rabbitmq_env(env: dict[str, str]) -> dict[str, str]:
    base = Path(env["POPPY_CLUSTER_DIR"]) / "rabbitmq"
    return {
        "HOME": str(base),  # the Erlang cookie goes here, not into the user's home
        "RABBITMQ_NODENAME": "poppy@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": env["POPPY_AMQP_PORT"],
        "RABBITMQ_DIST_PORT": env["POPPY_AMQP_DIST_PORT"],
        "ERL_EPMD_PORT": env["POPPY_EPMD_PORT"],
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
        "RABBITMQ_MNESIA_BASE": str(base / "mnesia"),
        "RABBITMQ_LOG_BASE": str(base / "log"),
        "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(base / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(base / "rabbitmq.pid"),
    }


def rabbitmq_start(env: dict[str, str]) -> None:
    """Start RabbitMQ without waiting for it (its Erlang VM boots while Postgres and Dagster start)."""
    rabbit = _rabbitmq_env(env)
    base = Path(rabbit["HOME"])
    for sub in ("mnesia", "log"):
        (base / sub).mkdir(parents=True, exist_ok=True)
    config = Path(rabbit["RABBITMQ_CONFIG_FILE"])
    config.touch(mode=0o600)
    # The default user is created on the first start only (an empty database).
    config.write_text(
        f"listeners.tcp.1 = 127.0.0.1:{env['POPPY_AMQP_PORT']}\n"
        f"default_user = {env['POPPY_AMQP_USER']}\n"
        f"default_pass = {env['POPPY_AMQP_PASSWORD']}\n"
        # A step may run for long; keep its unacknowledged message for up to an hour.
        "consumer_timeout = 3600000\n"
    )
    Path(rabbit["RABBITMQ_ADVANCED_CONFIG_FILE"]).write_text("[].\n")
    Path(rabbit["RABBITMQ_CONF_ENV_FILE"]).write_text("")
    Path(rabbit["RABBITMQ_ENABLED_PLUGINS_FILE"]).write_text("[].\n")
    spawn(env, "rabbitmq", [RABBITMQ_SERVER], rabbit)


def rabbitmq_down(env: dict[str, str]) -> None:
    stop(env, "rabbitmq")
    # The Erlang port mapper it started (on the cluster's own port) outlives it.
    subprocess.run(["epmd", "-port", env["POPPY_EPMD_PORT"], "-kill"], capture_output=True)


# --- Dagster -----------------------------------------------------------------------------------


def dagster_up(env: dict[str, str]) -> None:
    home = Path(env["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "dagster.yaml", home / "dagster.yaml")
    Path(env["POPPY_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    workspace = str(HERE / "workspace.yaml")
    daemon = (
        [sys.executable, str(HERE / "daemon.py")] if env["POPPY_DAEMON_PASS_SECONDS"] else [str(BIN / "dagster-daemon")]
    )
    spawn(env, "daemon", [*daemon, "run", "-w", workspace])
    # What `dagster-celery worker start -A dagster_celery.app` runs, with the settings of
    # cluster/dagster_celery_config.py and the code location loaded at start (cluster/poppy_worker.py);
    # one step at a time per worker.
    for number in range(1, int(env["POPPY_CELERY_WORKERS"]) + 1):
        spawn(env, f"worker{number}",
              [str(BIN / "celery"), "-A", "poppy_worker", "worker", "-n", f"worker{number}@%h", "-Q", "dagster",
               "--concurrency", "1", "--prefetch-multiplier", "1", "--loglevel", "INFO",
               # No worker-to-worker chatter: at start (mingle), nor after (gossip, event heartbeats).
               "--without-mingle", "--without-gossip", "--without-heartbeat"],
              {"PYTHONPATH": str(HERE)})  # fmt: skip
    port = env["POPPY_CLUSTER_UI_PORT"]
    spawn(env, "webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", port, "-w", workspace])
    wait_for_http(f"http://127.0.0.1:{port}/server_info", Path(env["POPPY_CLUSTER_DIR"]) / "logs" / "webserver.log")


def dagster_names(env: dict[str, str]) -> list[str]:
    return ["webserver", "daemon", *(f"worker{n}" for n in range(1, int(env["POPPY_CELERY_WORKERS"]) + 1))]


# --- commands ----------------------------------------------------------------------------------


def up() -> dict[str, str]:
    require_system_packages()
    env = settings()
    rabbitmq_start(env)
    postgres_up(env)
    dagster_up(env)  # the workers connect to the broker once it listens
    wait_for_port(int(env["POPPY_AMQP_PORT"]), "RabbitMQ", Path(env["POPPY_CLUSTER_DIR"]) / "logs" / "rabbitmq.log")
    print(f"cluster up: UI http://127.0.0.1:{env['POPPY_CLUSTER_UI_PORT']}, files in {env['POPPY_DATA_DIR']},")
    print(f'  logs in {env["POPPY_CLUSTER_DIR"]}/logs; CLI: eval "$(python cluster/cluster.py env)"')
    return env


def down() -> None:
    env = settings()
    stop(env, *dagster_names(env))
    with ThreadPoolExecutor() as pool:  # independent of each other once Dagster's processes are gone
        list(pool.map(lambda stop_server: stop_server(env), [rabbitmq_down, postgres_down]))
    print("cluster down")


def status() -> None:
    env = settings()
    for name in [*dagster_names(env), "rabbitmq"]:
        print(f"{name:10} {'running, pid ' + str(pid_of(env, name)) if pid_of(env, name) else 'stopped'}")
    print(f"{'postgres':10} {'running' if pg_running(env) else 'stopped'}")


def print_env() -> None:
    env = settings()
    for key in [*DEFAULTS, *SECRETS, "DAGSTER_HOME", "POPPY_CELERY_BROKER_URL"]:
        print(f"export {key}='{env[key]}'")


def main(argv: list[str]) -> int:
    commands = {"up": up, "down": down, "status": status, "env": print_env}
    if len(argv) != 2 or argv[1] not in commands:
        print(f"usage: {argv[0]} {'|'.join(commands)}", file=sys.stderr)
        return 2
    try:
        commands[argv[1]]()
    except ClusterError as error:
        print(f"cluster {argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

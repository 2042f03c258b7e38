"""The hosts of the inventory under test, as a user sees them.

The inventory is Molecule's (MOLECULE_INVENTORY_FILE, set by `molecule verify`) or any other with the
groups ftp_servers and ftp_clients (FTP_INVENTORY, e.g. inventories/lab). Every check runs its FTP
client on a client host, never on the server itself.
"""

import functools
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass

import pytest
import testinfra

ROOT = pathlib.Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"


def inventory_path():
    molecule = os.environ.get("MOLECULE_INVENTORY_FILE")
    if molecule:
        # The folder, so that the group_vars beside the file are read too.
        return str(pathlib.Path(molecule).parent)
    return os.environ.get("FTP_INVENTORY", str(ROOT / "inventories" / "lab"))


@functools.cache
def inventory():
    out = subprocess.run(
        ["ansible-inventory", "-i", inventory_path(), "--list"],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out)


def group(name):
    return inventory().get(name, {}).get("hosts", [])


def hostvars(name):
    return inventory()["_meta"]["hostvars"].get(name, {})


def settings_dir():
    """Where the converge wrote each server's settings (tests/e2e/settings.yml): the scenario's
    ephemeral directory under Molecule; for another inventory, the folder this run wrote them into."""
    molecule = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if molecule:
        return pathlib.Path(molecule) / "settings"
    return pathlib.Path(os.environ["E2E_SETTINGS_DIR"])


def write_settings(folder):
    """Ask Ansible for every server's settings (the play converge.yml ends with), into folder."""
    rc, output = ansible_playbook(ROOT / "tests" / "e2e" / "settings.yml", "-e",
                                  json.dumps({"e2e_settings_dir": str(folder)}))
    if rc != 0:
        raise pytest.UsageError(f"could not learn the servers' settings from Ansible:\n{output[-3000:]}")


@functools.cache
def role_settings(host):
    """The host's ftp_server_*, host_firewall_* and sql_server_* settings (and the FTP role's internals
    the checks read) as Ansible resolved them for the converge: tests/e2e/settings.yml."""
    return json.loads((settings_dir() / f"{host}.json").read_text())


@functools.cache
def node(name):
    """The host as testinfra reaches it: as Ansible does, but over one kept connection."""
    settings = hostvars(name)
    if settings.get("ansible_connection", "").endswith("podman"):
        return testinfra.get_host(f"podman://{name}")
    args = shlex.split(settings.get("ansible_ssh_common_args", ""))
    if "-F" in args:
        # Molecule's hosts (molecule/shared/prepare.yml): plain ssh with their config file.
        return testinfra.get_host(f"ssh://{name}", ssh_config=args[args.index("-F") + 1], controlpersist=120)
    return testinfra.get_host(f"ansible://{name}", ansible_inventory=inventory_path(), force_ansible=True)


def ipv4(host):
    """A host's IPv4 address, read afresh: a restarted container may get a new one."""
    return host.check_output("ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")


def ipv6(host):
    """A host's global IPv6 address, or "" on a network without IPv6."""
    return host.check_output("ip -6 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n1")


FAMILIES = ["ipv4", "ipv6"]


def address_in(server, client, family):
    """The server's address in the family (FAMILIES); a skip where client or server has no IPv6 address
    (the IPv6 variants are deselected on a server without an IPv6 route: pytest_collection_modifyitems)."""
    if family == "ipv4":
        return server.address
    address = server.address6
    if not (address and client.address6):
        pytest.skip(f"{client.name if address else server.name} has no global IPv6 address")
    return address


TOOL_ON = set()   # hosts that have ftp_client.py (in /var/tmp: it outlives a restart, /tmp may not)


def tool_command(node, *args):
    """The command line of playbooks/files/ftp_client.py on a host (put there once, with the audit's
    client it imports)."""
    host = node.check_output("hostname")
    if host not in TOOL_ON:
        for name in ("ftp_client.py", "ftp_audit.py"):
            text = (ROOT / "playbooks" / "files" / name).read_text()
            assert node.run(f'printf "%s" {shlex.quote(text)} > /var/tmp/{name}').rc == 0
        TOOL_ON.add(host)
    return "python3 /var/tmp/ftp_client.py " + " ".join(shlex.quote(str(a)) for a in args)


def tool(node, *args):
    """Run ftp_client.py on a host and parse its JSON output."""
    result = node.run(tool_command(node, *args))
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


@dataclass
class Server:
    name: str
    node: object
    settings: dict

    @property
    def address(self):
        return ipv4(self.node)

    @property
    def address6(self):
        return ipv6(self.node)

    @property
    def passive_range(self):
        return range(self.settings["ftp_server_pasv_min_port"], self.settings["ftp_server_pasv_max_port"] + 1)


@dataclass
class Client:
    name: str
    node: object
    user: str
    password: str

    @property
    def address(self):
        return ipv4(self.node)

    @property
    def address6(self):
        return ipv6(self.node)

    def run(self, script, **env):
        """Run a shell script on the client, with env passed as shell variables."""
        assigns = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in env.items())
        return self.node.run(f"{assigns} bash -c {shlex.quote(script)}" if assigns else f"bash -c {shlex.quote(script)}")

    def tool_command(self, *args):
        return tool_command(self.node, *args)

    def tool(self, *args):
        """Run ftp_client.py on the client and parse its JSON output."""
        result = self.node.run(self.tool_command(*args))
        assert result.rc == 0, result.stderr
        return json.loads(result.stdout)

    def session(self, host, *commands, user=None, password=None, **options):
        """ftp_client.py run: one login (this client's account unless told), then each command;
        options are its flags (ca=..., active=True, size=12345)."""
        args = ["run", host, "--user", user or self.user, "--password", self.password if password is None else password]
        for key, value in options.items():
            flag = "--" + key.replace("_", "-")
            args += [flag] if value is True else [flag, value]
        for command in commands:
            args += ["-c", command]
        return self.tool(*args)


def pytest_generate_tests(metafunc):
    if "server_name" in metafunc.fixturenames:
        metafunc.parametrize("server_name", group("ftp_servers"), scope="session")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config):
    """`-n auto`: a worker per server, as the checks are grouped per server (below)."""
    return max(1, len(group("ftp_servers")))


# Which checks a run holds: pytest markers, read by pytest_collection_modifyitems below, which deselects
# the rest (a skip is left for what the environment lacks, and says what).
MARKERS = [
    "scenario(*names, general=False): only in these Molecule scenarios (with general=True: in them too)",
    "when(*predicates, **settings): only on servers whose settings (role_settings) match: a value, one of "
    "a tuple, a truth value for True/False, or a predicate",
    "first_server: only on the scenario's first server (group ftp_servers): checks that converge or run from "
    "the controller, once per scenario",
    "reboot: restarts the host; runs after the host's other checks",
]
SCENARIOS = {path.parent.name for path in (ROOT / "molecule").glob("*/molecule.yml")}
# Scenarios built for one subject run only the checks whose scenario marker names them: nat (its servers
# sit behind a router; the rest of the suite assumes one flat network), tls (FTPS required; the rest logs
# in in cleartext), lockout (its checks lock its one server out on purpose), acme (its CA runs on the
# client; certificates from it and from files). The other scenarios, and a
# run on another inventory (FTP_INVENTORY), are general: every check not marked for named scenarios only.
DEDICATED = {"nat", "tls", "lockout", "acme"}
# Modules routed here until they carry their own marker (pytestmark = pytest.mark.scenario("lockout")).
def scenario_name():
    """The Molecule scenario under test (Molecule exports it to the verifier); None on another inventory."""
    return os.environ.get("MOLECULE_SCENARIO_NAME") or None


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    if hasattr(config, "workerinput") or config.option.help:
        return   # an xdist worker: the main process has the settings written already
    if os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"):
        servers = group("ftp_servers")
        if not all((settings_dir() / f"{name}.json").exists() for name in servers):
            write_settings(settings_dir())   # a scenario converged before converge.yml wrote them
    elif not os.environ.get("E2E_SETTINGS_DIR"):
        # Another inventory: asked once per run (xdist's workers inherit the folder), removed at its end.
        os.environ["E2E_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="e2e-settings-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("E2E_SETTINGS_DIR"), ignore_errors=True))
        write_settings(settings_dir())


def holds(expected, value):
    if callable(expected):
        return bool(expected(value))
    if isinstance(expected, (tuple, list, set)):
        return value in expected
    if isinstance(expected, bool):
        return bool(value) == expected
    return value == expected


def belongs(item, scenario):
    """Whether the check is one this run holds (see MARKERS)."""
    mark = item.get_closest_marker("scenario")
    if mark:
        unknown = set(mark.args) - SCENARIOS
        if unknown or not mark.args:
            raise pytest.UsageError(f"{item.nodeid}: pytest.mark.scenario names no scenario of molecule/: {unknown}")
        if scenario not in mark.args and not (mark.kwargs.get("general") and scenario not in DEDICATED):
            return False
    elif scenario in DEDICATED:
        return False
    spec = getattr(item, "callspec", None)
    server = spec.params.get("server_name") if spec else None
    if item.get_closest_marker("first_server") or item.get_closest_marker("when"):
        if server is None:
            raise pytest.UsageError(f"{item.nodeid}: first_server and when need a check of one server (server_name)")
        if item.get_closest_marker("first_server") and server != group("ftp_servers")[0]:
            return False
    if server is None:
        return True
    settings = role_settings(server)
    for mark in item.iter_markers("when"):
        if not (all(predicate(settings) for predicate in mark.args)
                and all(holds(expected, settings[key]) for key, expected in mark.kwargs.items())):
            return False
    # The IPv6 variant of a check, on a server (and so a network) without IPv6.
    return spec.params.get("family") != "ipv6" or bool(settings["ansible_default_ipv6"])


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(config, items):
    """The checks this scenario holds (MARKERS); the others are deselected, not skipped.

    Under xdist's --dist loadgroup, servers are checked side by side and each server's checks one
    after another: they share its per-address limits, its service and its firewall. A check that is not
    about one server_name names its group itself (pytest.mark.xdist_group). Restarts go last, after
    pytest's own reordering: the host comes back fresh, as after a reboot."""
    scenario = scenario_name()
    kept = [item for item in items if belongs(item, scenario)]
    if len(kept) < len(items):
        chosen = set(map(id, kept))
        config.hook.pytest_deselected(items=[item for item in items if id(item) not in chosen])
        items[:] = kept
    for item in items:
        spec = getattr(item, "callspec", None)
        if not item.get_closest_marker("xdist_group") and spec and "server_name" in spec.params:
            item.add_marker(pytest.mark.xdist_group(spec.params["server_name"]))
    yield
    items.sort(key=lambda item: item.get_closest_marker("reboot") is not None)


@pytest.fixture(scope="session")
def server(server_name):
    return Server(server_name, node(server_name), role_settings(server_name))


@pytest.fixture(scope="session")
def client():
    clients = group("ftp_clients")
    assert clients, f"inventory {inventory_path()} has no host in group ftp_clients"
    name = clients[0]
    settings = hostvars(name)
    return Client(name, node(name), settings["ftp_client_user"], settings["ftp_client_password"])


def ansible_playbook(playbook, *args, cwd=ROOT, env=None):
    """Run ansible-playbook on the inventory under test; stdout and stderr together."""
    result = subprocess.run(
        ["ansible-playbook", "-i", inventory_path(), str(playbook), *args],
        cwd=cwd, env=env, capture_output=True, text=True,
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture
def outside(tmp_path):
    """Run a playbook (YAML text) from a folder outside the repo, as a reuser would.

    Only ANSIBLE_ROLES_PATH points into the repo (or the ANSIBLE_* settings given as keywords): no
    ansible.cfg, no library path, no other ANSIBLE_* setting. Returns (exit code, output).
    """

    def run(playbook, *args, **settings):
        (tmp_path / "play.yml").write_text(playbook)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "MOLECULE_"))}
        env.update(settings or {"ANSIBLE_ROLES_PATH": str(ROLES)})
        env["ANSIBLE_HOST_KEY_CHECKING"] = "False"
        return ansible_playbook(tmp_path / "play.yml", *args, cwd=tmp_path, env=env)

    return run


def restart(server):
    """Restart the server's container as a host reboots; return once it is up and its FTP daemon listens."""
    subprocess.run(["podman", "restart", server.name], check=True, capture_output=True)
    port = server.settings["ftp_server_control_port"]
    for _ in range(120):
        try:
            state = server.node.run("systemctl is-system-running").stdout.strip()
            listening = any(server.node.socket(f"tcp://{a}:{port}").is_listening for a in ("0.0.0.0", "::"))
            if state in ("running", "degraded") and listening:
                return
        except RuntimeError:
            pass   # testinfra's ssh: no SSH yet while the host boots
        time.sleep(0.5)
    raise AssertionError(f"{server.name} is not back with its FTP daemon listening 60 s after a restart")


@dataclass
class Sample:
    path: str
    digest: str


def random_file(client, path, size):
    """Write `size` (head -c syntax: 5M) random bytes to path on the client; a Sample with its sha256."""
    client.run(f"head -c {size} /dev/urandom > {path}")
    return Sample(path, client.node.check_output(f"sha256sum {path}").split()[0])


def empty_sets(server, *names):
    """Empty sets of the firewall's table (meters and caps a check has filled, or must start from)."""
    table = server.settings["host_firewall_table"]
    server.node.run("; ".join(f"nft flush set inet {table} {name} 2>/dev/null" for name in names) + "; true")


def uploads_of(server, name):
    """The xferlog's uploads to upload/NAME, oldest first, each as (bytes, completion: c or i)."""
    log = server.node.file(server.settings["ftp_server_xferlog"]).content_string
    # xferlog: weekday month day time year seconds client bytes path type action direction ... completion
    return [(int(f[7]), f[-1]) for f in (line.split() for line in log.splitlines())
            if len(f) > 11 and f[8].endswith(f"/upload/{name}") and f[11] == "i"]


ELEMENTS = re.compile(r"\n\s*elements = \{[^}]*\}")


def nft_table(server):
    """The live firewall table as nft prints it, without the elements of its sets: the per-source meters
    and the bans change with traffic, not with the ruleset (the module leaves them out too)."""
    return ELEMENTS.sub("", server.node.check_output(f"nft list table inet {server.settings['host_firewall_table']}"))


RECAP_LINE = re.compile(r"^(\S+)\s*:\s+((?:\w+=\d+\s*)+)$", re.M)


def recap(output):
    """PLAY RECAP counters per host: {'host': {'ok': 3, 'changed': 0, ...}}."""
    tail = output.split("PLAY RECAP", 1)[-1]
    return {
        host: {k: int(v) for k, v in (pair.split("=") for pair in counters.split())}
        for host, counters in RECAP_LINE.findall(tail)
    }

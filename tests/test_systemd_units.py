"""The systemd units in systemd/: systemd-analyze finds nothing to say, the services are
hardened (exposure at most 2.0), the daemon and the timer variant share one sandbox, and
the web application shares it too, reaching only localhost.

``systemd-analyze verify`` checks that every command a unit runs exists and is
executable. The units name /opt/zufiwatch/venv/bin/zufiwatch and /bin/kill, so the test
installs them as README.md says (into etc/systemd/system) into a scratch root that holds
a copy of the host's own units (the targets they order against) and executable stubs for
those commands, and runs ``systemd-analyze verify --root=<scratch>``. A control test
shows that the check is real: without the stub, verify fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS_DIR = ROOT / "systemd"
SERVICES = ("zufiwatch.service", "zufiwatch-crawl.service")
WEB = "zufiwatch-web.service"
UNITS = (*SERVICES, "zufiwatch-crawl.timer", WEB)
MAX_EXPOSURE = 2.0

SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
needs_systemd_analyze = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed (no systemd here)")

# Where the host keeps its units; the first of each real directory is copied.
HOST_UNIT_DIRS = ("usr/lib/systemd/system", "lib/systemd/system")
# Top-level symlinks of a merged /usr (bin -> usr/bin, ...), recreated in the scratch root.
MERGED_USR_LINKS = ("bin", "sbin", "lib", "lib64")
EXEC_KEYS = ("ExecStart", "ExecStartPre", "ExecStartPost", "ExecReload", "ExecStop",
             "ExecStopPost", "ExecCondition")


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = {**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"}
    return subprocess.run([SYSTEMD_ANALYZE, *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def directives(unit: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for every assignment of a unit file, in order."""
    section = ""
    found = []
    for raw in (UNITS_DIR / unit).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        assert not line.endswith("\\"), f"{unit}: continuation lines are not expected"
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def executables() -> set[str]:
    """The absolute paths of every command the units run."""
    paths = set()
    for unit in UNITS:
        for _, key, value in directives(unit):
            if key in EXEC_KEYS and value:
                paths.add(value.split()[0].lstrip("-@:+!"))
    return paths


def inside(root: Path, path: str) -> Path:
    """``path`` under ``root``, refusing anything that resolves outside of it."""
    target = root / path.lstrip("/")
    resolved = target.parent.resolve() / target.name
    assert resolved.is_relative_to(root.resolve()), f"{path} would leave the scratch root"
    return resolved


def make_root(base: Path, *, skip: frozenset[str] = frozenset()) -> Path:
    """A scratch root: the host's units, ours in etc/systemd/system, stub executables."""
    root = base / "root"
    for name in MERGED_USR_LINKS:
        host = Path("/", name)
        if host.is_symlink():
            # Made relative, so that it resolves inside the scratch root (bin -> usr/bin).
            target = os.readlink(host).lstrip("/")
            root.mkdir(parents=True, exist_ok=True)
            (root / name).symlink_to(target)
    copied: set[Path] = set()
    for relative in HOST_UNIT_DIRS:
        host = Path("/", relative)
        if host.is_dir() and host.resolve() not in copied:
            copied.add(host.resolve())
            shutil.copytree(host, inside(root, relative), symlinks=True, dirs_exist_ok=True)
    installed = inside(root, "etc/systemd/system")
    installed.mkdir(parents=True, exist_ok=True)
    for unit in UNITS:
        shutil.copyfile(UNITS_DIR / unit, installed / unit)
    for path in executables() - skip:
        stub = inside(root, path)
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\nexit 0\n", encoding="utf-8")
        stub.chmod(0o755)
    return root


@pytest.fixture(scope="module")
def unit_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_root(tmp_path_factory.mktemp("systemd"))


@needs_systemd_analyze
@pytest.mark.parametrize("unit", UNITS)
def test_verify_says_nothing(unit: str, unit_root: Path) -> None:
    result = analyze("verify", f"--root={unit_root}", f"/etc/systemd/system/{unit}")
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), (
        f"systemd-analyze verify {unit}:\n{result.stdout}{result.stderr}")


@needs_systemd_analyze
def test_verify_notices_a_missing_executable(tmp_path: Path) -> None:
    """The control: the check above would catch a command that is not installed."""
    program = "/opt/zufiwatch/venv/bin/zufiwatch"
    assert program in executables()
    root = make_root(tmp_path, skip=frozenset({program}))
    result = analyze("verify", f"--root={root}", "/etc/systemd/system/zufiwatch.service")
    assert result.returncode != 0
    assert f"Command {program} is not executable" in result.stdout + result.stderr


@needs_systemd_analyze
@pytest.mark.parametrize("service", (*SERVICES, WEB))
def test_security_exposure_at_most_2(service: str) -> None:
    result = analyze("security", "--offline=yes", f"--threshold={round(MAX_EXPOSURE * 10)}",
                     "--no-pager", str(UNITS_DIR / service))
    match = re.search(r"Overall exposure level for (\S+): (\d+\.\d+)", result.stdout)
    assert match, f"no exposure level in:\n{result.stdout}{result.stderr}"
    assert match.group(1) == service
    exposure = float(match.group(2))
    assert exposure <= MAX_EXPOSURE, result.stdout
    assert result.returncode == 0, f"{service}: {exposure}\n{result.stderr}"


def test_both_services_share_one_sandbox() -> None:
    """Everything but the lifecycle is the same in the daemon and the oneshot."""
    lifecycle = {"Type", "NotifyAccess", "WatchdogSec", "ExecStart", "ExecReload", "Restart",
                 "RestartSec", "TimeoutStopSec", "TimeoutStartSec"}

    def sandbox(unit: str) -> list[tuple[str, str]]:
        return [(key, value) for section, key, value in directives(unit)
                if section == "Service" and key not in lifecycle]

    daemon, oneshot = (sandbox(unit) for unit in SERVICES)
    assert daemon == oneshot
    assert ("ProtectSystem", "strict") in daemon


def test_the_web_service_shares_the_sandbox_and_talks_only_to_localhost() -> None:
    """The web app runs as the daemon's user in the daemon's state directory (it reads and
    writes the same history) with the same hardening; it holds the session key instead of
    the SMTP password and reaches only localhost (the reverse proxy)."""
    lifecycle = {"Type", "NotifyAccess", "WatchdogSec", "ExecStart", "ExecReload", "Restart",
                 "RestartSec", "TimeoutStopSec", "TimeoutStartSec"}

    def sandbox(unit: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for section, key, value in directives(unit):
            if section == "Service" and key not in lifecycle:
                found.setdefault(key, []).append(value)
        return found

    daemon, web = sandbox("zufiwatch.service"), sandbox(WEB)
    assert web.pop("LoadCredential") == ["web-secret:/etc/zufiwatch/web-secret"]
    assert daemon.pop("LoadCredential") == ["smtp-password:/etc/zufiwatch/smtp-password"]
    assert web.pop("IPAddressDeny") == ["any"] and web.pop("IPAddressAllow") == ["localhost"]
    assert web == daemon
    assert web["User"] == ["zufiwatch"] and web["StateDirectory"] == ["zufiwatch"]
    starts = [value for section, key, value in directives(WEB) if key == "ExecStart"]
    assert starts == ["/opt/zufiwatch/venv/bin/zufiwatch --config "
                      "/etc/zufiwatch/zufiwatch.toml serve"]


def test_oneshot_crawls_then_notifies_even_after_a_failed_crawl() -> None:
    starts = [value for section, key, value in directives("zufiwatch-crawl.service")
              if key == "ExecStart"]
    assert [s.split()[-1] for s in starts] == ["crawl", "notify"]
    # A failed crawl (exit 1) must not skip notify, which mails the operators about it;
    # notify's own failure must still fail the unit.
    assert starts[0].startswith("-") and not starts[1].startswith("-")
    assert not any(key == "SuccessExitStatus"
                   for _, key, _ in directives("zufiwatch-crawl.service"))


def test_both_services_check_the_configuration_and_secrets_before_starting() -> None:
    for unit in (*SERVICES, WEB):
        pre = [value for section, key, value in directives(unit)
               if section == "Service" and key == "ExecStartPre"]
        assert pre == ["/opt/zufiwatch/venv/bin/zufiwatch --config "
                       "/etc/zufiwatch/zufiwatch.toml check-config --strict"], unit

"""Running CNI plugin binaries the way a runtime does: CNI_* environment, config on stdin, JSON on stdout.

    rc, res, out, err = run_plugin(t, h1, "overlay", "ADD", conf, "ctr1", c1_path, "eth0")
    assert rc == 0, err
    rc, res, out, err = run_plugin(t, h1, "overlay", "DEL", conf, "ctr1", "", "eth0")  # containerd-style DEL
"""

import json
import os
import subprocess

from .netns import ns_name

OVL_BIN_DIR = os.environ.get("OVL_BIN_DIR", "")
OVL_SRC_DIR = os.environ.get("OVL_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
REFERENCE_CNI_DIR = "/usr/lib/cni"
DEFAULT_CNI_PATH = f"{OVL_BIN_DIR}:{REFERENCE_CNI_DIR}" if OVL_BIN_DIR else REFERENCE_CNI_DIR


def tools_dir():
    """Where test-only tools (kvtool) are built: OVL_TEST_BIN_DIR, else <build>/bin-test next to OVL_BIN_DIR."""
    d = os.environ.get("OVL_TEST_BIN_DIR")
    if d:
        return d
    if OVL_BIN_DIR:
        return os.path.join(os.path.dirname(os.path.abspath(OVL_BIN_DIR)), "bin-test")
    return ""


def find_binary(name):
    """An absolute path, or name looked up in OVL_BIN_DIR then /usr/lib/cni."""
    if os.path.isabs(name):
        return name
    for d in (OVL_BIN_DIR, REFERENCE_CNI_DIR):
        if d and os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    raise FileNotFoundError(f"plugin {name!r} not found in OVL_BIN_DIR={OVL_BIN_DIR!r} or {REFERENCE_CNI_DIR}")


def plugin_env(command, container_id, netns_path, ifname, cni_args="", cni_path=None, extra_env=None):
    """The environment a runtime gives a plugin. Inherited CNI_* and CONSUL_* variables are dropped so
    that a test sees only what it passes; None values in extra_env remove a variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CNI_", "CONSUL_"))}
    env["CNI_COMMAND"] = command
    for key, val in (("CNI_CONTAINERID", container_id), ("CNI_NETNS", netns_path), ("CNI_IFNAME", ifname),
                     ("CNI_ARGS", cni_args)):
        if val is not None:
            env[key] = str(val)
    env["CNI_PATH"] = cni_path if cni_path is not None else DEFAULT_CNI_PATH
    for k, v in (extra_env or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def run_plugin(topology, host_ns, binary, command, conf, container_id, netns_path, ifname, cni_args="",
               cni_path=None, extra_env=None, stdin_override=None, timeout=60, stderr_file=None):
    """Runs a CNI plugin inside host_ns. conf: dict (JSON-encoded) or str. container_id / netns_path /
    ifname may be None to leave the variable unset (e.g. VERSION, GC). stderr_file: a path that gets the
    plugin's stderr, as libcni gives it the runtime's own stderr (a pipe would also wait for every process
    that inherited it). Returns (rc, parsed stdout JSON or None, stdout text, stderr text)."""
    stdin = stdin_override if stdin_override is not None else (conf if isinstance(conf, str) else json.dumps(conf))
    env = plugin_env(command, container_id, netns_path, ifname, cni_args, cni_path, extra_env)
    argv = topology.exec_argv(ns_name(host_ns), find_binary(binary))
    if stderr_file:
        with open(stderr_file, "w") as f:
            p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE, stderr=f, text=True, env=env,
                               timeout=timeout)
        with open(stderr_file) as f:
            p.stderr = f.read()
    else:
        p = subprocess.run(argv, input=stdin, capture_output=True, text=True, env=env, timeout=timeout)
    parsed = None
    if p.stdout.strip():
        try:
            parsed = json.loads(p.stdout)
        except ValueError:
            parsed = None
    return p.returncode, parsed, p.stdout, p.stderr

"""Static checks of deploy/ (issue 16, item 6): the systemd units can write where the plugins keep state,
the DaemonSet takes the Consul token from a Secret, and the installer writes secrets with mode 0600.

No privileges and no namespaces: the units and the DaemonSet are parsed, the installer script runs on a
temporary directory, and `systemd-analyze verify` (when present) checks the units' syntax.
"""

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import yaml

SRC = os.environ.get("OVL_SRC_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
DEPLOY = os.path.join(SRC, "deploy")
UNITS = sorted(f for f in os.listdir(DEPLOY) if f.endswith(".service"))


def default_state_dir():
    """The stateDir the plugins use when the node config names none, read from the source."""
    with open(os.path.join(SRC, "common", "kv", "node_config.hpp")) as f:
        return re.search(r'kDefaultStateDir = "([^"]+)"', f.read()).group(1)


def parse_unit(path):
    """{section: {key: [values in order]}}; values of repeated keys accumulate, as systemd's do."""
    out, section = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = out.setdefault(line.strip("[]"), {})
            else:
                key, _, value = line.partition("=")
                section.setdefault(key.strip(), []).append(value.strip())
    return out


def writable_paths(service):
    """Paths a [Service] section may write under ProtectSystem=strict."""
    paths = set()
    for v in service.get("ReadWritePaths", []):
        paths.update(p.lstrip("-+") for p in v.split())
    for key, root in (("RuntimeDirectory", "/run"), ("StateDirectory", "/var/lib"), ("CacheDirectory", "/var/cache"),
                      ("LogsDirectory", "/var/log")):
        for v in service.get(key, []):
            paths.update(f"{root}/{p}" for p in v.split())
    return paths


def covered(path, writable):
    return any(path == w or path.startswith(w.rstrip("/") + "/") for w in writable)


class UnitsTest(unittest.TestCase):
    def test_units_can_write_the_default_state_dir(self):
        state = default_state_dir()
        self.assertEqual(state, "/run/overlay-cni")
        self.assertTrue(UNITS)
        for name in UNITS:
            with self.subTest(unit=name):
                svc = parse_unit(os.path.join(DEPLOY, name))["Service"]
                self.assertEqual(svc.get("ProtectSystem"), ["strict"])
                self.assertTrue(covered(state, writable_paths(svc)), f"{name} cannot write {state}")
                self.assertTrue(covered("/var/lib/cni/overlay", writable_paths(svc)))
                if "RuntimeDirectory" in svc:  # the plugins share it: stopping the unit must not wipe it
                    self.assertEqual(svc.get("RuntimeDirectoryPreserve"), ["yes"], name)

    def test_units_verify(self):
        tool = shutil.which("systemd-analyze")
        if not tool:
            self.skipTest("systemd-analyze is not installed")
        with tempfile.TemporaryDirectory() as d:
            for name in UNITS:
                with open(os.path.join(DEPLOY, name)) as f:
                    text = re.sub(r"(?m)^ExecStart=.*$", "ExecStart=/bin/true", f.read())  # binaries not installed
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
                p = subprocess.run([tool, "verify", os.path.join(d, name)], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertNotIn("Unknown", p.stderr, name)


class DaemonSetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DEPLOY, "daemonset.yaml")) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        cls.by_kind = {}
        for d in docs:
            cls.by_kind.setdefault(d["kind"], []).append(d)
        cls.ds = cls.by_kind["DaemonSet"][0]
        cls.pod = cls.ds["spec"]["template"]["spec"]
        cls.node_cfg = json.loads(cls.by_kind["ConfigMap"][0]["data"]["node-config.json"])

    def containers(self):
        return self.pod.get("initContainers", []) + self.pod["containers"]

    def host_path(self, container, path):
        """The node path behind `path` inside the container (through its volume mounts), or None."""
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        for m in sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"])):
            mp = m["mountPath"].rstrip("/")
            if path == mp or path.startswith(mp + "/"):
                hp = volumes[m["name"]].get("hostPath")
                return (hp["path"].rstrip("/") + path[len(mp):], m.get("readOnly", False)) if hp else None
        return None

    def test_token_comes_from_a_secret_never_a_configmap(self):
        for cm in self.by_kind["ConfigMap"]:
            for key, value in cm.get("data", {}).items():
                self.assertNotRegex(value, r'"token"\s*:', f"ConfigMap {cm['metadata']['name']} key {key} holds a token")
        secrets = {s["metadata"]["name"]: s for s in self.by_kind.get("Secret", [])}
        from_secret = []
        for c in self.containers():
            for e in c.get("env", []):
                ref = e.get("valueFrom", {})
                if "TOKEN" in e["name"]:
                    self.assertIn("secretKeyRef", ref, f"{c['name']}: {e['name']} is not from a Secret")
                if "secretKeyRef" in ref:
                    name, key = ref["secretKeyRef"]["name"], ref["secretKeyRef"]["key"]
                    self.assertIn(name, secrets)
                    self.assertIn(key, secrets[name].get("stringData", {}) | secrets[name].get("data", {}))
                    from_secret.append(e["name"])
        self.assertIn("OVL_CONSUL_TOKEN", from_secret)

    def test_token_file_is_where_the_installer_writes_it_and_the_daemons_read_it(self):
        token_file = self.node_cfg["consul"]["tokenFile"]
        init = self.pod["initContainers"][0]
        env = {e["name"]: e.get("value") for e in init.get("env", [])}
        dest = env.get("OVL_CONSUL_TOKEN_DEST") or "/host/etc/cni/overlay-consul-token"  # install-cni's default
        self.assertEqual(self.host_path(init, dest)[0], token_file, "the installer writes the token elsewhere")
        for c in self.pod["containers"]:
            with self.subTest(container=c["name"]):
                env = {e["name"]: e.get("value") for e in c.get("env", [])}
                # The node config's paths are node paths: the daemons must see them at the same place.
                for path in (env["OVL_NODE_CONFIG"], token_file):
                    self.assertEqual(self.host_path(c, path)[0], path)

    def test_daemons_can_write_the_state_dir(self):
        state = self.node_cfg.get("stateDir", default_state_dir())
        for c in self.pod["containers"]:
            with self.subTest(container=c["name"]):
                hp = self.host_path(c, state)
                self.assertIsNotNone(hp, f"{state} is not mounted")
                self.assertEqual(hp, (state, False), f"{state} must be the node's, writable")

    def test_daemons_see_the_nodes_machine_id(self):
        # The watcher claims the host name with /etc/machine-id, as the host's plugins do; an image without
        # the node's file would claim it with another identity and be refused.
        names = {c["name"] for c in self.pod["containers"]}
        self.assertEqual(names, {"watch", "resolver"})
        for c in self.pod["containers"]:
            with self.subTest(container=c["name"]):
                self.assertEqual(self.host_path(c, "/etc/machine-id"), ("/etc/machine-id", True))
        volumes = {v["name"]: v for v in self.pod["volumes"]}
        mid = [v for v in volumes.values() if v.get("hostPath", {}).get("path") == "/etc/machine-id"]
        self.assertEqual([v["hostPath"].get("type") for v in mid], ["File"], "must exist on the node")


    def test_node_config_and_token_are_written_0600_even_with_umask_0(self):
        with tempfile.TemporaryDirectory() as d:
            for sub in ("bin", "net.d"):
                os.makedirs(os.path.join(d, sub))
            env = dict(os.environ, CNI_PLUGINS=" ", CNI_BIN_DIR=f"{d}/bin", CNI_NET_DIR=f"{d}/net.d",
                       CNI_CONFLIST='{"cniVersion": "1.0.0", "name": "over", "plugins": []}',
                       OVL_NODE_CONFIG_JSON='{"store": "consul://198.51.100.10:8500", "consul": {"token": "t0p"}}',
                       OVL_NODE_CONFIG_DEST=f"{d}/overlay-node.json", OVL_CONSUL_TOKEN="s3cret",
                       OVL_CONSUL_TOKEN_DEST=f"{d}/overlay-consul-token")
            p = subprocess.run(["sh", "-c", f"umask 000 && exec sh {DEPLOY}/install-cni.sh"], env=env,
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 0, p.stderr)
            modes = {name: stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode)
                     for name in ("overlay-node.json", "overlay-consul-token", "net.d/10-overlay.conflist")}
            self.assertEqual(modes, {"overlay-node.json": 0o600, "overlay-consul-token": 0o600,
                                     "net.d/10-overlay.conflist": 0o644})
            with open(os.path.join(d, "overlay-consul-token")) as f:
                self.assertEqual(f.read(), "s3cret\n")
            with open(os.path.join(d, "overlay-node.json")) as f:
                self.assertEqual(json.load(f)["consul"]["token"], "t0p")
            self.assertNotIn("s3cret", p.stdout + p.stderr)
            self.assertEqual([f for f in os.listdir(d) if ".tmp." in f], [])


if __name__ == "__main__":
    unittest.main()

"""A real Consul (1.8.7 from Debian 11) inside a topology's namespaces.

The test process runs in the root netns and cannot reach namespace addresses, so every HTTP call
goes through `ip netns exec HOST curl ...` on the Consul host itself.

    with Topology() as t:
        cs = t.add_host("cs", "198.51.100.100/24")
        consul = ConsulServer(t, cs, cs.ip)                 # -dev, in memory, http://IP:8500
        consul.kv_put("overlay-cni/x", "1"); consul.kv_get("overlay-cni/x")   # -> "1"
        acl = ConsulServer(t, h2, h2.ip, acl=True)          # default deny; acl.master_token
        tok = acl.create_token(key_prefix="overlay-cni/")   # write policy on that prefix
        tls = ConsulServer(t, h3, h3.ip, tls=True)          # https://IP:8501 only; tls.ca_file
        env = consul.client_env()                           # CONSUL_HTTP_ADDR, CONSUL_CACERT, ...
        cluster = ConsulCluster(t, [h4, h5, h6]); cluster.leader(); cluster.kill(cluster.leader())
"""

import json
import os
import subprocess
import time
import uuid

from .netns import Host, ns_name

CONSUL_BIN = os.environ.get("OVL_CONSUL_BIN", "/opt/overlay-cni/consul/usr/bin/consul")


class ConsulError(RuntimeError):
    pass


def _hcl_str(s):
    return json.dumps(str(s))


class ConsulServer:
    """One Consul agent in server mode inside host_ns, HTTP (or HTTPS) bound to bind_ip.

    data_dir=None: `-dev` (in memory; a restart starts empty). With a data_dir: a persistent
    single server (-server -bootstrap-expect=1), or a cluster member when join/expect are given.
    acl=True: ACLs enabled, default deny, `master_token` is the management token.
    tls=True: HTTPS on 8501 only with certificates from `consul tls`; tls="mutual" also requires
    client certificates (client_cert/client_key).
    """

    def __init__(self, topology, host_ns, bind_ip, data_dir=None, acl=False, tls=None, join=(),
                 bootstrap_expect=None, start=True, http_port=8500, https_port=8501, log_level="info"):
        self.topo = topology
        self.host = host_ns if isinstance(host_ns, Host) else None
        self.ns = ns_name(host_ns)
        self.ip = str(bind_ip).split("/")[0]
        self.acl = bool(acl)
        self.tls = tls
        self.join = list(join)
        self.bootstrap_expect = bootstrap_expect
        self.http_port, self.https_port = http_port, https_port
        self.log_level = log_level
        self.workdir = os.path.join(topology.tmpdir, f"consul-{self.ns}-{uuid.uuid4().hex[:6]}")
        os.makedirs(self.workdir, mode=0o700)
        self.data_dir = data_dir
        if data_dir is True or (data_dir is None and (join or bootstrap_expect)):
            self.data_dir = os.path.join(self.workdir, "data")
        self.master_token = str(uuid.uuid4()) if acl else None
        self.ca_file = self.cert_file = self.key_file = None
        self.client_cert = self.client_key = None
        if tls:
            self._make_certs()
        self.config_file = os.path.join(self.workdir, "agent.hcl")
        self._write_config()
        self.log_file = os.path.join(self.workdir, "consul.log")
        self.proc = None
        if start:
            self.start()

    # --- configuration ---------------------------------------------------------------------------
    @property
    def addr(self):
        return f"https://{self.ip}:{self.https_port}" if self.tls else f"http://{self.ip}:{self.http_port}"

    @property
    def node_name(self):
        return self.ns

    def _make_certs(self):
        d = os.path.join(self.workdir, "tls")
        os.makedirs(d)
        subprocess.run([CONSUL_BIN, "tls", "ca", "create"], cwd=d, check=True, capture_output=True)
        subprocess.run([CONSUL_BIN, "tls", "cert", "create", "-server", "-additional-ipaddress", self.ip],
                       cwd=d, check=True, capture_output=True)
        subprocess.run([CONSUL_BIN, "tls", "cert", "create", "-client"], cwd=d, check=True, capture_output=True)
        self.ca_file = os.path.join(d, "consul-agent-ca.pem")
        self.cert_file = os.path.join(d, "dc1-server-consul-0.pem")
        self.key_file = os.path.join(d, "dc1-server-consul-0-key.pem")
        self.client_cert = os.path.join(d, "dc1-client-consul-0.pem")
        self.client_key = os.path.join(d, "dc1-client-consul-0-key.pem")

    def _write_config(self):
        lines = [
            "disable_update_check = true",
            "performance { raft_multiplier = 1 }",
        ]
        if self.acl:
            lines += [
                "primary_datacenter = \"dc1\"",
                "acl {",
                "  enabled = true",
                "  default_policy = \"deny\"",
                "  down_policy = \"extend-cache\"",
                f"  tokens {{ master = {_hcl_str(self.master_token)}  agent = {_hcl_str(self.master_token)} }}",
                "}",
            ]
        if self.tls:
            lines += [
                f"ca_file = {_hcl_str(self.ca_file)}",
                f"cert_file = {_hcl_str(self.cert_file)}",
                f"key_file = {_hcl_str(self.key_file)}",
                "verify_incoming_rpc = false",
                f"verify_incoming_https = {'true' if self.tls == 'mutual' else 'false'}",
                f"ports {{ https = {self.https_port}  http = -1 }}",
            ]
        with open(self.config_file, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _argv(self):
        argv = [CONSUL_BIN, "agent", f"-bind={self.ip}", f"-client={self.ip}", f"-node={self.node_name}",
                f"-config-file={self.config_file}", f"-log-level={self.log_level}"]
        if not self.tls:
            argv.append(f"-http-port={self.http_port}")
        if self.data_dir:
            argv += ["-server", f"-data-dir={self.data_dir}",
                     f"-bootstrap-expect={self.bootstrap_expect or 1}"]
            argv += [f"-retry-join={j}" for j in self.join]
            argv += ["-retry-interval=1s"]
        else:
            argv.append("-dev")
        return argv

    # --- lifecycle -------------------------------------------------------------------------------
    def start(self, wait=True, timeout=40):
        if self.proc and self.proc.poll() is None:
            return
        if self.data_dir:
            os.makedirs(self.data_dir, exist_ok=True)
        log = open(self.log_file, "ab")
        try:
            self.proc = self.topo.popen(self.ns, *self._argv(), stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        if wait:
            self.wait_ready(timeout)

    def stop(self, timeout=10):
        """Graceful stop (SIGTERM, then SIGKILL); the port is closed when this returns."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, wait=True):
        """Stop then start. A -dev server comes back empty; a data_dir server keeps its data."""
        self.stop()
        self.start(wait=wait)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=40):
        try:
            with open(self.log_file, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout=40, need_leader=True):
        """Polls /v1/status/leader until there is a leader (and, with ACLs, the master token works)."""
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.running():
                raise ConsulError(f"consul in {self.ns} exited ({self.proc.returncode}):\n{self.log_tail()}")
            status, body = self.http("GET", "/v1/status/leader", token=None, timeout=2, check=False)
            last = f"{status} {body.strip()}"
            if status == 200 and (not need_leader or body.strip() not in ('""', "")):
                if not self.acl:
                    return
                status, body = self.http("GET", "/v1/acl/token/self", timeout=2, check=False)
                last = f"acl: {status} {body.strip()}"
                if status == 200:
                    return
            time.sleep(0.1)
        raise ConsulError(f"consul in {self.ns} not ready after {timeout}s (last: {last}):\n{self.log_tail()}")

    def leader(self):
        """The leader's "IP:8300" as this server sees it, "" when none or when unreachable."""
        status, body = self.http("GET", "/v1/status/leader", token=None, timeout=2, check=False)
        return json.loads(body) if status == 200 else ""

    # --- HTTP through curl inside the namespace ---------------------------------------------------
    def http(self, method, path, body=None, token="master", timeout=5, check=True, client_cert=None):
        """Returns (status, text). token="master" uses the management token when ACLs are on."""
        if token == "master":
            token = self.master_token
        cfg = []
        if token:
            cfg.append(f'header = "X-Consul-Token: {token}"')
        argv = ["curl", "-sS", "-K", "-", "-X", method, "-m", str(timeout), "-o", "-", "-w", "\n%{http_code}"]
        if self.tls:
            argv += ["--cacert", self.ca_file]
            if self.tls == "mutual" or client_cert:
                argv += ["--cert", self.client_cert, "--key", self.client_key]
        bodyfile = None
        if body is not None:
            bodyfile = os.path.join(self.workdir, f"body-{uuid.uuid4().hex[:8]}")
            with open(bodyfile, "wb") as f:
                f.write(body.encode() if isinstance(body, str) else body)
            argv += ["--data-binary", f"@{bodyfile}"]
        argv.append(self.addr + path)
        try:
            p = self.topo.run(self.ns, *argv, input="\n".join(cfg) + "\n", check=False, timeout=timeout + 5)
        finally:
            if bodyfile:
                os.unlink(bodyfile)
        text, _, code = p.stdout.rpartition("\n")
        status = int(code) if code.strip().isdigit() else 0
        if check and not 200 <= status < 300:
            raise ConsulError(f"{method} {path} on {self.addr}: HTTP {status}: {text.strip()} {p.stderr.strip()}")
        return status, text

    def kv_get(self, key, token="master"):
        """The value as str, or None when the key does not exist."""
        status, text = self.http("GET", f"/v1/kv/{key}?raw", token=token, check=False)
        if status == 404:
            return None
        if status != 200:
            raise ConsulError(f"kv_get {key}: HTTP {status}: {text}")
        return text

    def kv_get_meta(self, key, token="master"):
        """The decoded JSON entry ({Key, Value(base64), ModifyIndex, ...}) or None."""
        status, text = self.http("GET", f"/v1/kv/{key}", token=token, check=False)
        if status == 404:
            return None
        if status != 200:
            raise ConsulError(f"kv_get_meta {key}: HTTP {status}: {text}")
        return json.loads(text)[0]

    def kv_put(self, key, value, token="master", cas=None):
        q = f"?cas={cas}" if cas is not None else ""
        _, text = self.http("PUT", f"/v1/kv/{key}{q}", body=value, token=token)
        return text.strip() == "true"

    def kv_keys(self, prefix="", token="master"):
        status, text = self.http("GET", f"/v1/kv/{prefix}?keys", token=token, check=False)
        if status == 404:
            return []
        if status != 200:
            raise ConsulError(f"kv_keys {prefix}: HTTP {status}: {text}")
        return json.loads(text)

    def kv_delete(self, key, recurse=False, token="master"):
        self.http("DELETE", f"/v1/kv/{key}" + ("?recurse" if recurse else ""), token=token)

    def create_token(self, key_prefix="", policy="write", name=None):
        """With ACLs: a token allowed `policy` on keys under key_prefix. Returns its SecretID."""
        if not self.acl:
            raise ConsulError("create_token needs acl=True")
        name = name or f"kv-{uuid.uuid4().hex[:8]}"
        rules = f"key_prefix {_hcl_str(key_prefix)} {{ policy = {_hcl_str(policy)} }}"
        self.http("PUT", "/v1/acl/policy", body=json.dumps({"Name": name, "Rules": rules}))
        _, text = self.http("PUT", "/v1/acl/token",
                            body=json.dumps({"Description": name, "Policies": [{"Name": name}]}))
        return json.loads(text)["SecretID"]

    def client_env(self, token=None, ca=True, client_cert=False):
        """CONSUL_* variables for a client of this server (what the consul CLI reads)."""
        env = {"CONSUL_HTTP_ADDR": self.addr}
        if token:
            env["CONSUL_HTTP_TOKEN"] = token
        if self.tls and ca:
            env["CONSUL_CACERT"] = self.ca_file
        if self.tls and client_cert:
            env["CONSUL_CLIENT_CERT"] = self.client_cert
            env["CONSUL_CLIENT_KEY"] = self.client_key
        return env

    @property
    def store_url(self):
        return ("consul+https://" if self.tls else "consul://") + f"{self.ip}:" + \
            str(self.https_port if self.tls else self.http_port)


class ConsulCluster:
    """Three (or more) persistent servers (-server -bootstrap-expect=N -retry-join) on the given hosts.
    log_level="debug" makes each server log every HTTP request (see ovltest.consul_log)."""

    def __init__(self, topology, hosts, acl=False, timeout=60, log_level="info"):
        if len(hosts) < 3:
            raise ValueError("a cluster needs at least 3 hosts")
        self.topo = topology
        ips = [h.ip for h in hosts]
        self.servers = {}
        for h in hosts:
            others = [ip for ip in ips if ip != h.ip]
            self.servers[h.name] = ConsulServer(topology, h, h.ip, data_dir=True, acl=acl, join=others,
                                                bootstrap_expect=len(hosts), start=False, log_level=log_level)
        for s in self.servers.values():
            s.start(wait=False)
        self.wait_leader(timeout)

    @property
    def addresses(self):
        return [s.addr for s in self.servers.values()]

    @property
    def store_url(self):
        return ",".join(s.store_url for s in self.servers.values())

    def server(self, host):
        return self.servers[host.name if isinstance(host, Host) else host]

    def leader(self):
        """The Host running the current leader, or None."""
        for s in self.servers.values():
            if not s.running():
                continue
            lead = s.leader()
            if lead:
                ip = lead.rsplit(":", 1)[0]
                for t in self.servers.values():
                    if t.ip == ip and t.running():
                        return t.host
        return None

    def wait_leader(self, timeout=60, exclude=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in self.servers.values():
                if s.proc and s.proc.poll() is not None and s.proc.returncode not in (-9, -15, 0):
                    raise ConsulError(f"consul in {s.ns} exited:\n{s.log_tail()}")
            h = self.leader()
            if h is not None and (exclude is None or h.name != getattr(exclude, "name", exclude)):
                return h
            time.sleep(0.2)
        tails = "\n".join(f"--- {s.ns}\n{s.log_tail(15)}" for s in self.servers.values())
        raise ConsulError(f"no consul leader after {timeout}s\n{tails}")

    def kill(self, host):
        """SIGKILL the server on host (simulates a crash)."""
        self.server(host).kill()

    def start(self, host, wait=False):
        self.server(host).start(wait=wait)

    def any_running(self):
        for s in self.servers.values():
            if s.running():
                return s
        raise ConsulError("no consul server running")

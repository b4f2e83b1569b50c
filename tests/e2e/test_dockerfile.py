"""The Dockerfile builds with buildah (scripts/build-image.sh) and its installer works.

scripts/build-image.sh makes the debian:bookworm base locally with mmdebstrap from this machine's Debian
mirror (skipped with a message when the mirror is unreachable; a failure under OVL_NO_SKIP=1, as in CI), builds with --isolation chroot
--network host in private storage, and writes an OCI archive. The test then loads the archive into a
private podman running in a simulated host namespace and runs the installer with a temporary directory
as the node's /opt/cni/bin and /etc/cni/net.d. The root network namespace must be unchanged afterwards
(buildah without host networking would create cni-podman0 and NAT rules there).

The build uses the machine's image cache, /var/cache/overlay-cni/image (build-image.sh's default): the base
image, the build stage's apt-get layer and a compiler cache are reused between runs; `COPY . .` hashes the
sources, so the binaries are always built from the current tree (about 10 min cold, 2 min warm).
OVL_IMAGE_WORK=DIR uses another build directory (build-image.sh -w DIR) instead.
OVL_IMAGE_ARCHIVE=FILE skips the build and tests an OCI archive made earlier (build-image.sh -o FILE).
"""

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import unittest

import rtlib
from ovltest.netns import Topology, root_snapshot

TAG = "localhost/overlay-cni:test"


class DockerfileE2E(unittest.TestCase):
    def setUp(self):
        rtlib.require_tools("buildah", "mmdebstrap", "podman", "runc", "nsenter")
        self.tmp = tempfile.mkdtemp(prefix="ovl-dockerfile-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def build(self):
        if os.environ.get("OVL_IMAGE_ARCHIVE"):
            return os.environ["OVL_IMAGE_ARCHIVE"]
        archive = os.path.join(self.tmp, "image.tar")
        argv = [os.path.join(rtlib.SRC_DIR, "scripts", "build-image.sh"), "-t", TAG, "-o", archive]
        if os.environ.get("OVL_IMAGE_WORK"):
            argv += ["-w", os.environ["OVL_IMAGE_WORK"]]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CONTAINERS_", "BUILDAH_"))}
        # containers/image writes a blob-info cache to /var/lib/containers/cache whatever the storage root:
        # the build runs in a mount namespace of its own where /var/lib is an overlay whose writable layer is
        # under self.tmp, so nothing is written to (or deleted from) the machine's /var/lib.
        varlib = os.path.join(self.tmp, "var-lib")
        for d in ("upper", "work"):
            os.makedirs(os.path.join(varlib, d))
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                'mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$0/upper,workdir=$0/work" /var/lib && '
                'exec "$@"', varlib] + argv
        start = time.monotonic()
        p = subprocess.run(argv, capture_output=True, text=True, timeout=1500, env=env)
        took = time.monotonic() - start
        if p.returncode == 3 and "mmdebstrap failed" in p.stderr:
            self.skipTest("mmdebstrap cannot reach the Debian mirror: " + p.stderr.strip().splitlines()[-1])
        self.assertEqual(p.returncode, 0, f"build-image.sh failed:\n{p.stdout[-3000:]}\n{p.stderr[-5000:]}")
        print(f"\nbuild-image.sh: {took:.0f} s")
        return archive

    def image_config(self, archive):
        with tarfile.open(archive) as tar:
            def blob(digest):
                return json.load(tar.extractfile("blobs/sha256/" + digest.split(":", 1)[1]))
            index = json.load(tar.extractfile("index.json"))
            manifest = blob(index["manifests"][0]["digest"])
            return blob(manifest["config"]["digest"]), index

    def test_build_and_install(self):
        before = root_snapshot()
        archive = self.build()
        self.assertEqual(root_snapshot(), before, "the image build changed the root network namespace")
        config, index = self.image_config(archive)
        self.assertEqual(config["config"]["Entrypoint"], ["/usr/local/bin/install-cni"])
        tag = index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"]
        if not os.environ.get("OVL_IMAGE_ARCHIVE"):
            self.assertEqual(tag, TAG)

        # Run the installer the way a DaemonSet does, in a private podman inside a simulated host. No --rm:
        # without a syslog socket podman's exit-command cleanup fails and --rm waits 20 s for it.
        with Topology() as t:
            h = t.add_host("h1")
            pm = rtlib.Podman(t, h, os.path.join(t.tmpdir, "podman"), "/usr/lib/cni",
                              os.path.join(t.tmpdir, "node.json"))
            try:
                pm.run("load", "-q", "-i", archive, timeout=300)
                node_bin = os.path.join(t.tmpdir, "node", "opt", "cni", "bin")
                node_net = os.path.join(t.tmpdir, "node", "etc", "cni", "net.d")
                os.makedirs(node_bin)
                os.makedirs(node_net)
                p = pm.run("run", "--network", "none", "-v", f"{node_bin}:/host/opt/cni/bin",
                           "-v", f"{os.path.dirname(node_net)}:/host/etc/cni",
                           "-e", "CNI_CONFLIST_FILE=/opt/overlay-cni/conf-examples/overlay-gwbridge.conflist",
                           "-e", 'OVL_NODE_CONFIG_JSON={"store":"consul://198.51.100.10:8500","advertise":"eth0"}',
                           tag, timeout=120)
                for name in ("overlay", "overlay-ipam", "gwbridge"):
                    path = os.path.join(node_bin, name)
                    self.assertTrue(os.access(path, os.X_OK), f"{name} not installed: {p.stderr}")
                    # The installed binary runs on this (Debian 12) node.
                    # In the simulated host, not the machine's namespace (a call records its metrics under the
                    # node's stateDir for the namespace it runs in).
                    v = subprocess.run(t.nsenter_argv(h, path), env={"CNI_COMMAND": "VERSION"},
                                       input='{"cniVersion": "1.0.0"}', capture_output=True, text=True, timeout=10)
                    self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
                    self.assertIn("1.0.0", json.loads(v.stdout)["supportedVersions"])
                with open(os.path.join(node_net, "10-overlay.conflist")) as f:
                    self.assertEqual(json.load(f)["plugins"][0]["type"], "overlay")
                with open(os.path.join(t.tmpdir, "node", "etc", "cni", "overlay-node.json")) as f:
                    self.assertEqual(json.load(f)["advertise"], "eth0")
                self.assertEqual([f for f in os.listdir(node_bin) if ".tmp." in f], [])
                # The image's own copy runs too (its runtime libraries are present): the watcher's binary.
                p = pm.run("run", "--network", "none", "-e", "CNI_COMMAND=VERSION", tag, "overlay",
                           check=False, timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("supportedVersions", p.stdout)
                # And the resolver's (it also links libldns).
                p = pm.run("run", "--network", "none", tag, "overlay-resolver", "--help", check=False, timeout=120)
                self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
                self.assertIn("127.0.0.11", p.stdout)
            finally:
                pm.run("rmi", "-af", check=False, timeout=120)
                pm.cleanup()
        self.assertEqual(root_snapshot(), before)


if __name__ == "__main__":
    unittest.main()

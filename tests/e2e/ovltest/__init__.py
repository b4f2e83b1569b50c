"""End-to-end test harness: namespaces topologies (netns), a real Consul (consul), CNI invocations (plugins)."""

from .consul import ConsulCluster, ConsulError, ConsulServer  # noqa: F401
from .netns import CommandError, Host, Topology, root_snapshot, sh, sweep_stale  # noqa: F401
from .plugins import find_binary, run_plugin, tools_dir  # noqa: F401

# overlay-cni: builds the plugins on Debian 12 and packs them into a small installer image that copies them
# onto the node (like the flannel and Calico installer images), and can also run `overlay watch`.
#
#   scripts/build-image.sh               # buildah, local base image, no registry (see the script)
#   docker build -t overlay-cni .        # anywhere a registry is reachable
#
# Installer:  run with the node's /opt/cni/bin mounted at /host/opt/cni/bin (and /etc/cni/net.d at
#             /host/etc/cni/net.d to also install a conflist): see deploy/install-cni.sh for the variables.
# Watcher:    same image, command `overlay watch`, host network, node config mounted at /etc/cni.
# Resolver:   same image, command `overlay-resolver` (containers' DNS), see deploy/daemonset.yaml.
# The plugins link libnl, libcurl and libnftables dynamically: the node needs libnl-3-200,
# libnl-route-3-200, libnl-nf-3-200, libcurl4 and libnftables1 (present on Debian/Ubuntu hosts with nftables);
# overlay-resolver also needs libldns3.

ARG BASE=docker.io/library/debian:bookworm

FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libnl-3-dev libnl-route-3-dev libnl-nf-3-dev rapidjson-dev libcurl4-openssl-dev \
      libmsgsl-dev libnftables-dev libldns-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# RelWithDebInfo (-O2), as scripts/test.sh builds: g++ 12 at -O3 (Release) reports a false -Wrestrict in
# std::string concatenation (GCC bug 105329), and warnings are errors. The binaries are stripped.
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVL_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/bin/*

FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libnl-3-200 libnl-route-3-200 libnl-nf-3-200 libcurl4 libnftables1 libldns3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/bin/ /opt/overlay-cni/bin/
COPY conf-examples/ /opt/overlay-cni/conf-examples/
COPY deploy/install-cni.sh /usr/local/bin/install-cni
RUN chmod 0755 /usr/local/bin/install-cni && ln -s /opt/overlay-cni/bin/overlay /usr/local/bin/overlay
LABEL org.opencontainers.image.title="overlay-cni" \
      org.opencontainers.image.description="Multi-host VXLAN overlay CNI plugins (overlay, overlay-ipam, gwbridge) installer"
ENTRYPOINT ["/usr/local/bin/install-cni"]

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
# The programs are fully static (scripts/build-static-deps.sh, cmake/static.cmake): the runtime stage holds
# them, the CA bundle and a static busybox for the installer script, and no packages; the installer copies
# the same files onto the node, which needs nothing else.

ARG BASE=docker.io/library/debian:bookworm

FROM ${BASE} AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake make pkg-config libnl-3-dev libnl-route-3-dev libnl-nf-3-dev rapidjson-dev libcurl4-openssl-dev \
      libmsgsl-dev libldns-dev libc-ares-dev libssl-dev dpkg-dev \
      ca-certificates busybox-static ccache \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The libraries without a static archive in Debian, from Debian's sources; scripts/build-image.sh mounts the
# build machine's cache of them at /var/cache/overlay-cni/static-deps.
RUN scripts/build-static-deps.sh
# RelWithDebInfo (-O2), as scripts/test.sh builds: g++ 12 at -O3 (Release) reports a false -Wrestrict in
# std::string concatenation (GCC bug 105329), and warnings are errors. The binaries are stripped.
# scripts/build-image.sh mounts a compiler cache at /var/cache/overlay-cni/ccache: when it is there the
# compiles go through ccache (same objects, most of them from the cache); without it, a plain compile.
RUN if [ -d /var/cache/overlay-cni/ccache ]; then \
      export CCACHE_DIR=/var/cache/overlay-cni/ccache; \
      set -- -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache; \
    fi \
 && cmake -S . -B /build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DOVL_TESTS=OFF "$@" \
 && cmake --build /build -j"$(nproc)" \
 && strip /build/bin/*
# The runtime root: the static binaries, CA bundle, busybox.
RUN mkdir -p /root-fs/opt/overlay-cni/bin /root-fs/bin /root-fs/etc/ssl/certs /root-fs/tmp \
 && cp /build/bin/* /root-fs/opt/overlay-cni/bin/ \
 && cp /etc/ssl/certs/ca-certificates.crt /root-fs/etc/ssl/certs/ \
 && cp /bin/busybox /root-fs/bin/busybox \
 && chmod 1777 /root-fs/tmp

FROM scratch
COPY --from=build /root-fs/ /
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/usr/local/bin:/bin:/opt/overlay-cni/bin
COPY conf-examples/ /opt/overlay-cni/conf-examples/
COPY deploy/install-cni.sh /usr/local/bin/install-cni
RUN chmod 0755 /usr/local/bin/install-cni && ln -s /opt/overlay-cni/bin/overlay /usr/local/bin/overlay
LABEL org.opencontainers.image.title="overlay-cni" \
      org.opencontainers.image.description="Multi-host VXLAN overlay CNI plugins (overlay, overlay-ipam, gwbridge) installer"
ENTRYPOINT ["/usr/local/bin/install-cni"]

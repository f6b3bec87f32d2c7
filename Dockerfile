# The production image of wxauth (README.md, "Run it in a container").
#
#   docker build -t wxauth .            # or: podman build --format docker -t wxauth .
#   docker run -e WXAUTH_SIMULATOR=on -p 8080:8080 wxauth
#
# Two stages: `builder` compiles with `cargo build --release --locked` into a
# static binary (glibc, `-C target-feature=+crt-static`: static-pie, no
# dynamic loader, no shared libraries), the dependencies in a layer of their
# own (rebuilt only when Cargo.toml or Cargo.lock change); `runtime` is
# `scratch` with that binary, the CA certificates, /etc/passwd, /etc/group and
# /etc/nsswitch.conf for the non-root user and name lookups, and the /keys
# folder: no shell, no package manager, nothing else (13.5 MB). The
# builder's base image is a build argument so a mirror or a pinned digest can
# stand in for it, e.g.
#   --build-arg RUST_IMAGE=registry.internal/rust:1.95-slim-bookworm
# (deploy/test-image.sh builds this file where no registry is reachable).
#
# podman: pass `--format docker`; the OCI format has no HEALTHCHECK and podman
# drops it with a warning.

ARG RUST_IMAGE=rust:1.95-slim-bookworm

# --- builder -------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /build
# A static binary for the builder's own architecture: crt-static links glibc
# (and jemalloc, aws-lc) into one static-pie executable. With --target, these
# flags reach the binary only, not build scripts or proc macros.
ENV RUSTFLAGS="-C target-feature=+crt-static"
# make: tikv-jemalloc-sys builds jemalloc (the allocator, see src/main.rs).
RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*

# 1. Dependencies only: the manifest with stub targets (the lib, the binary,
#    and the bench Cargo.toml declares), so this layer stays cached until
#    Cargo.toml or Cargo.lock change. Examples and tests are discovered, not
#    declared, and need no stub.
COPY Cargo.toml Cargo.lock ./
# jemalloc's compiled-in settings.
COPY .cargo ./.cargo
RUN mkdir -p src benches \
 && echo 'fn main() {}' > src/main.rs \
 && touch src/lib.rs \
 && echo 'fn main() {}' > benches/crypto.rs \
 && cargo build --release --locked --target "$(uname -m)-unknown-linux-gnu" \
 && rm -rf src

# 2. The source. `touch`: COPY keeps the files' own times, which are older
#    than the stub build, and cargo would take the stubs' output as fresh.
COPY src ./src
# Served at /openapi.json (include_str! in src/routes/openapi.rs).
COPY docs/openapi.json ./docs/openapi.json
RUN touch src/main.rs src/lib.rs \
 && target="$(uname -m)-unknown-linux-gnu" \
 && cargo build --release --locked --target "$target" \
 && install -m 0755 "target/$target/release/wxauth" /usr/local/bin/wxauth \
 && wxauth --version \
 && ldd /usr/local/bin/wxauth 2>&1 | grep -Eq 'statically linked|not a dynamic executable'

# What the runtime image holds besides the binary. nsswitch.conf: without it
# glibc asks DNS first and skips /etc/hosts whenever DNS answers (Kubernetes
# hostAliases, --add-host); files then dns is what distributions ship.
# CA certificates: reqwest's TLS verifier reads the system roots to reach
# WeChat. A fixed non-root uid/gid (the one deploy/kubernetes/wxauth.yaml runs
# as), so a host key folder can be given to it: `chown -R 65532:65532 keys`.
RUN mkdir -p /rootfs/etc/ssl/certs /rootfs/usr/local/bin /rootfs/keys \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ \
 && cp /usr/local/bin/wxauth /rootfs/usr/local/bin/wxauth \
 && echo 'wxauth:x:65532:65532:wxauth:/nonexistent:/sbin/nologin' >/rootfs/etc/passwd \
 && echo 'wxauth:x:65532:' >/rootfs/etc/group \
 && printf 'passwd: files\ngroup: files\nhosts: files dns\n' >/rootfs/etc/nsswitch.conf \
 && chown 65532:65532 /rootfs/keys \
 && chmod 0700 /rootfs/keys

# --- runtime -------------------------------------------------------------------
FROM scratch AS runtime

COPY --from=builder /rootfs/ /
# COPY sets owner 0 unless told; the key folder is the non-root user's.
COPY --from=builder --chown=65532:65532 /rootfs/keys /keys

ENV PATH=/usr/local/bin \
    WXAUTH_BIND=0.0.0.0:8080 \
    WXAUTH_KEYS_DIR=/keys

# Numeric, so Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 65532:65532
# No .env here: wxauth reads one only from its working directory.
WORKDIR /
# The key folder: a volume, a bind mount or a Kubernetes Secret. In simulator
# mode wxauth writes its development key here.
VOLUME ["/keys"]
EXPOSE 8080

# No shell, no curl: the binary asks its own /healthz on loopback.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["wxauth", "healthcheck"]

ENTRYPOINT ["wxauth"]
CMD ["serve"]

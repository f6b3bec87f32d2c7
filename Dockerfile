# The production image of wxauth (SPEC section 11).
#
#   docker build -t wxauth .            # or: podman build --format docker -t wxauth .
#   docker run -e WXAUTH_SIMULATOR=on -p 8080:8080 wxauth
#
# Two stages: `builder` compiles with `cargo build --release --locked`, the
# dependencies in a layer of their own (rebuilt only when Cargo.toml or
# Cargo.lock change); `runtime` is Debian slim with CA certificates, a non-root
# user and the one binary. The base images are build arguments so a mirror or
# a pinned digest can stand in for them, e.g.
#   --build-arg RUST_IMAGE=registry.internal/rust:1.95-slim-bookworm
# (deploy/test-image.sh builds this file where no registry is reachable).
#
# podman: pass `--format docker`; the OCI format has no HEALTHCHECK and podman
# drops it with a warning.

ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# --- builder -------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /build
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
 && cargo build --release --locked \
 && rm -rf src

# 2. The source. `touch`: COPY keeps the files' own times, which are older
#    than the stub build, and cargo would take the stubs' output as fresh.
COPY src ./src
# Served at /openapi.json (include_str! in src/routes/openapi.rs).
COPY docs/openapi.json ./docs/openapi.json
RUN touch src/main.rs src/lib.rs \
 && cargo build --release --locked \
 && install -m 0755 target/release/wxauth /usr/local/bin/wxauth \
 && wxauth --version

# --- runtime -------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime

# CA certificates: reqwest's TLS verifier needs the system roots to reach WeChat.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

# A fixed non-root uid/gid (the one deploy/kubernetes/wxauth.yaml runs as), so
# a host key folder can be given to it: `chown -R 65532:65532 keys`.
RUN groupadd --system --gid 65532 wxauth \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent \
      --no-create-home --shell /usr/sbin/nologin wxauth \
 && mkdir /keys \
 && chown 65532:65532 /keys \
 && chmod 0700 /keys

COPY --from=builder /usr/local/bin/wxauth /usr/local/bin/wxauth

ENV WXAUTH_BIND=0.0.0.0:8080 \
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

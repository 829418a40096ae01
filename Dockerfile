# terminus in a container: the mock for a CI job's service container, and the conformance run.
#
#   docker build -t terminus .
#   docker run --rm -p 18080:18080 --env-file terminus.env terminus   # terminus serve on 0.0.0.0:18080
#   docker run --rm terminus run --junit /dev/stdout                  # the conformance cases (built in)
#
# The control token. Published, the port is reachable from other hosts, and the control API can replace the world,
# so off loopback it always needs a token, sent as X-Terminus-Token. Set your own in TERMINUS_CONTROL_TOKEN, best
# from a file (terminus.env holding `TERMINUS_CONTROL_TOKEN=…`; `-e TERMINUS_CONTROL_TOKEN=…` works too, but shows
# in `docker inspect`), or read the one `serve` generates and prints once (`docker logs`). The health check,
# GET /__terminus/health, needs no token and says nothing but {"status": "ok"}.
#
# The cases are built into the binary, so the image needs nothing but it. It runs as an unprivileged user (uid
# 10001). This file has not been built by a container engine where it was written (there was none);
# tests/testsuite/container.rs checks what it names against the build and runs its health check directly.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
# The dist profile (Cargo.toml): whole-program LTO for the shipped binary.
RUN cargo build --locked --profile dist --bin terminus

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 terminus \
    && useradd --system --uid 10001 --gid terminus --no-create-home --shell /usr/sbin/nologin terminus
COPY --from=build /src/target/dist/terminus /usr/local/bin/terminus
USER 10001:10001
EXPOSE 18080
# No curl in the image: terminus probes itself (exit 0 when up).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 CMD ["terminus", "health", "http://127.0.0.1:18080"]
ENTRYPOINT ["terminus"]
CMD ["serve", "--listen", "0.0.0.0:18080"]

# terminus in a container: the mock for a CI job's service container, and the conformance run.
#
#   docker build -t terminus .
#   docker run --rm -p 18080:18080 terminus                      # terminus serve on 0.0.0.0:18080
#   docker run --rm terminus run --junit /dev/stdout             # the conformance cases (built in)
#
# Off loopback the control API needs a token: pass one (-e TERMINUS_CONTROL_TOKEN=…) or read the one `serve` prints.
# The cases are built into the binary, so the image needs nothing but it.

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --locked --release --bin terminus

FROM debian:bookworm-slim
COPY --from=build /src/target/release/terminus /usr/local/bin/terminus
USER nobody
EXPOSE 18080
ENTRYPOINT ["terminus"]
CMD ["serve", "--listen", "0.0.0.0:18080"]

# syntax=docker/dockerfile:1
# Images for iris-mirror-agent and for irissim (a simulated IRIS member):
# a static Go binary on distroless, non-root, nothing written to disk.
#
#   docker build -t iris-mirror-agent .                        # the agent (default target)
#   docker build --target irissim -t irissim .                 # the simulator
#   docker build --build-arg VERSION=v0.1.0 -t iris-mirror-agent:v0.1.0 .
#
# Both run with a read-only root filesystem (docker run --read-only,
# compose read_only: true, Kubernetes readOnlyRootFilesystem: true).

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
# CGO off: a static binary that needs nothing from the image (no libc).
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X github.com/irismirror/iris-mirror-agent/buildinfo.Version=${VERSION}" -o /out/iris-mirror-agent ./cmd/iris-mirror-agent
RUN go build -trimpath -ldflags "-s -w -X github.com/irismirror/iris-mirror-agent/buildinfo.Version=${VERSION}" -o /out/iris-mirror-check ./cmd/iris-mirror-check
RUN go build -trimpath -ldflags "-s -w -X github.com/irismirror/iris-mirror-agent/buildinfo.Version=${VERSION}" -o /out/irissim ./cmd/irissim

# The simulated member: web (mirror_status.cxw and the application) on
# 52773, SuperServer on 1972; its control endpoint stays on 127.0.0.1:52780
# (docker exec CONTAINER /irissim set backup).
FROM gcr.io/distroless/static-debian12:nonroot AS irissim
COPY --from=build /out/irissim /irissim
USER 65532:65532
EXPOSE 52773 1972
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/irissim", "get"]
ENTRYPOINT ["/irissim"]
CMD ["serve", "--web", ":52773", "--superserver", ":1972"]

# The agent (last stage: the default target). Ports: 9797 HTTP (/primary
# /standby /health /live /status), 9798 haproxy agent-check. Gates (serve
# --gate LISTEN=TARGET, for stock nginx) listen where configured: by
# convention 52774 (web, to 127.0.0.1:52773) and 1973 (SuperServer, to
# 127.0.0.1:1972); publish them as you configure them.
# iris-mirror-check is the small binary for process-per-check callers
# (haproxy external-check, this HEALTHCHECK): it starts in a fraction of
# the agent's CPU (docs/external-check.md).
FROM gcr.io/distroless/static-debian12:nonroot AS agent
COPY --from=build /out/iris-mirror-agent /iris-mirror-agent
COPY --from=build /out/iris-mirror-check /iris-mirror-check
USER 65532:65532
EXPOSE 9797 9798
# "healthy" means the agent runs and its probes are fresh (/live), so a
# healthy backup's container is healthy too. iris-mirror-check reads
# iris-mirror-agent healthcheck's settings (MIRROR_AGENT_HTTP_LISTEN,
# MIRROR_AGENT_HEALTHCHECK_*) and hands the ones it does not speak (TLS, a
# URL) to /iris-mirror-agent healthcheck; exit 0 or 1, never 2.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/iris-mirror-check", "healthcheck"]
ENTRYPOINT ["/iris-mirror-agent"]
CMD ["serve"]

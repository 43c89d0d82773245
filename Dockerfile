# syntax=docker/dockerfile:1
# Gatehouse: Envoy ext_authz server. Two stages: compile with dev dependencies, then run with
# production dependencies only, as a non-root user, on a read-only root filesystem.
ARG NODE_IMAGE=node:26-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts are not needed by the runtime dependencies and are not run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force
COPY --from=build /src/dist/src ./dist/src
COPY proto ./proto
# Files stay owned by root and read-only to the service user; nothing is written at run time.
USER 65532:65532
EXPOSE 9001 9002 9090
# The slim image has no curl: ask node itself. Kubernetes ignores this and uses the pod's probes.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9090/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Node's flags for serving (SERVING_NODE_FLAGS in src/service/startup-heap.ts): two JIT tiers and
# three V8 worker threads fewer, 5-6 MB less idle RSS per pod on Node 26 (78-79 against 84-85 MB).
ENTRYPOINT ["node", "--no-maglev", "--no-sparkplug", "--v8-pool-size=1", "dist/src/cli.js"]
CMD ["serve"]

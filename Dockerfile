# syntax=docker/dockerfile:1
#
# One image for every service of the platform and its provisioning job. The command selects what
# runs (the entry point is `node -r @swc-node/register`, as in tools/platform/services.sh):
#
#   docker build -t ancillary-hub:local .
#   docker run --rm ancillary-hub:local                                   # lab-gateway (default)
#   docker run --rm ancillary-hub:local apps/radiology-gateway/src/main.ts
#   docker run --rm ancillary-hub:local apps/pharmacy-gateway/src/main.ts
#   docker run --rm ancillary-hub:local apps/normalizer/src/main.ts
#   docker run --rm ancillary-hub:local apps/ehr-writer/src/main.ts
#   docker run --rm ancillary-hub:local apps/billing-trigger/src/main.ts
#   docker run --rm ancillary-hub:local tools/contracts/provision.ts      # before the services
#
# NOT BUILT ON THE DEV/CI MACHINES: they have the docker CLI but no Docker engine, so this file
# has never been built or run there. It was written against the repository as it is and checked
# by reading, and its build context, smoke test and runtime settings were rehearsed without Docker
# (deploy/README.md, "What was checked"). The build-time smoke test below is what catches a
# missing file or module on a real build.
#
# There is no separate build step in this repository: every service and tool runs its TypeScript
# sources through @swc-node/register (transpiled in memory at start-up, path aliases from
# tsconfig.base.json). The image therefore ships the sources, tsconfig*.json and the workspace's
# node_modules, and runs them exactly the way `npm run services:up` does on a developer machine.

# Pin it by digest for reproducible builds (--build-arg NODE_IMAGE=node:24-bookworm-slim@sha256:…).
ARG NODE_IMAGE=node:24-bookworm-slim

# --- dependencies --------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# `npm ci` installs exactly the lockfile. Development dependencies stay: @swc-node/register,
# @swc/core and typescript (which the register hook loads) are devDependencies, and they are the
# runtime launcher here. NODE_ENV is deliberately unset in this stage: NODE_ENV=production would
# make npm omit them.
# --ignore-scripts: no install script is needed at run time. The ones in the tree are the `node`
# package's (it downloads a second Node binary for npm scripts; the image has its own Node 24),
# @swc/core's (checks that its native binding, an optional dependency npm already installed for
# this platform, loads), nx's, protobufjs's (a version notice), and native builds of tools the
# services never load (cpu-features, @parcel/watcher).
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/node node_modules/.bin/node

# --- runtime -------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: it forwards SIGTERM/SIGINT to node (whose shutdown hooks stop taking work, finish
# the messages in hand, commit and disconnect) and reaps zombies. Node itself as PID 1 would ignore
# SIGTERM until the app has installed its handlers (the kernel gives PID 1 no default action), so
# a pod stopped during start-up would wait for SIGKILL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# NODE_OPTIONS: the same flag as the local launcher (kafkajs schedules negative timeouts).
#
# The transpiler writes at start-up, so /tmp must be writable (an emptyDir in Kubernetes, a tmpfs
# in docker-compose.yml; the rest of the filesystem can be read-only). Both were reproduced on a
# read-only root with the exact dependency versions of package-lock.json:
# - SWC_NODE_CACHE_DIR: @swc-node/register keeps a transform cache on disk and the service dies at
#   start-up (ENOENT from mkdir) when it cannot create it. SWC_NODE_CACHE=0 turns it off instead.
# - SWC_NATIVE_BINDING_CACHE: @swc/core's native addon ships compressed and is unpacked (~30 MB)
#   into this directory on first load; it refuses to load ("Failed to load native binding") when
#   the directory cannot be written, or when a parent directory is world-writable without the
#   sticky bit — as a Kubernetes emptyDir is (0777). deploy/k8s therefore also sets
#   SWC_NATIVE_BINDING_CACHE_SKIP_SECURITY_CHECK=1 (see the note there); a tmpfs is 1777 (sticky)
#   and needs nothing more.
ENV NODE_ENV=production \
    NODE_OPTIONS=--disable-warning=TimeoutNegativeWarning \
    SWC_NODE_CACHE_DIR=/tmp/swc-node \
    SWC_NATIVE_BINDING_CACHE=/tmp/swc-native

COPY --from=deps /app/node_modules ./node_modules
# What .dockerignore lets in: manifests, tsconfig (the register hook reads ./tsconfig.json and
# its paths), the apps, the libs (libs/terminology/data is the default TERMINOLOGY_DIR,
# libs/billing/charge-master/data the default CHARGE_MASTER_DIR) and the
# tools an operator runs in a pod (provisioning, topic tail, dead-letter replay, reconcile).
COPY package.json package-lock.json tsconfig.json tsconfig.base.json ./
COPY apps ./apps
COPY libs ./libs
COPY tools ./tools

# Files stay owned by root and read-only to the service user.
USER 1000:1000

# Smoke test at build time: each entry point must load every module it imports (transpiled, path
# aliases resolved) and then refuse the empty configuration with its documented exit status —
# 78 for a service, 2 for a tool. A file missing from the image fails the build here, not in a pod.
# The native addon it unpacks into /tmp is removed again: it must not end up in the layer.
RUN set -u; \
    check() { \
      expected=$1; shift; \
      out="$(SWC_NODE_CACHE=0 node -r @swc-node/register "$@" 2>&1)"; status=$?; \
      if [ "$status" -ne "$expected" ]; then \
        printf '%s\n' "$out" >&2; \
        echo "smoke test: $* exited $status, expected $expected" >&2; \
        exit 1; \
      fi; \
    }; \
    check 78 apps/lab-gateway/src/main.ts; \
    check 78 apps/radiology-gateway/src/main.ts; \
    check 78 apps/pharmacy-gateway/src/main.ts; \
    check 78 apps/normalizer/src/main.ts; \
    check 78 apps/ehr-writer/src/main.ts; \
    check 78 apps/billing-trigger/src/main.ts; \
    check 2 tools/contracts/provision.ts; \
    check 2 tools/kafka/tail.ts; \
    check 2 tools/ops/dlt-replay.ts; \
    check 2 tools/ops/reconcile.ts; \
    rm -rf /tmp/swc-native

# MLLP (lab-, radiology-, pharmacy-gateway) and the HTTP ports of lab-gateway, normalizer,
# ehr-writer, radiology-gateway, pharmacy-gateway, billing-trigger (/health, /ready, /metrics; the
# ehr-writer's FHIR API at /fhir, the pharmacy-gateway's POST /fhir/MedicationDispense, the
# billing-trigger's /admin/charge-master). Documentation only: one image, several services.
EXPOSE 2575 2576 2577 8081 8082 8083 8084 8085 8086

# No HEALTHCHECK: Kubernetes ignores it and uses the probes in deploy/k8s; docker-compose.yml
# declares its own per service, since the port differs by service.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "-r", "@swc-node/register"]
CMD ["apps/lab-gateway/src/main.ts"]

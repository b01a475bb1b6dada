# The relay image (ghcr.io/videocall-global/relay): relay/ and protocol/ bundled by esbuild into one
# file; the only package at run time is a uWebSockets.js build, whose native addon cannot be bundled.
# Build from the repository root: docker build -t ghcr.io/videocall-global/relay:0.1.0 .

# Node 24 (LTS) on Debian 13: the @btc-vision/uwebsockets.js addons need glibc >= 2.38 (Debian 12 has
# 2.36), and the addon is chosen by Node ABI (137 = Node 24). tools/image-node pins the same Node
# version for the tests; tests/relay/image-node.test.ts checks that the two agree.
ARG NODE_IMAGE=node:24.21.0-trixie-slim
# Either build relay/uws.ts knows: @btc-vision/uwebsockets.js (Node 20-25, glibc >= 2.38) or
# uWebSockets.js (the trufflesuite build: Node <= 20 only, for NODE_IMAGE=node:20-bookworm-slim).
ARG UWS_PACKAGE=@btc-vision/uwebsockets.js

FROM ${NODE_IMAGE} AS build
ARG UWS_PACKAGE
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the bundle needs only esbuild (its binary comes in a platform package) and the
# uWebSockets.js builds (addons shipped in the packages); other packages' scripts would need a compiler.
# npm ci checks every tarball against the sha512 in package-lock.json.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY protocol ./protocol
COPY relay ./relay
# Syntax target Node 20: the oldest Node either uWS build runs on.
RUN npx esbuild relay=relay/main.ts uws-check=relay/uws-check.ts --bundle --platform=node --target=node20 \
      --external:uWebSockets.js --external:@btc-vision/uwebsockets.js --outdir=/out
# Keep only UWS_PACKAGE with only this platform's addon (the packages ship every platform's) and
# without the trufflesuite JS fallback; then fail the build here, not in production, unless the
# relay's own loader (uws-check.js) loads that addon under this image's Node.
RUN set -eu; \
    keep="uws_linux_$(node -p process.arch)_$(node -p process.versions.modules).node"; \
    src="node_modules/$UWS_PACKAGE"; \
    dst="/out/node_modules/$UWS_PACKAGE"; \
    test -n "$(find "$src" -name "$keep")" || { echo "$UWS_PACKAGE has no $keep: no addon for this Node" >&2; exit 1; }; \
    mkdir -p "$(dirname "$dst")"; \
    cp -r "$src" "$dst"; \
    find "$dst" -name '*.node' ! -name "$keep" -delete; \
    rm -rf "$dst/dist" "$dst/docs" "$dst/src/fallback" "$dst/node_modules"; \
    cd /out; \
    node uws-check.js; \
    node relay.js --help >/dev/null

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production PORT=8080
WORKDIR /app
COPY --from=build --chown=root:root /out/ ./
# The `node` user (uid 1000) of the official image; nothing in /app is writable by it.
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz',r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# SIGTERM (the default stop signal) drains: clients get 1001, PARTICIPANT_LEFT is announced.
CMD ["node", "relay.js"]

# The relay image (ghcr.io/videocall-global/relay): relay/ and protocol/ bundled by esbuild into one
# file; the only package at run time is uWebSockets.js, whose native addon cannot be bundled.
# Build from the repository root: docker build -t ghcr.io/videocall-global/relay:0.1.0 .

# Node 20 matters: the uWebSockets.js addon is chosen by Node ABI (115 = Node 20).
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No install scripts: the bundle needs only esbuild (its binary comes in a platform package) and
# uWebSockets.js (addons shipped in the package); other packages' scripts would need a compiler.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY protocol ./protocol
COPY relay ./relay
RUN npx esbuild relay/main.ts --bundle --platform=node --target=node20 \
      --external:uWebSockets.js --outfile=/out/relay.js
# Keep only this platform's uWS addon (the package ships every platform's) and drop its JS
# fallback; then fail the build here, not in production, if the addon does not load.
RUN set -eu; \
    keep="uws_linux_$(node -p process.arch)_$(node -p process.versions.modules).node"; \
    mkdir -p /out/node_modules; \
    cp -r node_modules/uWebSockets.js /out/node_modules/uWebSockets.js; \
    cd /out/node_modules/uWebSockets.js; \
    test -f "binaries/$keep"; \
    find binaries -type f ! -name "$keep" -delete; \
    rm -rf dist docs node_modules; \
    cd /out; \
    node -e "require('./node_modules/uWebSockets.js/binaries/$keep')"; \
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

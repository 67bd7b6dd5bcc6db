#!/usr/bin/env bash
# The one entry point behind the README's commands (`npm run demo`, `npm test`, `npm run bench`).
# It needs only Node.js (>= 20.19) and npm, on Linux or macOS: it installs the pinned pnpm into
# .tools/, the workspace, and the release tools (scripts/tools: a local registry, publint, attw).
# System packages (Debian's chromium for its SwiftShader Vulkan driver, libvulkan1) are installed
# only in CI (CI=true) or when asked (MINIBATCH_SYSTEM_PACKAGES=1); elsewhere the tests that need
# a browser or a WebGPU adapter are skipped with the reason printed.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
cmd=${1:-test}
shift || true

export TURBO_TELEMETRY_DISABLED=1 TURBO_NO_UPDATE_NOTIFIER=1 NPM_CONFIG_UPDATE_NOTIFIER=false
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}

pnpm_version=$(node -p "require('./package.json').packageManager.split('@')[1]")

ensure_pnpm() {
  if command -v pnpm >/dev/null 2>&1 && [ "$(pnpm --version 2>/dev/null)" = "$pnpm_version" ]; then
    return
  fi
  if [ ! -x "$root/.tools/node_modules/.bin/pnpm" ] ||
    [ "$("$root/.tools/node_modules/.bin/pnpm" --version)" != "$pnpm_version" ]; then
    echo "› installing pnpm@$pnpm_version into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$root/.tools" "pnpm@$pnpm_version" >/dev/null
  fi
  export PATH="$root/.tools/node_modules/.bin:$PATH"
}

# SwiftShader (shipped by Debian's chromium) is the Vulkan driver that lets Dawn run WebGPU
# on a machine without a GPU; see "Toolchain pins and known traps" in CONTRIBUTING.md.
swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json
ensure_system_packages() {
  local missing=() libs
  [ -x /usr/bin/chromium ] && [ -f "$swiftshader" ] || missing+=(chromium)
  # Captured first: `ldconfig -p | grep -q` fails now and then under pipefail (grep exits early
  # and ldconfig gets SIGPIPE).
  libs=$(ldconfig -p 2>/dev/null || true)
  [[ $libs == *libvulkan.so.1* ]] || missing+=(libvulkan1)
  [ ${#missing[@]} -eq 0 ] && return
  if [ "${CI:-}" != "true" ] && [ "${MINIBATCH_SYSTEM_PACKAGES:-}" != "1" ]; then
    echo "› not installing system packages (${missing[*]}): browser and WebGPU tests will be skipped;"
    echo "  on Debian/Ubuntu, MINIBATCH_SYSTEM_PACKAGES=1 npm test installs them with apt-get"
    return
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "› cannot install ${missing[*]}: no apt-get here (install Chromium yourself and set CHROMIUM_PATH)" >&2
    [ "${CI:-}" = "true" ] && exit 1
    return
  fi
  echo "› installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

use_swiftshader_when_no_gpu() {
  if [ -z "${VK_ICD_FILENAMES:-}" ] && [ ! -e /dev/dri/renderD128 ] && [ ! -e /dev/nvidia0 ] && [ -f "$swiftshader" ]; then
    export VK_ICD_FILENAMES=$swiftshader
  fi
  export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
}

# Folders installed with npm from their own lockfile, outside the pnpm workspace: scripts/tools
# (verdaccio, publint, attw for the release checks) and docs (VitePress, TypeDoc). Reinstalled
# when the lockfile changes; after that they work offline.
ensure_npm_folder() {
  local dir="$root/$1" stamp want
  stamp="$dir/node_modules/.lock-stamp"
  want=$(cksum <"$dir/package-lock.json")
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "› installing $1/ with npm ci"
    npm ci --silent --no-audit --no-fund --prefix "$dir" >/dev/null
    echo "$want" >"$stamp"
  fi
}

install_workspace() {
  ensure_pnpm
  if [ "${CI:-}" = "true" ]; then
    pnpm install --frozen-lockfile --reporter=append-only
  else
    pnpm install --reporter=silent
  fi
}

case "$cmd" in
  test)
    ensure_system_packages
    install_workspace
    ensure_npm_folder scripts/tools
    use_swiftshader_when_no_gpu
    # In CI a missing browser or WebGPU adapter is a failure, never a skip; elsewhere those tests
    # are skipped with the reason printed.
    if [ "${CI:-}" = "true" ]; then
      export MINIBATCH_REQUIRE_WEBGPU=${MINIBATCH_REQUIRE_WEBGPU:-1}
    fi
    pnpm exec biome check .
    # Two tasks at a time: the machines have 2 cores, and the WebGPU suites run on the CPU (SwiftShader).
    pnpm exec turbo run build typecheck lint test --output-logs=new-only --concurrency=2 --continue "$@"
    # Every ts/js code block of the guides runs against the built packages.
    node scripts/docs-test.mjs
    # Publish to a local registry, install each package from it with npm, run the README examples.
    node scripts/registry-test.mjs
    ;;
  demo)
    # Setup output goes to stderr and pnpm's script banner is silenced, so that stdout carries only
    # the demo's own output (`npm run demo -- --json > out.json` must be one JSON document).
    install_workspace >&2
    pnpm exec turbo run build --filter=@minibatch/demo... --output-logs=errors-only >&2
    pnpm --silent --filter @minibatch/demo run start "$@"
    ;;
  demo:web)
    # Serves the page to your own browser: no system packages needed.
    install_workspace
    pnpm exec turbo run build --filter=@minibatch/demo... --output-logs=errors-only
    pnpm --filter @minibatch/demo run web "$@"
    ;;
  bench)
    ensure_system_packages
    install_workspace
    use_swiftshader_when_no_gpu
    pnpm exec turbo run build --output-logs=errors-only
    pnpm --filter @minibatch/bench run bench "$@"
    ;;
  docs)
    # The docs site (docs/.vitepress/dist) with the API reference from the TSDoc comments
    # (docs/public/api). Offline once docs/ is installed.
    install_workspace
    ensure_npm_folder docs
    (cd docs && ./node_modules/.bin/typedoc && ./node_modules/.bin/vitepress build .)
    echo "› docs built: docs/.vitepress/dist (preview: cd docs && npx vitepress preview .)"
    ;;
  release)
    # What CI runs on the main branch after the version PR is merged: build, then publish every
    # package whose version is not on npm yet, with provenance (needs an npm token and, for the
    # provenance statement, a CI with OIDC such as GitHub Actions with `id-token: write`).
    install_workspace
    pnpm exec turbo run build --output-logs=errors-only
    NPM_CONFIG_PROVENANCE=true pnpm exec changeset publish "$@"
    ;;
  *)
    echo "usage: scripts/run.sh test|demo|demo:web|bench|docs|release [args]" >&2
    exit 2
    ;;
esac

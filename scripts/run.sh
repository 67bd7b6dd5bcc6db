#!/usr/bin/env bash
# The one entry point behind the README's commands (`npm run demo`, `npm test`, `npm run bench`).
# It needs only Node.js 20 and npm: it installs the pinned pnpm into .tools/, the Debian packages
# the WebGPU tests need (chromium for its SwiftShader Vulkan driver, libvulkan1), and the workspace.
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
# on a machine without a GPU; see shared/TOOLCHAIN.md.
swiftshader=/usr/lib/chromium/vk_swiftshader_icd.json
ensure_system_packages() {
  local missing=()
  [ -x /usr/bin/chromium ] && [ -f "$swiftshader" ] || missing+=(chromium)
  ldconfig -p 2>/dev/null | grep -q libvulkan.so.1 || missing+=(libvulkan1)
  [ ${#missing[@]} -eq 0 ] && return
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
    use_swiftshader_when_no_gpu
    # In the test command a missing WebGPU adapter is a failure, never a skip.
    export MINIBATCH_REQUIRE_WEBGPU=${MINIBATCH_REQUIRE_WEBGPU:-1}
    pnpm exec biome check .
    # Two tasks at a time: the machines have 2 cores, and the WebGPU suites run on the CPU (SwiftShader).
    pnpm exec turbo run build typecheck lint test --output-logs=new-only --concurrency=2 --continue "$@"
    node scripts/install-test.mjs
    ;;
  demo)
    # Setup output goes to stderr and pnpm's script banner is silenced, so that stdout carries only
    # the demo's own output (`npm run demo -- --json > out.json` must be one JSON document).
    install_workspace >&2
    pnpm exec turbo run build --filter=@minibatch/demo... --output-logs=errors-only >&2
    pnpm --silent --filter @minibatch/demo run start "$@"
    ;;
  demo:web)
    ensure_system_packages
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
  *)
    echo "usage: scripts/run.sh test|demo|demo:web|bench [args]" >&2
    exit 2
    ;;
esac

#!/usr/bin/env bash
# Regenerates the golden outputs under tests/golden/<name>/ on purpose, after a change that is
# meant to move the numbers (a cost model, a policy, an output format). Review the diff before
# committing it: tests/cli/golden_test.cc compares these files byte for byte.
#
#   tools/regen_golden.sh            every golden scenario
#   tools/regen_golden.sh NAME...    only these
# Uses $FLOWKV_BIN, else build/flowkv (tools/build.sh builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${FLOWKV_BIN:-build/flowkv}
if [ ! -x "$bin" ]; then
  echo "regen_golden: $bin not found; build it first (tools/build.sh) or set FLOWKV_BIN" >&2
  exit 2
fi
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for d in tests/golden/*/; do names+=("$(basename "$d")"); done
fi
for name in "${names[@]}"; do
  dir=tests/golden/$name
  if [ ! -f "$dir/scenario.json" ]; then
    echo "regen_golden: $dir/scenario.json not found" >&2
    exit 2
  fi
  args=()
  if [ -f "$dir/args.txt" ]; then read -r -a args < "$dir/args.txt"; fi
  out=$(mktemp -d)
  "$bin" simulate --scenario "$dir/scenario.json" "${args[@]}" --quiet --out "$out" >/dev/null
  # run.json holds wall-clock figures: never golden.
  for f in "$out"/*; do
    case "$(basename "$f")" in run.json) ;; *) cp "$f" "$dir/" ;; esac
  done
  rm -rf "$out"
  echo "regenerated $dir: $(cd "$dir" && ls | grep -v -e '^scenario.json$' -e '^args.txt$' | tr '\n' ' ')"
done

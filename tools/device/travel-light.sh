#!/usr/bin/env bash
# The device call sends the working tree of the main checkout (tracked files included) and the carried paths,
# 64 MiB in all; the tracked tree is about 55 MiB, so a Java runtime (~13 MB) only fits without the two demo
# GGUFs (34 MB). `travel-light.sh out` moves them to /tmp/cascade-travel-light before a device call,
# `travel-light.sh back` moves them back (and takes from git any that is still missing; safe to run when they were
# never moved).
# A call that needs the demo weights carries a copy under .device/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
case "${1:-}" in
  out) mkdir -p /tmp/cascade-travel-light
       for f in "$root"/sample-data/models/demo-F16.gguf "$root"/sample-data/models/demo-Q8_0.gguf; do
         [[ -f "$f" ]] && mv "$f" /tmp/cascade-travel-light/
       done
       git -C "$root" ls-files -z | (cd "$root" && xargs -0 du -cb 2>/dev/null | tail -1) ;;
  back) # the moved files first (they may be newer than the committed ones), then git for any still missing
        for f in /tmp/cascade-travel-light/*.gguf; do
          [[ -f "$f" ]] && mv "$f" "$root/sample-data/models/"
        done
        for f in $(git -C "$root" ls-files sample-data/models); do
          [[ -f "$root/$f" ]] || git -C "$root" checkout -- "$f"
        done
        git -C "$root" status --short sample-data/models ;;
  *) echo "usage: travel-light.sh out|back" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Writes the version and git commit that `attnface --version` prints (Maven runs it at generate-resources).
# Outside a git checkout the commit is "unknown"; "+changes" marks a build with uncommitted edits.
set -eu
out=$1 version=$2
mkdir -p "$(dirname "$out")"
here=$(dirname "$0")
commit=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && ! git -C "$here" diff --quiet HEAD -- 2>/dev/null; then commit="$commit+changes"; fi
printf 'version=%s\ncommit=%s\n' "$version" "$commit" > "$out"

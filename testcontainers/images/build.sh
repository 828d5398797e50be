#!/usr/bin/env bash
# testcontainers/images/build.sh -- build the container suite's images locally, with no registry.
#
#   build.sh [redis|haproxy|upstream|gatewayd ...]     (no argument: all four)
#
# tollgate/redis:local     Debian's redis-server (the real binary behind the redis-check-rdb symlink, copied in
#                          under the name redis-server), redis-cli, the libraries ldd lists and the loader, all
#                          mode 755, tar | docker import. Always run it with --protected-mode no.
# tollgate/haproxy:local   Debian's haproxy imaged the same way; the config is copied in at /etc/haproxy/haproxy.cfg.
# tollgate/upstream:local  gatewayd/cmd/demo-upstream (service time per path prefix), CGO_ENABLED=0, FROM scratch,
#                          docker build (classic builder).
# tollgate/gatewayd:local  ./gatewayd, CGO_ENABLED=0, FROM scratch, docker build (classic builder).
#
# Every image carries the label org.tollgate.inputs=<sha256 of its inputs: files, import changes, this script>;
# an image whose label matches is not rebuilt, so a second run costs a few Go cache hits and hashes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SELF="$ROOT/testcontainers/images/build.sh"
TAG=${TOLLGATE_IMAGE_TAG:-local}
LABEL=org.tollgate.inputs
GO=${GO:-go}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

log() { printf 'images: %s\n' "$*" >&2; }

# current_hash IMAGE -> the inputs label of IMAGE, or nothing.
current_hash() { docker image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# tree_hash DIR EXTRA... -> sha256 over every file's path, mode and content under DIR, the extra strings and this script.
tree_hash() {
	local dir=$1; shift
	{
		(cd "$dir" && find . \( -type f -o -type l \) -printf '%p %m %l\n' | LC_ALL=C sort)
		(cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
		printf '%s\n' "$@"
		sha256sum <"$SELF"
	} | sha256sum | cut -d' ' -f1
}

# stage_elf ROOTFS DEST SRC: copy SRC's real file to ROOTFS/DEST plus every library ldd lists and the loader, mode 755.
stage_elf() {
	local r=$1 dest=$2 src=$3 lib
	install -D -m755 "$(readlink -f "$src")" "$r$dest"
	for lib in $(ldd "$src" | awk '$2=="=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u); do
		[ -e "$r$lib" ] || install -D -m755 "$(readlink -f "$lib")" "$r$lib"
	done
}

# base_rootfs DIR: the few files a scratch rootfs needs for name lookups and temp files.
base_rootfs() {
	local r=$1
	mkdir -p "$r/etc" "$r/tmp" "$r/data"
	chmod 1777 "$r/tmp"
	printf 'root:x:0:0:root:/:/nonexistent\nnobody:x:65534:65534:nobody:/:/nonexistent\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
	printf 'hosts: files dns\n' >"$r/etc/nsswitch.conf"
}

# BUILT is set to 1 by import_rootfs and build_go when they (re)build an image.
BUILT=0

# smoke IMAGE ARGS...: run the image once (docker run --rm) and show the first line it prints.
smoke() {
	local img=$1; shift
	local out
	out=$(docker run --rm "$img" "$@" 2>&1) || { log "$img does not run: $out"; return 1; }
	log "$img runs: $(printf '%s\n' "$out" | head -1)"
}

# import_rootfs IMAGE ROOTFS CHANGE...: tar | docker import unless the inputs label already matches.
import_rootfs() {
	local img=$1 r=$2; shift 2
	local h
	h=$(tree_hash "$r" "$@")
	if [ "$(current_hash "$img")" = "$h" ]; then
		log "$img up to date (${h:0:12})"
		return
	fi
	local args=() c
	for c in "$@"; do args+=(--change "$c"); done
	args+=(--change "LABEL $LABEL=$h" --change "LABEL org.tollgate.image=true")
	tar -C "$r" --numeric-owner --owner=0 --group=0 -c . | docker import "${args[@]}" - "$img" >/dev/null
	BUILT=1
	log "$img imported (${h:0:12}, $(du -sh "$r" | cut -f1))"
}

# build_go IMAGE PKG PORTS ENTRYPOINT_JSON: static build, FROM scratch, docker build with a local context.
build_go() {
	local img=$1 pkg=$2 ports=$3 entry=$4
	local ctx=$W/ctx-${img//[:\/]/-}
	mkdir -p "$ctx/rootfs/tmp" "$ctx/rootfs/data" "$ctx/rootfs/etc"
	chmod 1777 "$ctx/rootfs/tmp"
	printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
	(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOFLAGS=-mod=mod "$GO" build -trimpath -ldflags='-s -w -buildid=' \
		-o "$ctx/rootfs/app" "$pkg")
	cat >"$ctx/Dockerfile" <<-EOF
	FROM scratch
	COPY rootfs/ /
	EXPOSE $ports
	STOPSIGNAL SIGTERM
	ENTRYPOINT $entry
	EOF
	local h
	h=$(tree_hash "$ctx")
	if [ "$(current_hash "$img")" = "$h" ]; then
		log "$img up to date (${h:0:12})"
		return
	fi
	DOCKER_BUILDKIT=0 docker build -q --label "$LABEL=$h" --label org.tollgate.image=true -t "$img" "$ctx" \
		>/dev/null 2>"$W/build.err" || { cat "$W/build.err" >&2; return 1; }
	BUILT=1
	log "$img built (${h:0:12}, $(du -sh "$ctx/rootfs/app" | cut -f1))"
}

need_debian() {
	local bin=$1 pkg=$2
	type -P "$bin" >/dev/null && return
	log "installing $pkg from Debian's mirror"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null
}

img_redis() {
	need_debian redis-check-rdb redis-tools
	local r=$W/redis
	base_rootfs "$r"
	# /usr/bin/redis-server is a symlink to redis-check-rdb; the binary picks its mode from argv[0].
	stage_elf "$r" /usr/bin/redis-server "$(type -P redis-check-rdb)"
	stage_elf "$r" /usr/bin/redis-cli "$(type -P redis-cli)"
	import_rootfs "tollgate/redis:$TAG" "$r" \
		'ENTRYPOINT ["/usr/bin/redis-server"]' \
		'CMD ["--protected-mode","no","--save","","--appendonly","no"]' \
		'WORKDIR /data' 'EXPOSE 6379/tcp'
	[ "$BUILT" = 0 ] || smoke "tollgate/redis:$TAG" --version
}

img_haproxy() {
	need_debian haproxy haproxy
	local r=$W/haproxy
	base_rootfs "$r"
	mkdir -p "$r/etc/haproxy" "$r/run/haproxy" "$r/var/lib/haproxy"
	stage_elf "$r" /usr/sbin/haproxy "$(type -P haproxy)"
	import_rootfs "tollgate/haproxy:$TAG" "$r" \
		'ENTRYPOINT ["/usr/sbin/haproxy"]' \
		'CMD ["-db","-f","/etc/haproxy/haproxy.cfg"]' \
		'EXPOSE 8080/tcp 8404/tcp'
	[ "$BUILT" = 0 ] || smoke "tollgate/haproxy:$TAG" -v
}

img_upstream() {
	build_go "tollgate/upstream:$TAG" ./gatewayd/cmd/demo-upstream '9000/tcp' '["/app","-listen",":9000"]'
	[ "$BUILT" = 0 ] || smoke "tollgate/upstream:$TAG" -h
}

img_gatewayd() {
	if [ ! -f "$ROOT/gatewayd/main.go" ] && ! ls "$ROOT"/gatewayd/*.go >/dev/null 2>&1; then
		log "tollgate/gatewayd:$TAG: ./gatewayd does not exist yet; not built"
		return 3
	fi
	build_go "tollgate/gatewayd:$TAG" ./gatewayd '8080/tcp 9090/tcp' '["/app"]'
	[ "$BUILT" = 0 ] || smoke "tollgate/gatewayd:$TAG" -help
}

command -v docker >/dev/null || { log "docker CLI not found"; exit 2; }
docker info >/dev/null 2>&1 || { log "no Docker engine reachable"; exit 2; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(redis haproxy upstream gatewayd)
rc=0
for t in "${targets[@]}"; do
	case $t in
	redis | haproxy | upstream | gatewayd) BUILT=0; "img_$t" || rc=$? ;;
	*) log "unknown image $t (want redis, haproxy, upstream, gatewayd)"; exit 2 ;;
	esac
done
# Drop the images a rebuild left untagged.
docker image prune -f --filter label=org.tollgate.image=true >/dev/null || true
exit $rc

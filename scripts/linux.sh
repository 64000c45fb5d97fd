#!/usr/bin/env bash
# Boot Debian's stock amd64 kernel (CONFIG_XEN_PV=y) on pvsim: its package
# comes from Debian's registry with apt-get download, cached outside the
# repository; the bzImage in it is what pvsim runs.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/linux.sh [--dbg] [--fetch-only] [-- PVSIM_RUN_FLAGS... [-- KERNEL_ARGS...]]

Downloads the kernel package linux-image-amd64 depends on today
(linux-image-VERSION-amd64-unsigned) with apt-get download into
$PVSIM_CACHE (default ~/.cache/pvsim/debian), extracts
/boot/vmlinuz-VERSION, and runs

  pvsim run vmlinuz-VERSION --mem 512M --audit --audit-every 10ms -- earlyprintk=xen console=hvc0

--dbg also fetches linux-image-VERSION-amd64-dbg (about 860 MB) and runs its
vmlinux instead: the same load image, with symbols and DWARF, so pvsim
names functions and source lines.
--fetch-only prints the image's path and does not run it.
Flags after "--" replace pvsim run's (--mem 512M --audit --audit-every 10ms); after a second
"--", the kernel command line.
pvsim is built from this repository, or is $PVSIM if set.
USAGE
}

dbg=0
fetch_only=0
while [[ $# -gt 0 ]]; do
	case $1 in
	--dbg) dbg=1 ;;
	--fetch-only) fetch_only=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	{ echo "linux.sh: needs apt-get and dpkg-deb (a Debian system)" >&2; exit 1; }

cache=${PVSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvsim/debian}
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[[ -n $pkg ]] || { echo "linux.sh: apt-cache does not say which kernel linux-image-amd64 is (apt-get update?)" >&2; exit 1; }
version=${pkg#linux-image-}

fetch() { # package, then the files to extract from it
	local p=$1; shift
	if ! ls "$cache/${p}_"*.deb >/dev/null 2>&1; then
		(cd "$cache" && apt-get download "$p" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
	fi
	dpkg-deb --fsys-tarfile "$cache/${p}_"*.deb | tar -x -C "$cache" "$@"
}

image=$cache/boot/vmlinuz-$version
[[ -f $image ]] || fetch "$pkg-unsigned" "./boot/vmlinuz-$version"
if [[ $dbg == 1 ]]; then
	image=$cache/usr/lib/debug/boot/vmlinux-$version
	[[ -f $image ]] || fetch "$pkg-dbg" "./usr/lib/debug/boot/vmlinux-$version"
fi
if [[ $fetch_only == 1 ]]; then
	echo "$image"
	exit 0
fi

run_flags=(--mem 512M --audit --audit-every 10ms)
kernel_args=(earlyprintk=xen console=hvc0)
if [[ $# -gt 0 ]]; then
	run_flags=()
	while [[ $# -gt 0 && $1 != -- ]]; do run_flags+=("$1"); shift; done
	if [[ $# -gt 0 ]]; then shift; kernel_args=("$@"); fi
fi

if [[ -z ${PVSIM:-} ]]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	PVSIM=$(mktemp -d)/pvsim
	(cd "$root" && go build -o "$PVSIM" ./cmd/pvsim)
fi
exec "$PVSIM" run "$image" "${run_flags[@]}" -- "${kernel_args[@]}"

#!/usr/bin/env bash
# Boot Debian's stock amd64 kernel (CONFIG_XEN_PV=y) on pvsim, from an
# initramfs holding Debian's static BusyBox. Both packages come from
# Debian's registry with apt-get download, cached outside the repository;
# the initramfs is built here, never committed.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/linux.sh [--init shell|stress] [--dbg] [--fetch-only]
                        [-- PVSIM_RUN_FLAGS... [-- KERNEL_ARGS...]]

Downloads the kernel package linux-image-amd64 depends on today
(linux-image-VERSION-amd64-unsigned) and busybox-static with apt-get
download into $PVSIM_CACHE (default ~/.cache/pvsim/debian), extracts
/boot/vmlinuz-VERSION, BusyBox and the zram modules, packs an initramfs
(initrd-INIT.img, beside them) whose /init is scripts/initramfs/INIT.init,
and runs

  pvsim run vmlinuz-VERSION --initrd initrd-INIT.img --mem 512M --vcpus 2 -- console=hvc0

--init shell (the default): an interactive BusyBox shell on hvc0, fed
  from pvsim's standard input (Ctrl-] ends the run; `poweroff -f` ends it
  with status 0).
--init stress: no shell: with swap on zram, a memory hog makes the
  kernel reclaim while 1,000 processes fork, touch memory and exit
  (forks=N on the kernel command line changes the number); then it
  powers off.
--dbg also fetches linux-image-VERSION-amd64-dbg (about 860 MB) and runs
  its vmlinux instead: the same load image, with symbols and DWARF, so
  pvsim names functions and source lines.
--fetch-only prints the kernel's path and the initramfs's, one per line,
  and runs nothing.
Flags after "--" replace pvsim run's (--initrd is always given); after a
second "--", the kernel command line.
pvsim and the initramfs packer (cmd/initramfs) are built from this
repository, or are $PVSIM and $INITRAMFS if set.
USAGE
}

dbg=0
fetch_only=0
init=shell
while [[ $# -gt 0 ]]; do
	case $1 in
	--init) init=${2:?--init needs shell or stress}; shift ;;
	--dbg) dbg=1 ;;
	--fetch-only) fetch_only=1 ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
init_script=$root/scripts/initramfs/$init.init
[[ -f $init_script ]] || { echo "linux.sh: no such init: $init (shell or stress)" >&2; exit 2; }

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null ||
	{ echo "linux.sh: needs apt-get and dpkg-deb (a Debian system)" >&2; exit 1; }

cache=${PVSIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pvsim/debian}
mkdir -p "$cache"
pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
[[ -n $pkg ]] || { echo "linux.sh: apt-cache does not say which kernel linux-image-amd64 is (apt-get update?)" >&2; exit 1; }
version=${pkg#linux-image-}

download() { # package
	if ! ls "$cache/${1}_"*.deb >/dev/null 2>&1; then
		(cd "$cache" && apt-get download "$1" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) || true
		ls "$cache/${1}_"*.deb >/dev/null 2>&1 || { echo "linux.sh: apt-get download $1 failed" >&2; exit 1; }
	fi
}
extract() { # package, then the files to extract from it
	local p=$1; shift
	download "$p"
	dpkg-deb --fsys-tarfile "$cache/${p}_"*.deb | tar -x -C "$cache" "$@"
}

image=$cache/boot/vmlinuz-$version
[[ -f $image ]] || extract "$pkg-unsigned" "./boot/vmlinuz-$version"
if [[ $dbg == 1 ]]; then
	image=$cache/usr/lib/debug/boot/vmlinux-$version
	[[ -f $image ]] || extract "$pkg-dbg" "./usr/lib/debug/boot/vmlinux-$version"
fi
modules=lib/modules/$version/kernel
for m in mm/zsmalloc.ko drivers/block/zram/zram.ko; do
	[[ -f $cache/$modules/$m ]] || extract "$pkg-unsigned" "./$modules/$m"
done
[[ -f $cache/bin/busybox ]] || extract busybox-static ./bin/busybox

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -z ${INITRAMFS:-} ]]; then
	INITRAMFS=$tmp/initramfs
	(cd "$root" && go build -o "$INITRAMFS" ./cmd/initramfs)
fi

# The initramfs: BusyBox, the zram modules, the init script.
stage=$cache/initramfs-$init
rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules}
cp "$cache/bin/busybox" "$stage/bin/"
cp "$cache/$modules/mm/zsmalloc.ko" "$cache/$modules/drivers/block/zram/zram.ko" "$stage/lib/modules/"
install -m 755 "$init_script" "$stage/init"
initrd=$cache/initrd-$init.img
"$INITRAMFS" -o "$initrd" "$stage"

if [[ $fetch_only == 1 ]]; then
	echo "$image"
	echo "$initrd"
	exit 0
fi

if [[ -z ${PVSIM:-} ]]; then
	PVSIM=$tmp/pvsim
	(cd "$root" && go build -o "$PVSIM" ./cmd/pvsim)
fi
run_flags=(--mem 512M --vcpus 2)
kernel_args=(console=hvc0)
if [[ $# -gt 0 ]]; then
	run_flags=()
	while [[ $# -gt 0 && $1 != -- ]]; do run_flags+=("$1"); shift; done
	if [[ $# -gt 0 ]]; then shift; kernel_args=("$@"); fi
fi
"$PVSIM" run "$image" --initrd "$initrd" "${run_flags[@]}" -- "${kernel_args[@]}"

#!/usr/bin/env bash
# Build the Xen Test Framework (XTF) in its own tree and run its 64-bit PV
# tests under pvsim, one domain each: 'pvsim test' on every
# tests/*/test-pv64-* image, or on the tests named.
set -euo pipefail

usage() {
	cat <<'USAGE'
Usage: scripts/xtf.sh XTF_DIR [TEST...] [--] [PVSIM_TEST_FLAGS...]

Builds XTF in XTF_DIR with its own Makefile (make -k: a test that fails
to build does not stop the others), then runs 'pvsim test' on
the pv64 tests: every tests/*/test-pv64-* image, or each TEST named
(example, test-pv64-example, or a variation such as pv-iopl~vmassist).
A test is run through its configuration file, test-pv64-NAME.cfg, or
one run for each of its variations, test-pv64-NAME~VARIATION.cfg.

The arguments from the first one that begins with "-" on go to
'pvsim test' ("--" itself is dropped), e.g.:

  scripts/xtf.sh ../xtf --junit xtf.xml -j 2
  scripts/xtf.sh ../xtf example xsa-7 -- --timeout 5s

pvsim is built from this repository (go build ./cmd/pvsim, into a
temporary directory), or is $PVSIM if set (the path of a built pvsim).
XTF_MAKE_FLAGS adds to make's flags.
Exit status: pvsim test's (0 every test passed, 1 one did not, 2 a bad
command line), or 2 when XTF_DIR is not an XTF tree or a TEST is unknown.
USAGE
}

die() {
	echo "xtf.sh: $*" >&2
	exit 2
}

if [[ $# -eq 0 ]]; then
	usage >&2
	exit 2
fi
case $1 in
-h | -help | --help)
	usage
	exit 0
	;;
esac

xtf_dir=${1%/}
shift
if [[ ! -f $xtf_dir/Makefile || ! -f $xtf_dir/build/gen.mk || ! -d $xtf_dir/tests ]]; then
	die "$xtf_dir is not an XTF tree (want its Makefile, build/gen.mk and tests/)"
fi

tests=()
while [[ $# -gt 0 && $1 != -* ]]; do
	tests+=("$1")
	shift
done
if [[ $# -gt 0 && $1 == -- ]]; then
	shift
fi
pvsim_flags=("$@")

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

echo "xtf.sh: building XTF in $xtf_dir" >&2
# shellcheck disable=SC2086 # XTF_MAKE_FLAGS is a list of flags.
if ! make -C "$xtf_dir" -k -j "$(getconf _NPROCESSORS_ONLN)" ${XTF_MAKE_FLAGS:-} >&2; then
	echo "xtf.sh: some of XTF did not build (tests without pv64 support, for one); running the pv64 tests that did" >&2
fi

# configs IMAGE: what 'pvsim test' runs of the image: its configuration
# file, or one for each of its variations, or, with neither, the image.
configs() {
	local image=$1 cfg found=0
	if [[ -f $image.cfg ]]; then
		echo "$image.cfg"
		return
	fi
	for cfg in "$image"~*.cfg; do
		if [[ -f $cfg ]]; then
			echo "$cfg"
			found=1
		fi
	done
	if [[ $found -eq 0 ]]; then
		echo "$image"
	fi
}

args=()
if [[ ${#tests[@]} -eq 0 ]]; then
	for image in "$xtf_dir"/tests/*/test-pv64-*; do
		if [[ -f $image && $image != *.cfg ]]; then
			while IFS= read -r a; do args+=("$a"); done < <(configs "$image")
		fi
	done
	if [[ ${#args[@]} -eq 0 ]]; then
		die "no tests/*/test-pv64-* images in $xtf_dir: did XTF build?"
	fi
else
	for t in "${tests[@]}"; do
		name=${t#test-pv64-}
		base=${name%%~*}
		image=$xtf_dir/tests/$base/test-pv64-$base
		if [[ ! -f $image ]]; then
			die "no pv64 image of test $t ($image): no such test, or no pv64 support"
		fi
		if [[ $name == *~* ]]; then
			cfg=$image~${name#*~}.cfg
			[[ -f $cfg ]] || die "no variation ${name#*~} of test $base ($cfg)"
			args+=("$cfg")
		else
			while IFS= read -r a; do args+=("$a"); done < <(configs "$image")
		fi
	done
fi

pvsim=${PVSIM:-}
if [[ -z $pvsim ]]; then
	bin=$(mktemp -d)
	trap 'rm -rf "$bin"' EXIT
	go -C "$repo" build -o "$bin/pvsim" ./cmd/pvsim
	pvsim=$bin/pvsim
fi
status=0
"$pvsim" test "${pvsim_flags[@]}" "${args[@]}" || status=$?
exit "$status"

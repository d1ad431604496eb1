#!/bin/sh
# Installs devport from its release archives:
#   curl -fsSL https://github.com/devport-rs/devport/releases/latest/download/install.sh | sh
#   sh install.sh [--dir DIR]        (default: DEVPORT_INSTALL_DIR, else ~/.local/bin)
# Downloads SHA256SUMS and this OS and processor's archive from DEVPORT_INSTALL_URL (default:
# the latest release), refuses an archive whose SHA-256 is not the one listed, and puts the
# one binary into DIR. Nothing else on the system changes.
set -eu

say() { printf 'devport install: %s\n' "$*" >&2; }
die() {
  say "$1"
  exit "${2:-1}"
}

base=${DEVPORT_INSTALL_URL:-https://github.com/devport-rs/devport/releases/latest/download}
base=${base%/}
dir=${DEVPORT_INSTALL_DIR:-}
while [ $# -gt 0 ]; do
  case $1 in
  --dir)
    [ $# -ge 2 ] || die "--dir needs a folder: install.sh --dir DIR" 2
    dir=$2
    shift 2
    ;;
  --dir=*)
    dir=${1#--dir=}
    shift
    ;;
  -h | --help)
    sed -n '2,7s/^# \{0,1\}//p' "$0" 2>/dev/null || true
    exit 0
    ;;
  *) die "unknown argument '$1': the only option is --dir DIR" 2 ;;
  esac
done
if [ -z "$dir" ]; then
  [ -n "${HOME:-}" ] || die "HOME is not set: say where to install with --dir DIR" 2
  dir=$HOME/.local/bin
fi

arch=$(uname -m)
case $arch in
x86_64 | amd64) arch=x86_64 ;;
aarch64 | arm64) arch=aarch64 ;;
*) die "no devport build for the processor '$arch' (x86_64 and aarch64 only): cargo install devport builds one" ;;
esac
exe=devport
case $(uname -s) in
Linux) target=$arch-unknown-linux-musl ext=tar.gz ;;
Darwin)
  # A shell under Rosetta says x86_64 on an Apple silicon Mac: take the native build.
  [ "$(sysctl -n hw.optional.arm64 2>/dev/null || true)" = 1 ] && arch=aarch64
  target=$arch-apple-darwin ext=tar.gz
  ;;
MINGW* | MSYS* | CYGWIN*)
  [ "$arch" = x86_64 ] || die "no devport build for Windows on '$arch' (x86_64 only)"
  target=x86_64-pc-windows-gnu ext=zip exe=devport.exe
  ;;
*) die "no devport build for '$(uname -s)' (Linux, macOS and Windows only): cargo install devport builds one" ;;
esac

if command -v curl >/dev/null 2>&1; then
  fetch() { curl -fsSL --retry 2 -o "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget -q -O "$2" "$1"; }
else
  die "neither curl nor wget is installed: install one of them and run this again" 3
fi
if command -v sha256sum >/dev/null 2>&1; then
  sha256() { sha256sum "$1" | cut -d ' ' -f 1; }
elif command -v shasum >/dev/null 2>&1; then
  sha256() { shasum -a 256 "$1" | cut -d ' ' -f 1; }
else
  die "no SHA-256 tool (sha256sum or shasum) to check the download with: install coreutils" 3
fi

tmp=$(mktemp -d 2>/dev/null || mktemp -d -t devport)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "cannot download $base/SHA256SUMS: check the address and your connection" 3
# The line for this target's archive: "HASH  devport-VERSION-TARGET.EXT".
line=$(awk -v s="-$target.$ext" '{ n = $2; sub(/^\*/, "", n) }
  n ~ /^devport-[0-9A-Za-z.+_-]+$/ && substr(n, length(n) - length(s) + 1) == s { print $1, n; exit }' "$tmp/SHA256SUMS")
[ -n "$line" ] || die "$base/SHA256SUMS lists no archive for $target" 3
want=${line%% *} name=${line#* }
case $want in
*[!0-9a-f]* | "") die "$base/SHA256SUMS has no valid SHA-256 for $name" 3 ;;
esac
[ ${#want} -eq 64 ] || die "$base/SHA256SUMS has no valid SHA-256 for $name" 3

say "downloading $base/$name"
fetch "$base/$name" "$tmp/$name" || die "cannot download $base/$name: check the address and your connection" 3
got=$(sha256 "$tmp/$name")
[ "$got" = "$want" ] || die "refusing to install: the SHA-256 of $name is $got, SHA256SUMS says $want (a damaged or altered download; nothing was installed)"

top=${name%."$ext"}
if [ "$ext" = zip ]; then
  unzip -q "$tmp/$name" "$top/$exe" -d "$tmp" || die "cannot unpack $name (unzip)" 3
else
  tar -xzf "$tmp/$name" -C "$tmp" "$top/$exe" || die "cannot unpack $name (tar)" 3
fi

[ ! -d "$dir/$exe" ] || die "$dir/$exe is a folder: remove it or install elsewhere with --dir DIR" 3
mkdir -p -- "$dir" || die "cannot create $dir: install elsewhere with --dir DIR" 3
# Copied beside its final place, then renamed: a running devport is never overwritten in place.
cp -- "$tmp/$top/$exe" "$dir/.$exe.install-$$" || die "cannot write into $dir: install elsewhere with --dir DIR" 3
chmod 755 -- "$dir/.$exe.install-$$"
mv -f -- "$dir/.$exe.install-$$" "$dir/$exe" || {
  rm -f -- "$dir/.$exe.install-$$"
  die "cannot write $dir/$exe: install elsewhere with --dir DIR" 3
}
say "installed $("$dir/$exe" --version 2>/dev/null || echo devport) as $dir/$exe"
case ":${PATH:-}:" in
*":$dir:"*) ;;
*) say "$dir is not on your PATH: add it, e.g. export PATH=\"$dir:\$PATH\"" ;;
esac
say "completions and man pages: devport completions --help, devport man --help"

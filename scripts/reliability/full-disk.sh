#!/usr/bin/env bash
# A full disk (issue 18, item 4): a library add on a 24 MiB tmpfs runs out of space while writing the task's
# statistics. It must fail with an error naming the file and "No space left on device", leave no partial file
# (no *.tmp, no CURRENT), and once the tmpfs is grown, `--resume` must end with the same evaluation as an add on an
# ordinary disk. Needs root (mount). Everything it mounts is unmounted on exit.
#
#   scripts/reliability/full-disk.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
cargo build --release --quiet
l2r="$repo/target/release/l2r"
export L2R_ASSETS=${L2R_ASSETS:-$repo/assets}
work=$(mktemp -d /tmp/l2r-full-disk.XXXXXX)
small="$work/small"
cleanup() {
  mountpoint -q "$small" && umount "$small"
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
printf 'text,label\n' > weather.csv
for i in $(seq 12); do
  printf 'The sky is clear and bright on day %d,sunny\nHeavy rain keeps falling since day %d,rainy\n' "$i" "$i" >> weather.csv
done
printf 'max_len = 32\n[module]\ntype = "adapter"\nsize = 8\n[train]\nepochs = 2\nbatch_size = 8\n[memory]\nper_class = 2\n[router]\nepochs = 2\n' > library.toml

"$l2r" library init reference --config library.toml --quiet
"$l2r" library add reference --name weather --data weather.csv --quiet > /dev/null

mkdir -p "$small"
mount -t tmpfs -o size=24m tmpfs "$small"
"$l2r" library init "$small/lib" --config library.toml --quiet
if "$l2r" library add "$small/lib" --name weather --data weather.csv --quiet > /dev/null 2> error.txt; then
  echo "FAIL: the add succeeded on a full disk" >&2; exit 1
fi
cat error.txt
grep -q "No space left on device" error.txt || { echo "FAIL: the error does not say the disk is full" >&2; exit 1; }
grep -q "$small/lib/" error.txt || { echo "FAIL: the error does not name the file" >&2; exit 1; }
leftovers=$(find "$small" -name '*.tmp')
[ -z "$leftovers" ] || { echo "FAIL: partial files left: $leftovers" >&2; exit 1; }
[ ! -e "$small/lib/CURRENT" ] || { echo "FAIL: a generation was published" >&2; exit 1; }

mount -o remount,size=512m "$small"
"$l2r" library add "$small/lib" --name weather --data weather.csv --resume --quiet > /dev/null
cmp reference/generations/000001/evaluation.json "$small/lib/generations/000001/evaluation.json" \
  || { echo "FAIL: the resumed add ends elsewhere" >&2; exit 1; }
echo "full disk: a clear error naming the file, no partial file, and --resume ends where an uninterrupted add does"

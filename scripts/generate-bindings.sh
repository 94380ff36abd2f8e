#!/usr/bin/env bash
# Regenerates bindings/java (FFTW single precision and the oneDNN C API) with jextract.
#
# Recorded versions of the committed output:
#   jextract   "jextract 23", openjdk/jextract commit f9866df3a178baa2e4a3746a7a6e458d783ace92,
#              running on JDK 25.0.3+9 with libclang 14.0.6 (Debian)
#   fftw3.h    FFTW 3.3.10 (Debian package libfftw3-dev 3.3.10-1); the library we load is the
#              FFTW 3.3.10 build in org.bytedeco:fftw:3.3.10-1.5.10:linux-x86_64
#   dnnl.h     oneDNN 3.8.1, the headers inside org.bytedeco:dnnl:3.8.1-1.5.12:linux-x86_64
#
# Needs: jextract on the PATH (or JEXTRACT=/path/to/jextract); FFTW_INCLUDE, a directory with
# fftw3.h (default /usr/include); the dnnl carrier jar in the local Maven repository (any build
# of this project downloads it) or DNNL_INCLUDE pointing at oneDNN's include directory.
#
# The symbol lists are bindings/fftw3f.symbols and bindings/dnnl.symbols (jextract @argfiles):
# only what the library uses. Edit those, then re-run this script.
#
# The one patch step: jextract's header classes open their symbols through
# SymbolLookup.loaderLookup(); we point SYMBOL_LOOKUP at io.vidkv.nativelib.NativeLibraries,
# which extracts the bundled libraries and opens them with SymbolLookup.libraryLookup. The
# generated code is otherwise untouched.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
JEXTRACT="${JEXTRACT:-jextract}"
FFTW_INCLUDE="${FFTW_INCLUDE:-/usr/include}"
OUT="$ROOT/bindings/java"

command -v "$JEXTRACT" >/dev/null || { echo "jextract not found (PATH or JEXTRACT=...)" >&2; exit 1; }
[[ -f "$FFTW_INCLUDE/fftw3.h" ]] || { echo "fftw3.h not found in FFTW_INCLUDE=$FFTW_INCLUDE" >&2; exit 1; }

if [[ -z "${DNNL_INCLUDE:-}" ]]; then
  jar="$HOME/.m2/repository/org/bytedeco/dnnl/3.8.1-1.5.12/dnnl-3.8.1-1.5.12-linux-x86_64.jar"
  [[ -f "$jar" ]] || { echo "missing $jar: run ./mvnw -q compile once, or set DNNL_INCLUDE" >&2; exit 1; }
  tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && unzip -q "$jar" 'org/bytedeco/dnnl/linux-x86_64/include/*')
  DNNL_INCLUDE="$tmp/org/bytedeco/dnnl/linux-x86_64/include"
fi

rm -rf "$OUT/io/vidkv/bindings"
mkdir -p "$OUT"

"$JEXTRACT" --output "$OUT" -t io.vidkv.bindings.fftw --header-class-name Fftw3f \
  @"$ROOT/bindings/fftw3f.symbols" "$FFTW_INCLUDE/fftw3.h"

"$JEXTRACT" --output "$OUT" -t io.vidkv.bindings.dnnl --header-class-name Dnnl_h \
  -I "$DNNL_INCLUDE" @"$ROOT/bindings/dnnl.symbols" "$DNNL_INCLUDE/oneapi/dnnl/dnnl.h"

# Patch: route symbol lookup through the project's loader (see header comment).
patch_lookup() { # $1 = package dir, $2 = NativeLibraries method
  local n=0
  while IFS= read -r f; do
    perl -0pi -e 's/static final SymbolLookup SYMBOL_LOOKUP\s*=\s*SymbolLookup\.loaderLookup\(\)\s*\.or\(Linker\.nativeLinker\(\)\.defaultLookup\(\)\);/static final SymbolLookup SYMBOL_LOOKUP = io.vidkv.nativelib.NativeLibraries.'"$2"'();/s' "$f"
    grep -q "NativeLibraries.$2()" "$f" && n=$((n+1))
  done < <(grep -l "SYMBOL_LOOKUP =" "$1"/*.java)
  [[ $n -ge 1 ]] || { echo "patch step found no SYMBOL_LOOKUP in $1: jextract output changed" >&2; exit 1; }
}
patch_lookup "$OUT/io/vidkv/bindings/fftw" fftw3f
patch_lookup "$OUT/io/vidkv/bindings/dnnl" dnnl

echo "generated: $(find "$OUT" -name '*.java' | wc -l) files under $OUT"

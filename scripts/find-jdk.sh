# Sourced by the scripts and .ci/run: exports JAVA_HOME pointing at a JDK >= 25.
# Order: $JAVA_HOME if it is >= 25, then `java` on the PATH, then /usr/lib/jvm/*.
_vidkv_jdk_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
_vidkv_pick_jdk() {
  local c
  for c in "${JAVA_HOME:-}" "$(dirname "$(dirname "$(readlink -f "$(command -v java 2>/dev/null || echo /nonexistent)")")")" /usr/lib/jvm/*; do
    [[ -n "$c" && -x "$c/bin/java" && -x "$c/bin/javac" ]] || continue
    local v; v=$(_vidkv_jdk_major "$c")
    if [[ -n "$v" && "$v" -ge 25 ]]; then echo "$c"; return 0; fi
  done
  return 1
}
if ! JAVA_HOME=$(_vidkv_pick_jdk); then
  echo "vidkv needs a JDK 25 or newer: set JAVA_HOME (none found in JAVA_HOME, PATH or /usr/lib/jvm)" >&2
  exit 1
fi
export JAVA_HOME
export PATH="$JAVA_HOME/bin:$PATH"

#!/usr/bin/env bash
# Seeds the fuzz corpora (fuzz/corpus/<target>/) from testdata/ and rules/.
# Idempotent: files are named by content hash. Run from anywhere.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
corpus="$here/corpus"

# put TARGET [PREFIX_BYTE_OCTAL] < data : one corpus entry named by its hash.
put() {
    local target=$1 prefix=${2:-} tmp
    mkdir -p "$corpus/$target"
    tmp=$(mktemp)
    { if [ -n "$prefix" ]; then printf "\\$prefix"; fi; cat; } >"$tmp"
    mv "$tmp" "$corpus/$target/$(sha1sum "$tmp" | cut -c1-16)"
}

# auditd: whole logs for event assembly, single lines for the line parser.
n=0
while IFS= read -r -d '' f; do
    put auditd_events <"$f"
    while IFS= read -r line; do
        [ -n "$line" ] || continue
        printf '%s' "$line" | put auditd_line
        n=$((n + 1))
    done < <(head -c 65536 "$f")
done < <(find "$root/testdata/auditd" "$root/testdata/e2e" -type f \( -name '*.log' -o -name '*.txt' \) -print0)

# JSON shapes (Sysmon exports, ECS, macOS): first byte is the target's knob
# (0x80: 1 MiB document cap, 1-byte reader buffer steps).
while IFS= read -r -d '' f; do
    head -c 65536 "$f" | put json 200
    head -c 65536 "$f" | put json 203
done < <(find "$root/testdata/sysmon/json" "$root/testdata/macos" "$root/testdata/rules" -type f \
    \( -name '*.json' -o -name '*.jsonl' -o -name '*.ndjson' \) -print0)

# EVTX files (max_len must allow them: ci.sh passes -max_len=131072).
while IFS= read -r -d '' f; do
    put evtx <"$f"
done < <(find "$root/testdata/sysmon/evtx" -type f -name '*.evtx' -print0)

# macOS `log` output in both styles, and eslogger lines.
while IFS= read -r -d '' f; do
    head -c 65536 "$f" | put macos_unifiedlog
done < <(find "$root/testdata/macos" -type f \( -name '*.txt' -o -name '*.ndjson' -o -name '*.json' -o -name '*.jsonl' \) -print0)

# Sigma rule files: the shipped pack, test rules, the Sigma corpus sample.
while IFS= read -r -d '' f; do
    put sigma_load <"$f"
done < <(find "$root/rules" "$root/testdata/rules" "$root/testdata/sigma-corpus" -type f -name '*.yml' \
    ! -name '*.cases.yml' -print0)

# EQL queries, and one Elastic TOML rule around a query.
while IFS= read -r -d '' f; do
    put eql <"$f"
done < <(find "$root/testdata/eql" -type f -name '*.eql' -print0)
put eql <<'TOML'
[metadata]
creation_date = "2024/01/01"
maturity = "production"

[rule]
rule_id = "seed"
name = "seed"
type = "eql"
language = "eql"
severity = "high"
risk_score = 73
query = '''
sequence by host.id with maxspan=1m
  [process where event.type == "start" and process.name : ("curl", "wget")]
  [network where destination.ip == "169.254.169.254"]
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[rule.threat.tactic]
id = "TA0006"
name = "Credential Access"
reference = "https://attack.mitre.org/tactics/TA0006/"
TOML

# engine: Arbitrary input; libFuzzer builds its corpus from scratch.
mkdir -p "$corpus/engine"
for t in "$corpus"/*/; do
    printf '%-18s %s entries\n' "$(basename "$t")" "$(find "$t" -type f | wc -l)"
done

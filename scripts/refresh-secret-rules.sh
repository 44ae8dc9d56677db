#!/usr/bin/env bash
# Refreshes crates/scrub/rules/noseyparker.json, the provider-credential rules the scrubber
# vendors from Nosey Parker (Apache-2.0, https://github.com/praetorian-inc/noseyparker).
#
#   scripts/refresh-secret-rules.sh [GIT_DIR_OR_CHECKOUT] [COMMIT]
#
# Without an argument it clones the upstream repository into a temporary folder. The rules of
# its `default` ruleset are converted from YAML to one JSON file (id, name, pattern, examples,
# negative_examples, categories) with the upstream commit recorded, and LICENSE/NOTICE are
# copied next to it. Needs git and python3 with PyYAML. Afterwards run
# `cargo test -p jcdiag-scrub vendored` : a rule that no longer compiles or no longer passes its
# own examples must go on the exclusion list in crates/scrub/src/provider.rs, with its reason.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/crates/scrub/rules"
src=${1:-}
rev=${2:-HEAD}
if [[ -z $src ]]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    git clone --quiet --bare https://github.com/praetorian-inc/noseyparker "$tmp/np.git"
    src="$tmp/np.git"
fi
git_dir=$(git -C "$src" rev-parse --absolute-git-dir)
commit=$(git --git-dir="$git_dir" rev-parse "$rev^{commit}")
base=crates/noseyparker/data/default/builtin
show() { git --git-dir="$git_dir" show "$commit:$1"; }

mkdir -p "$out"
show LICENSE >"$out/LICENSE-noseyparker"
show NOTICE >"$out/NOTICE-noseyparker"
files=$(git --git-dir="$git_dir" ls-tree --name-only "$commit" "$base/rules/" | grep '\.yml$')
{
    show "$base/rulesets/default.yml"
    echo '---'
    for f in $files; do show "$f"; echo '---'; done
} | COMMIT="$commit" python3 -c '
import json, os, re, sys, yaml
# Vectorscan-style comments `(?# ...)`, which the regex crate rejects, are stripped (as Nosey
# Parker itself does before compiling with the regex crate).
comment = re.compile(r"\(\?#[^)]*\)")
docs = [d for d in yaml.safe_load_all(sys.stdin) if d]
ruleset = next(r for r in docs[0]["rulesets"] if r["id"] == "default")
wanted = ruleset["include_rule_ids"]
by_id = {r["id"]: r for d in docs[1:] for r in d.get("rules", [])}
missing = [i for i in wanted if i not in by_id]
if missing:
    sys.exit(f"default ruleset names unknown rules: {missing}")
rules = []
for rid in wanted:
    r = by_id[rid]
    rules.append({
        "id": rid,
        "name": r["name"],
        "pattern": comment.sub("", r["pattern"]),
        "examples": r.get("examples") or [],
        "negative_examples": r.get("negative_examples") or [],
        "categories": r.get("categories") or [],
    })
doc = {
    "source": "https://github.com/praetorian-inc/noseyparker",
    "license": "Apache-2.0 (LICENSE-noseyparker, NOTICE-noseyparker)",
    "commit": os.environ["COMMIT"],
    "ruleset": "default",
    "rules": rules,
}
json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
print()
' >"$out/noseyparker.json"
echo "wrote $(python3 -c 'import json,sys;print(len(json.load(open(sys.argv[1]))["rules"]))' "$out/noseyparker.json") rules from $commit to $out/noseyparker.json"

#!/usr/bin/env bash
# Refreshes vendor/caniemail/caniemail.json (the HTML check's data) from the caniemail npm package's data/caniemail.json
# (MIT, © Avi Goldman, Andrew Powell; vendor/caniemail/LICENSE). The caniemail site is out of CI's reach; the npm registry
# is not. Only `npm pack`: the package itself is not a dependency (2.x needs Node 22). Keeps the fields the check reads.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent caniemail@latest >/dev/null && tar xzf caniemail-*.tgz)
cp "$tmp/package/LICENSE" vendor/caniemail/LICENSE
node -e '
const fs = require("node:fs");
const d = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
const keep = ["slug", "title", "description", "url", "category", "last_test_date", "stats", "notes_by_num"];
const data = d.data.map((x) => Object.fromEntries(keep.map((k) => [k, x[k] ?? null])));
fs.writeFileSync("vendor/caniemail/caniemail.json", JSON.stringify({ api_version: d.api_version, last_update_date: d.last_update_date, nicenames: d.nicenames, data }));
console.log(`vendor/caniemail/caniemail.json: ${data.length} features, last updated ${d.last_update_date}`);
' "$tmp/package/data/caniemail.json"

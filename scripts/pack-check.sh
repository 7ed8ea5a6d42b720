#!/usr/bin/env bash
# The package as a user gets it: `npm pack`, the tarball installed into an empty folder, then
#   npx mailwire --version            answers with package.json's version;
#   npx mailwire server               (node_modules/.bin/mailwire, with the default SQLite store, so the native module
#                                     too) serves SMTP (a message sent with `npx mailwire send`), the API (that message
#                                     listed), the web UI (its page and script) and MCP at /mcp, on free ports;
#   import 'mailwire', 'mailwire/client'   runs under node, and type-checks with tsc (strict, NodeNext);
#   import 'mailwire', 'mailwire/expect'   works without the optional peer dependencies (@playwright/test, vitest, jest).
# It needs the npm registry (the package's dependencies, typescript and @types/node for the type check), so .ci/run
# runs it beside README's test command rather than inside it. Leaves nothing behind: the folder and the server go.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
work=$(mktemp -d "${TMPDIR:-/tmp}/mailwire-pack-check.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "pack-check: $*"; }
fail() { echo "pack-check: FAILED: $*" >&2; [ -f "$work/server.log" ] && sed 's/^/  server: /' "$work/server.log" >&2; exit 1; }

version=$(node -p 'require("./package.json").version')
step "npm pack (builds through prepare)"
tarball=$(npm pack --silent --pack-destination "$work" | tail -n 1)
[ -f "$work/$tarball" ] || fail "npm pack made no tarball"
tar -tzf "$work/$tarball" > "$work/contents"
for f in package/LICENSE package/dist/ui/index.html package/dist/src/index.js package/dist/src/index.d.ts package/dist/src/cli/main.js package/bin/mailwire.js; do
  grep -qx "$f" "$work/contents" || fail "$f is not in $tarball"
done
if grep -q '^package/\(dist/test\|src\|test\)/' "$work/contents"; then fail "$tarball holds tests or sources"; fi

app="$work/app"
mkdir "$app"
cd "$app"
echo '{ "name": "pack-check-app", "private": true, "type": "module" }' > package.json
step "npm install $tarball typescript@~5.9 @types/node@20 (into an empty folder)"
npm install --silent --no-audit --no-fund "$work/$tarball" typescript@~5.9 @types/node@20 >/dev/null

got=$(npx --no-install mailwire --version)
[ "$got" = "$version" ] || fail "mailwire --version said '$got', not '$version'"
step "mailwire --version: $got"

# The bin npx runs, started directly so that $! is the server itself (npm exec would stand between it and the signal).
./node_modules/.bin/mailwire server --dialect smtp --port 0 --http-port 0 --data-dir "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do grep -q 'HTTP API on' "$work/server.log" && break; kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
smtp_port=$(sed -n 's/.*SMTP server listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/server.log")
url=$(sed -n 's|.*web UI on \(http://127\.0\.0\.1:[0-9]*\)/.*|\1|p' "$work/server.log")
[ -n "$smtp_port" ] && [ -n "$url" ] || fail "mailwire server did not say where it listens within 30 s"
step "mailwire server: SMTP on $smtp_port, HTTP on $url"

npx --no-install mailwire send --server "127.0.0.1:$smtp_port" --from pack@check.test --to qa@check.test --subject 'pack-check' --body 'Code 246810.' \
  >"$work/send.log" 2>&1 || { cat "$work/send.log" >&2; fail "mailwire send to the installed server failed"; }
URL="$url" node --input-type=module -e '
  const url = process.env.URL;
  const get = async (path) => { const r = await fetch(url + path); if (!r.ok) throw new Error(`${path}: ${r.status}`); return r; };
  const list = await (await get("/api/v1/messages?query=subject:pack-check")).json();
  if (list.messages.length !== 1 || list.messages[0].to[0]?.address !== "qa@check.test") throw new Error(`the API lists ${JSON.stringify(list)}`);
  const page = await (await get("/")).text();
  const script = /<script[^>]+src="([^"]+)"/.exec(page)?.[1];
  if (!script) throw new Error(`the UI page has no script: ${page.slice(0, 200)}`);
  const js = await get(script);
  if (!/javascript/.test(js.headers.get("content-type") ?? "")) throw new Error(`${script} is ${js.headers.get("content-type")}`);
  const mcp = await fetch(url + "/mcp", { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "pack-check", version: "1" } } }) });
  const hello = await mcp.json();
  if (hello.result?.serverInfo?.name !== "mailwire") throw new Error(`/mcp answered ${mcp.status} ${JSON.stringify(hello)}`);
  console.log(`pack-check: SMTP stored the message, the API lists it, the UI serves / and ${script}, /mcp answers`);
' || fail "the installed server's API or UI did not answer as expected"
kill "$server_pid"
wait "$server_pid" || fail "mailwire server did not stop cleanly on SIGTERM"
server_pid=

cat > use.ts <<'TS'
import { MailwireClient, MailwireTimeoutError, startMailwire, type CaughtMessage, type Mailwire, type StartMailwireOptions } from 'mailwire';
import { sendOnce, SmtpClient, type ClientOptions } from 'mailwire/client';

const options: StartMailwireOptions = { store: 'memory' };
const mailwire: Mailwire = await startMailwire(options);
const outcome = await sendOnce({ host: mailwire.smtp.host, port: mailwire.smtp.port } satisfies ClientOptions,
  { from: 'a@check.test', to: ['b@check.test'], raw: 'Subject: typed\r\n\r\nCode 135790.\r\n' });
if (!outcome.ok) throw outcome.error;
const client = new MailwireClient(mailwire.url, { auth: { user: 'u', pass: 'p' } });
const m: CaughtMessage = await client.waitForMessage({ to: 'b@check.test', timeout: 5000 });
const codes: readonly string[] = m.codes;
if (codes[0] !== '135790' || typeof SmtpClient.open !== 'function') throw new Error(`unexpected ${JSON.stringify(m)}`);
await mailwire.close();
console.log(`pack-check: the installed library ran (${m.subject}, ${String(MailwireTimeoutError.name)})`);
TS
cat > tsconfig.json <<'JSON'
{ "compilerOptions": { "target": "ES2022", "module": "NodeNext", "moduleResolution": "NodeNext", "strict": true,
  "skipLibCheck": false, "types": ["node"], "outDir": "out" }, "files": ["use.ts"] }
JSON
step "tsc: import { … } from 'mailwire' and 'mailwire/client' type-check (strict, skipLibCheck off)"
npx --no-install tsc -p tsconfig.json || fail "the entry points do not type-check"
node out/use.js || fail "the compiled use of the library did not run"
# The test runners are optional peer dependencies: none of them was installed above, and the package works without
# them; only the entry point of a runner asks for that runner.
for peer in @playwright/test vitest jest; do
  [ ! -e "node_modules/$peer" ] || fail "npm installed the optional peer dependency $peer with mailwire"
done
node --input-type=module -e '
  const { startMailwire } = await import("mailwire");
  const { mailwireMatchers } = await import("mailwire/expect");
  if (typeof startMailwire !== "function" || typeof mailwireMatchers.toHaveLink !== "function") throw new Error("mailwire or mailwire/expect lacks its exports");
  try { await import("mailwire/playwright"); throw new Error("mailwire/playwright loaded without @playwright/test"); }
  catch (e) { if (e.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("@playwright/test")) throw e; }
  console.log("pack-check: import \"mailwire\" and \"mailwire/expect\" work without @playwright/test, vitest and jest; mailwire/playwright asks for @playwright/test");
' || fail "the package needs a test runner that is only an optional peer dependency"
step "ok ($tarball)"

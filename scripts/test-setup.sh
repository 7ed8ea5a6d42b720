#!/usr/bin/env bash
# `npm test`'s pretest: the Debian packages the tests drive, installed when missing.
#   chromium            the web UI tests (test/web/ui.test.ts) drive a real headless Chromium
#   fonts-noto-color-emoji, fonts-noto-cjk   so that emoji and CJK in its screenshots are glyphs, not boxes (~66 MB;
#                       checked with fc-list)
#   swaks               an interop peer of the smtp dialect; libnet-ssleay-perl gives it STARTTLS
#   haproxy             a real PROXY-protocol proxy in front of the server
#   python3, curl       interop peers (smtplib, curl's SMTP)
#   procps              `free`, which the scale test reads
#   spamd, rspamd       the spam check's real checkers (test/checks/spam.test.ts), installed without recommends
#                       (spamassassin would bring sa-compile and ~90 Perl packages, rspamd a redis-server)
# As root with apt-get it installs what is missing (apt-get update first); otherwise it stops at once with the command
# to run. Nothing is installed when everything is there, so a set-up machine pays only these checks.
# First it checks that PostgreSQL answers at MAILWIRE_TEST_PG_URL (three suites use it); it never installs PostgreSQL.
set -euo pipefail

# PostgreSQL (test/helpers/postgres.ts): pg_isready when there is one, else a TCP connect to host:port.
pg_url=${MAILWIRE_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
pg_answers() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -t 5 -d "$pg_url"
    return
  fi
  local hostport=${pg_url#*://}
  hostport=${hostport%%/*}
  hostport=${hostport##*@}
  local host=${hostport%:*} port=5432
  if [ "$host" != "$hostport" ]; then port=${hostport##*:}; fi
  host=${host#[}
  host=${host%]}
  (exec 3<>"/dev/tcp/${host:-127.0.0.1}/$port") 2>/dev/null
}
if ! pg_answers; then
  {
    echo "test set-up: PostgreSQL does not answer at $pg_url (three suites need it)."
    echo "Start PostgreSQL there and create the database (createdb -U postgres test), or set MAILWIRE_TEST_PG_URL to one that answers."
  } >&2
  exit 1
fi

# fc-list knows the font family (a font package may be there without fontconfig having it, and the other way round).
has_font() {
  local families
  families=$(fc-list : family 2>/dev/null) || return 1
  [[ $families == *"$1"* ]]
}
need() { # need <package> <command that succeeds when it is installed>...
  local package=$1
  shift
  "$@" >/dev/null 2>&1 || missing+=("$package")
}
check() {
  missing=()
  need chromium command -v chromium
  need fonts-noto-color-emoji has_font 'Noto Color Emoji'
  need fonts-noto-cjk has_font 'Noto Sans CJK'
  need swaks command -v swaks
  need libnet-ssleay-perl perl -MNet::SSLeay -e 1
  need haproxy command -v haproxy
  need python3 command -v python3
  need curl command -v curl
  need procps command -v free
  need spamd command -v spamd
  need rspamd command -v rspamd
  need isync command -v mbsync
  need getmail6 command -v getmail
}
# Installed with --no-install-recommends: what they recommend is large and unused here.
LEAN=' spamd rspamd isync getmail6 '
check

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

install="apt-get install -y ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test set-up: installing ${missing[*]} (Debian packages the tests drive)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  full=() lean=()
  for p in "${missing[@]}"; do if [[ $LEAN == *" $p "* ]]; then lean+=("$p"); else full+=("$p"); fi; done
  if [ ${#full[@]} -gt 0 ]; then apt-get -o DPkg::Lock::Timeout=600 install -qq -y "${full[@]}" >/dev/null; fi
  if [ ${#lean[@]} -gt 0 ]; then apt-get -o DPkg::Lock::Timeout=600 install -qq -y --no-install-recommends "${lean[@]}" >/dev/null; fi
  check
  if [ ${#missing[@]} -eq 0 ]; then echo "test set-up: done"; exit 0; fi
  echo "test set-up: still missing after apt-get install: ${missing[*]}" >&2
  exit 1
fi

{
  echo "test set-up: the tests need these Debian packages, which are missing: ${missing[*]}"
  if command -v apt-get >/dev/null 2>&1; then
    echo "Install them, then run npm test again:"
    echo "  sudo apt-get update && sudo $install"
  else
    echo "This is not a Debian-like system (no apt-get): install the same packages with its package manager."
  fi
} >&2
exit 1

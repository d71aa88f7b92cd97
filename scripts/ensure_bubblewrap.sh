#!/usr/bin/env bash
# bubblewrap (bwrap), the sandbox the grader runs students' answers in (Debian package). Installs
# it when missing and we are root; otherwise says how. Grading refuses to run without it unless
# the instructor passes --trusted (book/teaching.md).
set -euo pipefail
if command -v bwrap >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null
else
  echo "bwrap is missing: install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap," \
       "Fedora: dnf install bubblewrap) to grade submissions" >&2
fi

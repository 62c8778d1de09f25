#!/usr/bin/env bash
# Install the Debian packages qa-builder needs when they are missing: LibreOffice (headless Writer and
# its Python UNO bridge), metric-compatible and CJK fonts, poppler-utils, SoftHSM2 and OpenSC,
# and Chromium with its WebDriver for the web app's real-browser tests.
# Runs apt-get directly as root, through sudo otherwise, and says what to do when neither works.
set -euo pipefail

missing=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for pkg in libreoffice-writer-nogui python3-uno fonts-crosextra-carlito fonts-crosextra-caladea \
           fonts-liberation2 fonts-dejavu-core fonts-noto-cjk poppler-utils softhsm2 opensc openssl python3-venv \
           chromium chromium-driver; do
  if ! have_pkg "$pkg"; then
    # A full (GUI) LibreOffice Writer satisfies the headless one.
    if [[ $pkg == libreoffice-writer-nogui ]] && have_pkg libreoffice-writer; then continue; fi
    missing+=("$pkg")
  fi
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "qa-builder needs: ${missing[*]}. This is not a Debian-like system (no apt-get): install LibreOffice Writer, its Python UNO bridge, poppler-utils and SoftHSM2 with your package manager." >&2
  exit 1
fi

if [[ $(id -u) -eq 0 ]]; then
  run=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  run=(sudo)
else
  echo "qa-builder needs these Debian packages: ${missing[*]}. Run as root, or with sudo: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

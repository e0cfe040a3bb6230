#!/bin/sh
# Regenerate analyzer/report/assets/DejaVuSans-subset.ttf (the font drawn into PNG plots) from
# Debian's fonts-dejavu-core: ASCII plus the few symbols the plots use. Needs fonttools
# (pip install fonttools). The result is committed; builds do not run this.
set -eu
cd "$(dirname "$0")/.."
pyftsubset /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf \
    --unicodes="U+0020-007E,U+00B0,U+00B5,U+00D7,U+2013,U+2014,U+2026,U+2190-2193,U+2264,U+2265,U+00B1,U+2212" \
    --output-file=analyzer/report/assets/DejaVuSans-subset.ttf --no-hinting --desubroutinize

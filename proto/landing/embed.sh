#!/bin/sh
# Writes a text file as the C string literal LANDING_PAGE, one line per line
# (backslashes and quotes escaped; sed, since awk implementations disagree
# on backslashes in replacements).
echo "/* Generated from $1 by proto/landing/embed.sh: do not edit. */"
echo "#define LANDING_PAGE \\"
sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/	"/' -e 's/$/\\n" \\/' "$1"
echo '	""'

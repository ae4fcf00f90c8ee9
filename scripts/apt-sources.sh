# Sourced by scripts/wine-toolchain and scripts/wine10: what this machine's
# own apt configuration says about its Debian archive, read without changing it.

# Print one-line deb-src entries for every deb entry of this machine's apt
# sources: one-line *.list files and deb822 *.sources files alike.
derive_deb_src() {
    local f
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        sed -n 's/^[[:space:]]*deb[[:space:]]\{1,\}/deb-src /p' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk '
            function flush(   u, s, i, j, nu, ns, opt) {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && uris != "") {
                    nu = split(uris, u, " "); ns = split(suites, s, " ")
                    opt = (signed != "" && signed !~ /BEGIN/) ? "[signed-by=" signed "] " : ""
                    for (i = 1; i <= nu; i++)
                        for (j = 1; j <= ns; j++)
                            print "deb-src " opt u[i] " " s[j] " " comps
                }
                types = uris = suites = comps = signed = enabled = ""
            }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            /^[[:space:]]/   { next }   # continuation line (inline key)
            {
                key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[[:space:]]+/, "")
                if (key == "types") types = $0
                else if (key == "uris") uris = $0
                else if (key == "suites") suites = $0
                else if (key == "components") comps = $0
                else if (key == "signed-by") signed = $0
                else if (key == "enabled") enabled = tolower($0)
            }
            END { flush() }' "$f"
    done
}

# The URI of the archive that serves this machine's own release (its
# VERSION_CODENAME suite, e.g. bookworm), as the apt sources give it.
debian_archive_uri() {
    local codename
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    derive_deb_src | awk -v suite="$codename" '
        { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
        $(i + 1) == suite { print $i; exit }'
}

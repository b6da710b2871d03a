# Sourced by .ci/run: make `python3` the distribution's own interpreter for README's commands.
# README says `python3`; on a fresh Debian 12 that is /usr/bin/python3 (3.11.2). A newer one that
# comes first on PATH (pyenv, a CI image's toolchain) would hide what 3.11.2 lacks, as it once hid
# tarfile's extractall(filter=), which arrived in 3.11.4.
export PATH="/usr/bin:/bin:$PATH"
hash -r

# Called once python3 is installed: the resolved python3 must be /usr/bin/python3, from a package.
check_distro_python() {
    distro_py="$(command -v python3 || true)"
    if [ "$distro_py" != /usr/bin/python3 ]; then
        echo ".ci/run: python3 is '$distro_py', not the distribution's /usr/bin/python3" >&2
        return 1
    fi
    if command -v dpkg >/dev/null 2>&1 && ! dpkg -S "$(readlink -f "$distro_py")" >/dev/null 2>&1; then
        echo ".ci/run: $(readlink -f "$distro_py") belongs to no Debian package: not the distribution's python3" >&2
        return 1
    fi
    distro_py_version="$("$distro_py" -c 'import platform; print(platform.python_version())')"
    echo ".ci/run: README's commands run with $distro_py ($distro_py_version)"
}

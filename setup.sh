#!/usr/bin/env bash
# Create .venv (Python 3.11) and install reidflow with its pinned dependencies.
#   bash setup.sh          the workflow
#   bash setup.sh --slurm  the workflow and Snakemake's SLURM executor (for profiles/slurm)
#   bash setup.sh --clip   the workflow and open_clip (features.model: clip:<architecture>)
#   bash setup.sh --test   the workflow, the SLURM executor, open_clip and the test tools (+ Debian's chromium when root)
#   bash setup.sh --profiles   only register the profiles (below)
# Each also registers the profiles gpu and slurm where Snakemake looks profiles up by name, so that
# `snakemake --cores 8 --profile gpu` works like `--profile profiles/gpu`.
set -euo pipefail
cd "$(dirname "$0")"

# Links <Snakemake's user profile folder>/{gpu,slurm} -> profiles/{gpu,slurm}: edits of the project's
# profiles apply at once. A profile of that name that is not such a link (the user's own) is left alone.
register_profiles() {
    local dir name ours link what
    if [[ -x .venv/bin/python ]]; then  # the folder Snakemake searches (platformdirs), on every OS
        dir=$(.venv/bin/python -c 'import platformdirs; print(platformdirs.user_config_dir("snakemake", "snakemake"))')
    else
        dir="${XDG_CONFIG_HOME:-$HOME/.config}/snakemake"
    fi
    if ! mkdir -p "$dir" 2>/dev/null; then
        echo "note: cannot create $dir; profiles not registered: use --profile profiles/gpu (or profiles/slurm)"
        return 0
    fi
    for name in gpu slurm; do
        ours="$PWD/profiles/$name"
        link="$dir/$name"
        if [[ -L "$link" && "$(readlink -f "$link")" == "$(readlink -f "$ours")" ]]; then
            echo "profile $name: $link already links to $ours"
        elif [[ -e "$link" || -L "$link" ]]; then
            if [[ -L "$link" ]]; then what="a link to $(readlink "$link")"; else what="not this project's"; fi
            echo "note: profile $name: $link exists ($what); left as is, so --profile $name uses it." \
                "Here use --profile profiles/$name, or remove it and rerun: bash setup.sh --profiles"
        else
            ln -s "$ours" "$link"
            echo "profile $name: linked $link -> $ours (snakemake --profile $name)"
        fi
    done
}

if [[ "${1:-}" == "--profiles" ]]; then
    register_profiles
    exit 0
fi

python=${PYTHON:-python3}
extras=""
case "${1:-}" in
    --slurm) extras="[slurm]" ;;
    --clip) extras="[clip]" ;;  # features.model: clip:<architecture>
    --test) extras="[test,slurm,clip]" ;;  # tests/test_slurm.py runs profiles/slurm; CLIP plumbing tests
esac

if [[ ! -x .venv/bin/python ]]; then
    "$python" -m venv .venv
fi
# pip's notes about missing mirror folders are noise; real errors still fail the script.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; }
if [[ "${1:-}" == "--test" ]] && ! command -v chromium >/dev/null; then
    # The report's browser tests drive Debian's chromium (never a downloaded browser).
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
    else
        echo "note: the browser tests need Debian's chromium (sudo apt-get install chromium); they skip without it"
    fi
fi
register_profiles
echo "reidflow installed in .venv"

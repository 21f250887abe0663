# bash completion for wgmesh(8). Commands, subcommands and flags are read from the --help of
# the wgmesh being completed, so they are always the ones that program accepts.
# Installed as /usr/share/bash-completion/completions/wgmesh.

# The flags of `wgmesh WORDS... --help`: its "  --name" lines.
_wgmesh_flags() {
    "$@" --help 2>/dev/null | sed -n 's/^  \(--[a-z][a-z0-9-]*\).*/\1/p'
}

# The subcommands on the usage lines of `wgmesh COMMAND --help`
# ("wgmesh routes show|sync|flush ...", "wgmesh peer add ...").
_wgmesh_subcommands() {
    "$1" "$2" --help 2>/dev/null |
        sed -n "s/^.*wgmesh $2 \([a-z][a-z|]*\)\( .*\)\{0,1\}\$/\1/p" | tr '|' ' '
}

_wgmesh() {
    local program=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=""
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    COMPREPLY=()

    case $prev in
        --interface)
            local links
            links=$(ls /sys/class/net 2>/dev/null)
            mapfile -t COMPREPLY < <(compgen -W "$links" -- "$cur")
            return
            ;;
        --*-file | --state-dir | --binary | --root | --from | --socket | --control-socket | --userspace)
            mapfile -t COMPREPLY < <(compgen -f -- "$cur")
            return
            ;;
    esac

    # The command is the first word; a subcommand, when the command has any, the second.
    local command=${COMP_WORDS[1]:-} subcommand=""
    if ((COMP_CWORD == 1)); then
        local commands
        commands=$("$program" --help 2>/dev/null |
            sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\)  .*/\1/p')
        mapfile -t COMPREPLY < <(compgen -W "$commands --version --help" -- "$cur")
        return
    fi
    local subcommands
    subcommands=$(_wgmesh_subcommands "$program" "$command")
    if [ -n "$subcommands" ]; then
        if ((COMP_CWORD == 2)); then
            mapfile -t COMPREPLY < <(compgen -W "$subcommands --help" -- "$cur")
            return
        fi
        subcommand=${COMP_WORDS[2]}
    fi
    local flags
    flags=$(_wgmesh_flags "$program" "$command" ${subcommand:+"$subcommand"})
    mapfile -t COMPREPLY < <(compgen -W "$flags --help" -- "$cur")
}

complete -F _wgmesh wgmesh

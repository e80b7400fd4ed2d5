#!/bin/bash
# Issue 31, second core (niced, resumable as paper004-core1.sh): the moderate-contrast sets and
# Exp. 2 on the large one, the low-contrast sets and Exp. 1 on the large one, 1-H and 2-H from
# those networks, then the structure-preserving network on the moderate-contrast large set.
# The rows exp1-small and exp2-small are not trained again: they were made on 2026-12-06 before
# the state under /var/cache was lost, and no later run starts from their networks (their rows
# stand in the committed table.json, which paper004-start.sh puts back into an empty state).
#   env/long-runs/paper004-core2.sh $NH_STATE/src/<clone> >> $NH_STATE/logs/queue-core2.log 2>&1 &
cd "${1:?the code folder (a clone of main, kept under $NH_STATE/src)}" || exit 1
source env/long-runs/paper004-lib.sh
lognormal moderate || exit 1
exp 2 --experiments 2 --sizes large || exit 1
lognormal low || exit 1
exp 1 --experiments 1 --sizes large || exit 1
gen paper004-hierarchical-low --backend condensed || exit 1
exp 1H --experiments 1H || exit 1
projected 1H || exit 1
gen paper004-hierarchical-moderate --backend condensed || exit 1
exp 2H --experiments 2H || exit 1
projected 2H || exit 1
either structured 2

"""The Markdown table of the gate's mutation score (bench/mutants.sh), from cargo-mutants runs.

    python3 bench/mutants_table.py [--universe LIST] [--reasons TSV] OUTCOMES.json [MORE.json ...]

Several outcomes files are merged in order, the later result of a mutant replacing the earlier
one: a first full run, then `--iterate` runs on what it missed (after new checks, or with a wider
test scope), give each mutant its latest outcome. `--universe` (the output of `cargo mutants
--list` on the code being scored) keeps only mutants of that code: results for mutants of older
code (shifted lines) are dropped, and a mutant of the universe that no run tested is reported.
`--reasons` (tab-separated: mutant name, reason) gives each survivor its explanation.
"""
import argparse
import json
from collections import Counter

KILLED = {"CaughtMutant", "Timeout"}


def check_logs(paths):
    """A mutant counts as caught only if its log shows a test failing: a test command that cannot
    run (a wrong filter, a missing fixture) would otherwise make every mutant "caught"."""
    import os
    suspicious = []
    for path in paths:
        root = os.path.dirname(path)
        with open(path) as f:
            outcomes = json.load(f)["outcomes"]
        for o in outcomes:
            if o["summary"] != "CaughtMutant":
                continue
            log = os.path.join(root, o.get("log_path", ""))
            try:
                with open(log, errors="replace") as f:
                    text = f.read()
            except OSError:
                suspicious.append((o["scenario"]["Mutant"]["name"], "no log"))
                continue
            if "test result: FAILED" not in text and "panicked at" not in text:
                suspicious.append((o["scenario"]["Mutant"]["name"], log))
    for name, why in suspicious:
        print(f"caught without a failing test: {name} ({why})")
    if suspicious:
        print(f"{len(suspicious)} caught mutants did not fail a test: the run is not a measurement")
        return 1
    return 0


def mutant_outcomes(path):
    """(mutant name, summary) for every mutant an outcomes.json records (not the baseline)."""
    with open(path) as f:
        for o in json.load(f)["outcomes"]:
            scenario = o["scenario"]
            if scenario != "Baseline" and "Mutant" in scenario:
                yield scenario["Mutant"]["name"], o["summary"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outcomes", nargs="+", help="outcomes.json files, oldest first")
    ap.add_argument("--universe", help="`cargo mutants --list` output for the scored code")
    ap.add_argument("--reasons", help="TSV: mutant name<TAB>why it survives")
    ap.add_argument("--kills-from", action="append", default=[], metavar="OUTCOMES",
                    help="an outcomes.json whose kills stand even when a later file has the mutant "
                         "missed (the catalogue's runs, for the whole harness: the harness runs the "
                         "catalogue, so what a later catalogue kills, the harness kills too)")
    ap.add_argument("--check-logs", action="store_true",
                    help="only check that every caught mutant failed in a test (exit 1 otherwise)")
    a = ap.parse_args()
    if a.check_logs:
        raise SystemExit(check_logs(a.outcomes))

    latest = {}
    for path in a.outcomes:
        for name, summary in mutant_outcomes(path):
            latest[name] = summary
    for path in a.kills_from:
        for name, summary in mutant_outcomes(path):
            if summary in KILLED and latest.get(name) == "MissedMutant":
                latest[name] = summary

    universe = None
    if a.universe:
        with open(a.universe) as f:
            universe = [line.strip() for line in f if line.strip()]
        latest = {name: latest.get(name, "NotTested") for name in universe}

    reasons = {}
    if a.reasons:
        with open(a.reasons) as f:
            for line in f:
                if line.strip() and not line.startswith("#") and "\t" in line:
                    name, why = line.rstrip("\n").split("\t", 1)
                    reasons[name] = why

    counts = Counter(latest.values())
    viable = sum(counts[k] for k in ("CaughtMutant", "MissedMutant", "Timeout"))
    killed = sum(counts[k] for k in KILLED)
    score = f"{100 * killed / viable:.1f}%" if viable else "–"
    print("| mutants | caught | timeouts (killed) | survived | unviable | not tested | score (killed / viable) |")
    print("|---|---|---|---|---|---|---|")
    print(f'| {len(latest)} | {counts["CaughtMutant"]} | {counts["Timeout"]} | {counts["MissedMutant"]} '
          f'| {counts["Unviable"]} | {counts["NotTested"]} | {score} |')
    survivors = sorted(name for name, s in latest.items() if s == "MissedMutant")
    if survivors:
        print("\nSurvivors:\n")
        for name in survivors:
            why = reasons.get(name, "no reason recorded yet")
            print(f"- `{name}`: {why}")
    untested = sorted(name for name, s in latest.items() if s == "NotTested")
    if untested:
        print(f"\nNot tested by any run ({len(untested)}): rerun with --iterate.")


if __name__ == "__main__":
    main()

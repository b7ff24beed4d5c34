"""Prints the Markdown table of a cargo-mutants run (bench/mutants.sh): counts and survivors."""
import json
import sys
from collections import Counter

outcomes = json.load(open(sys.argv[1]))
counts = Counter()
survivors = []
for o in outcomes["outcomes"]:
    scenario = o["scenario"]
    if scenario == "Baseline":
        continue
    summary = o["summary"]
    counts[summary] += 1
    if summary == "MissedMutant":
        m = scenario["Mutant"]
        survivors.append(f'{m["file"]}:{m["span"]["start"]["line"]} {m["name"] if "name" in m else m.get("function", {}).get("function_name", "")}: replace with `{m.get("replacement", "")}`')
viable = counts["CaughtMutant"] + counts["MissedMutant"] + counts["Timeout"]
killed = counts["CaughtMutant"] + counts["Timeout"]
print("| mutants | killed | survived | timeouts | unviable | score (killed / viable) |")
print("|---|---|---|---|---|---|")
score = f"{100 * killed / viable:.1f}%" if viable else "–"
print(f'| {sum(counts.values())} | {counts["CaughtMutant"]} | {counts["MissedMutant"]} | {counts["Timeout"]} | {counts["Unviable"]} | {score} |')
if survivors:
    print("\nSurvivors:")
    for s in survivors:
        print(f"- {s}")

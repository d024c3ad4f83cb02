#!/usr/bin/env python3
"""Prints one closing line, "specs: N passed, N failed, N skipped", from a
ginkgo JSON report, so that CI logs state how many specs ran."""
import json
import sys

counts = {"passed": 0, "failed": 0, "skipped": 0}
with open(sys.argv[1]) as f:
    for suite in json.load(f):
        for spec in suite.get("SpecReports") or []:
            if spec.get("LeafNodeType") != "It":
                continue  # suite-level setup nodes are not specs
            state = spec.get("State", "")
            if state == "passed":
                counts["passed"] += 1
            elif state in ("skipped", "pending"):
                counts["skipped"] += 1
            else:
                counts["failed"] += 1
print("specs: %(passed)d passed, %(failed)d failed, %(skipped)d skipped" % counts)
sys.exit(1 if counts["failed"] or not counts["passed"] else 0)

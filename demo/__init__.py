"""`casework demo`: a whole programme year, simulated on the embedded default, with a report.

`run_demo(out, seed=, size=, force=)` plays the year and returns what happened
(read back from the database); `write_report` turns that into DIR/report.html,
`print_summary` into tables on the terminal and `print_browsing` into the way
to look around afterwards in the web app.
"""

from demo.run import DemoResult, FolderInUse, run_demo
from demo.report import write_report
from demo.summary import print_browsing, print_summary

__all__ = [
    "DemoResult",
    "FolderInUse",
    "run_demo",
    "write_report",
    "print_summary",
    "print_browsing",
]

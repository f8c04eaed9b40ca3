"""`casework demo`: a whole programme year, simulated on the embedded default, with a report.

`run_demo(out, seed=, size=, force=)` plays the year and returns what happened
(read back from the database); `write_report` turns that into DIR/report.html
and `print_summary` into tables on the terminal.
"""
from workflow.demo.run import DemoResult, FolderInUse, run_demo

__all__ = ["DemoResult", "FolderInUse", "run_demo"]

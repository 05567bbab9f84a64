import sys

from netmon.lab.cli import lab_main

raise SystemExit(lab_main(sys.argv[1:]))

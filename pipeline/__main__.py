"""`python -m pipeline ...` is the same as `cio-pipeline ...`."""

from pipeline.main import main

main()

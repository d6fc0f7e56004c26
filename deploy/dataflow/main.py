"""Flex Template entry point (FLEX_TEMPLATE_PYTHON_PY_FILE): submit the job, do not wait.

The launcher passes the template parameters and Dataflow's own options (project, region,
temp_location, setup_file, ...) as command-line flags; ``launch`` parses them exactly as
``python -m pipeline`` does, runs the preflight checks, and returns once the job is submitted.
"""

import sys

from pipeline.__main__ import launch

if __name__ == "__main__":
    sys.exit(launch())

"""`autofit run --config` in a fresh interpreter: its exit code, stderr, and whether TensorFlow was imported."""

import os
import subprocess
import sys
import textwrap

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_config_in_fresh_process(path: str) -> subprocess.CompletedProcess:
    """Runs the CLI on the config at `path`; stdout ends with NO_TF when neither TensorFlow nor TFX was imported."""
    probe = textwrap.dedent(f"""
        import sys
        from pipelines.cli import main
        code = main(["run", "--config", {str(path)!r}])
        print("TF_IMPORTED" if "tensorflow" in sys.modules or "tfx" in sys.modules else "NO_TF")
        sys.exit(code)
    """)
    return subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
